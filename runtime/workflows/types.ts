/**
 * The workflow boundary: what a workflow kind declares (its machine, its effects, what its record
 * shows) and what is stored of a live workflow. A workflow is data — a record with its machine's
 * snapshot, a version and a due time — never a process-bound object.
 */
import type { AnyStateMachine, StateValue } from 'xstate';
import type { ErrorData } from '../../machines/errors.ts';

export interface TimelineEntry {
  at: string;
  event: string;
  from: string | null;
  to: string;
  by: string;
  detail?: Record<string, unknown>;
}

/** What support and the API see of a workflow; its snapshot stays inside the store. */
/** `View`: the kind-specific fields (a type, not an interface: it must fit `Record<string, unknown>`). */
export interface WorkflowRecord<View extends Record<string, unknown> = Record<string, unknown>> {
  id: string;
  kind: string;
  state: string;
  live: boolean;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  terminal: string | null;
  phone: string | null;
  card: string | null;
  /** ISO time the PIN stops working, while one is live. */
  deadline: string | null;
  error: ErrorData | null;
  timeline: TimelineEntry[];
  /** Kind-specific fields for answers (never a PIN or its hash). */
  view: View;
}

/** A machine snapshot as data: what `transition` needs to go on from it. */
export interface SnapshotData {
  value: StateValue;
  context: object;
}

/** An effect a state started (an invocation) that has not reported back yet. */
export interface PendingEffect {
  /** Unique in its workflow: an outcome is applied only while its effect is still pending. */
  seq: number;
  /** The invocation's id (`sendPin`), which names its outcome events. */
  id: string;
  /** The effect the kind provides (`WorkflowKind.effects`). */
  src: string;
  input: unknown;
  /** The state node that started it: leaving it drops the effect. */
  node: string;
}

/** A live workflow as the store keeps it. */
export interface StoredWorkflow extends WorkflowRecord {
  /** Bumped by every write; a write names the version it read (compare-and-set). */
  version: number;
  snapshot: SnapshotData;
  effects: PendingEffect[];
  /** The last effect number given out. */
  effectSeq: number;
  /** An effect the requests wait for is running (a `busy` state). */
  busy: boolean;
  /** When the ticker must deliver EXPIRE (ms since the epoch), or null. */
  due: number | null;
}

/** What a record shows of its workflow's context. */
export interface Projection<View extends Record<string, unknown>> {
  terminal: string | null;
  phone: string | null;
  card: string | null;
  /** The absolute deadline (ms) while a `timed` state waits for it. */
  deadline: number | null;
  view: View;
}

/**
 * One kind of workflow. `Context` is its machine's context, `Input` what starts it, `View` the
 * kind-specific part of its record. The machine stays pure: its invocations are run by the host
 * from `effects`, by name.
 */
export interface WorkflowKind<
  Context extends object,
  Input extends object,
  View extends Record<string, unknown>,
> {
  kind: string;
  /** Id prefix, e.g. `act`. */
  prefix: string;
  machine: AnyStateMachine;
  /** The effect each invocation's `src` names (see `effect`): resolves with its output or rejects. */
  effects: Record<string, Effect>;
  /** The machine's input for a start: the start's input and the new workflow's id. */
  machineInput(input: Input, id: string): object;
  /** Public fields of a snapshot: what the record shows. */
  project(context: Context): Projection<View>;
  /** Last touches to a closed record before it is archived (the latest delivery statuses). */
  finalize?(record: WorkflowRecord<View>): Promise<WorkflowRecord<View>> | WorkflowRecord<View>;
  /** Called once when a workflow reaches a final state (after it is written). */
  onClosed?(record: WorkflowRecord<View>): void;
  /**
   * Leave effect completions that do not change the state out of the timeline (a campaign's
   * thousand batches would otherwise each add an entry).
   */
  quietEffects?: boolean;
}

/** A kind of any context, input and view: how the host holds several. */
export type AnyWorkflowKind = WorkflowKind<never, never, Record<string, unknown>>;

/**
 * An effect as the host runs it: the invocation's input in, its output out. `readOnly`: it
 * changes nothing anywhere (a lookup).
 */
export type Effect = ((input: unknown) => Promise<unknown>) & { readOnly?: boolean };

/** An effect from a function of its typed input (the machine's `input` mapping builds it). */
export const effect =
  <I, O>(run: (input: I) => Promise<O>): Effect =>
  (input) =>
    run(input as I);

/**
 * A lookup as an effect: it changes nothing, so the host runs it before the state that started
 * it is written, and writes the state its outcome leads to instead — a crash in between loses
 * only a request that was never answered, and a write (a round trip, on a database) is saved.
 */
export const lookup = <I, O>(run: (input: I) => Promise<O>): Effect =>
  Object.assign(effect(run), { readOnly: true });

export interface SearchFilter {
  kinds: string[];
  kind?: string;
  phone?: string;
  card?: string;
  terminal?: string;
  state?: string;
  from?: string;
  to?: string;
}
