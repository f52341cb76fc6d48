/**
 * Model-based testing of a workflow machine: `createTestModel` walks the shortest path to every
 * state the model can reach, and each path is replayed on a real actor whose effects (promise
 * actors) wait for the test to settle them. At every state the actor must agree with the model;
 * `check` adds the machine's own assertions.
 */
import * as assert from 'uvu/assert';
import { createActor, fromPromise, type AnyActorRef, type AnyStateMachine } from 'xstate';
import { createTestModel } from 'xstate/graph';
import { testable } from './testable.ts';

type Ev = { type: string; output?: unknown; error?: unknown; [k: string]: unknown };

/** The system under test: a real actor whose effects wait for the test to settle them. */
export class Sut {
  pending = new Map<
    string,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void; input: unknown }
  >();
  calls: string[] = [];
  /** What the machine's actions reported (e.g. cards released), for `check`. */
  log: string[] = [];
  actor: AnyActorRef;
  constructor(
    machine: AnyStateMachine,
    effects: string[],
    input: unknown,
    implementations: (sut: Sut) => Record<string, unknown> = () => ({}),
  ) {
    const deferred = (name: string) =>
      fromPromise(
        ({ input }) =>
          new Promise((resolve, reject) => {
            this.calls.push(name);
            this.pending.set(name, { resolve, reject, input });
          }),
      );
    const provided = machine.provide({
      ...implementations(this),
      actors: Object.fromEntries(effects.map((e) => [e, deferred(e)])),
    } as never);
    this.actor = createActor(provided, { input });
    this.actor.start();
  }
  async settle(name: string, event: Ev) {
    const effect = this.pending.get(name);
    assert.ok(effect, `the machine invoked ${name}`);
    this.pending.delete(name);
    if (event.type.startsWith('xstate.done')) effect!.resolve(event.output);
    else effect!.reject(event.error);
    await new Promise((r) => setImmediate(r));
  }
}

export interface ModelSpec {
  /** The production machine with its pure implementations (guards) for the model. */
  model: AnyStateMachine;
  effects: string[];
  input: unknown;
  eventsFor: (snapshot: { value: unknown; context: any }) => Ev[];
  /** Implementations the SUT needs besides the effects (guards, actions). */
  implementations: (sut: Sut) => Record<string, unknown>;
  check?: (sut: Sut, snapshot: { value: unknown; context: any }) => void;
}

export function modelPaths(spec: ModelSpec) {
  const testModel = createTestModel(testable(spec.model), {
    events: spec.eventsFor as never,
    input: spec.input,
  } as never);
  return testModel.getShortestPaths();
}

export function reachedStates(paths: ReturnType<typeof modelPaths>): Set<string> {
  return new Set(paths.flatMap((p) => p.steps.map((s) => String((s.state as { value: unknown }).value))));
}

/** Replay one path of the model on a fresh SUT. */
export async function replay(spec: ModelSpec, path: ReturnType<typeof modelPaths>[number]) {
  const sut = new Sut(spec.model, spec.effects, spec.input, spec.implementations);
  const send = ({ event }: { event: object }) => void sut.actor.send(event);
  const events: Record<string, unknown> = {};
  const types = new Set(path.steps.map((s) => (s.event as { type: string }).type));
  for (const type of types) {
    const m = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
    events[type] = m ? (step: { event: Ev }) => sut.settle(m[2]!, step.event) : send;
  }
  await path.test({
    events,
    states: {
      '*': (expected: { value: unknown; context: Record<string, unknown> }) => {
        const actual = sut.actor.getSnapshot();
        assert.equal(actual.value, expected.value, 'the actor is where the model is');
        assert.is(actual.context.attempts, expected.context.attempts, 'wrong-PIN count');
        assert.equal(actual.context.error, expected.context.error, 'refusal reason');
        spec.check?.(sut, actual);
      },
    },
  } as never);
}

/** An effect failure as an error carrying its code. */
export const failure = (code: string) => Object.assign(new Error(code), { code });

/**
 * What the PIN window's world can send in its two states: the effect's outcomes in
 * `sendingSms`; right, wrong and late PINs, resends too soon and in time, the deadline just
 * before and at its time, and a cancel in `awaitingPin`.
 */
export function pinWindowEvents(
  value: unknown,
  w: { pin: string; t0: number; policy: { ttlMs: number; cooldownMs: number }; sent: unknown; cancel: Ev },
): Ev[] {
  const { pin, t0, policy } = w;
  switch (value) {
    case 'sendingSms':
      return [
        { type: 'xstate.done.actor.sendPin', output: w.sent },
        { type: 'xstate.error.actor.sendPin', error: failure('SMS_FAILED') },
      ];
    case 'awaitingPin':
      return [
        { type: 'VERIFY', pin, now: t0 + 1_000, by: 'terminal:T1' },
        { type: 'VERIFY', pin: '000000', now: t0 + 1_000, by: 'terminal:T1' },
        { type: 'VERIFY', pin, now: t0 + policy.ttlMs, by: 'terminal:T1' },
        { type: 'RESEND', now: t0 + 1_000, by: 'terminal:T1' },
        { type: 'RESEND', now: t0 + policy.cooldownMs, by: 'terminal:T1' },
        { type: 'EXPIRE', now: t0 + policy.ttlMs - 1 },
        { type: 'EXPIRE', now: t0 + policy.ttlMs },
        w.cancel,
      ];
    default:
      return [];
  }
}

/** The real keyed-hash PIN check, so the model's paths depend on the PIN an event carries. */
export const pinMatchesWith =
  (vault: { matches(hash: string | null, id: string, pin: unknown): boolean }) =>
  ({ context, event }: { context: { pinHash: string | null; id: string }; event: { pin?: unknown } }) =>
    vault.matches(context.pinHash, context.id, event.pin);
