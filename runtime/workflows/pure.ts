/**
 * XState's pure `transition` and `initialTransition`, with one inert actor scope per machine
 * instead of one per call. XState's own functions build a scope for every call, and building it
 * constructs an actor of the machine, which computes the machine's initial snapshot: a sixth of
 * the host's time went there. A scope here only collects the actions a transition returns
 * (nothing runs through it: the host runs effects and custom actions itself), and invoked
 * actors it creates stay unstarted and unregistered, so sharing it holds nothing between calls.
 */
import {
  createActor,
  type AnyActorScope,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type ExecutableActionObject,
} from 'xstate';

export interface Stepper {
  initial(input: object): [AnyMachineSnapshot, ExecutableActionObject[]];
  step(
    snapshot: AnyMachineSnapshot,
    event: { type: string; [key: string]: unknown },
  ): [AnyMachineSnapshot, ExecutableActionObject[]];
}

export function stepper(machine: AnyStateMachine): Stepper {
  const self = createActor(machine);
  let actions: ExecutableActionObject[] = [];
  const scope: AnyActorScope = {
    self,
    id: '',
    sessionId: '',
    logger: () => {},
    defer: () => {},
    emit: () => {},
    system: self.system,
    stopChild: () => {},
    actionExecutor: (action) => void actions.push(action),
  };
  const collect = (run: () => AnyMachineSnapshot): [AnyMachineSnapshot, ExecutableActionObject[]] => {
    actions = [];
    const next = run();
    const taken = actions;
    actions = [];
    return [next, taken];
  };
  return {
    initial: (input) => collect(() => machine.getInitialSnapshot(scope, input)),
    step: (snapshot, event) => collect(() => machine.transition(snapshot, event, scope)),
  };
}
