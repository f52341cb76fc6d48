/**
 * `createTestModel` refuses machines with invocations. An invocation's `onDone`/`onError` are,
 * by XState's own definition, transitions on `xstate.done.actor.<id>` and
 * `xstate.error.actor.<id>`: this rewrites them as such, leaving every guard, action and target
 * as it is, so the model is the production machine's graph and the effects become events.
 */
import { createMachine, type AnyStateMachine } from 'xstate';

type StateConfig = {
  invoke?:
    | { id: string; onDone?: unknown; onError?: unknown }
    | Array<{ id: string; onDone?: unknown; onError?: unknown }>;
  on?: Record<string, unknown>;
  states?: Record<string, StateConfig>;
  [key: string]: unknown;
};

function rewrite(state: StateConfig): StateConfig {
  const { invoke, states, ...rest } = state;
  const on: Record<string, unknown> = { ...(state.on ?? {}) };
  for (const inv of invoke ? (Array.isArray(invoke) ? invoke : [invoke]) : []) {
    if (inv.onDone) on[`xstate.done.actor.${inv.id}`] = inv.onDone;
    if (inv.onError) on[`xstate.error.actor.${inv.id}`] = inv.onError;
  }
  return {
    ...rest,
    ...(Object.keys(on).length ? { on } : {}),
    ...(states
      ? { states: Object.fromEntries(Object.entries(states).map(([k, v]) => [k, rewrite(v)])) }
      : {}),
  };
}

export function testable<M extends AnyStateMachine>(machine: M): M {
  return createMachine(
    rewrite(machine.config as StateConfig) as never,
    machine.implementations as never,
  ) as unknown as M;
}
