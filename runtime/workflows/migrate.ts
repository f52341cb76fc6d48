/**
 * The one step that takes live workflows written by earlier versions — which kept one XState
 * actor per workflow and stored its persisted snapshot as is — into the stored-record form:
 * snapshot as data, a version, the effects still pending, the due time. It runs when the host
 * takes up a store (`WorkflowHost.restore`), once per record; afterwards no code path reads the
 * old form.
 */
import type { AnyStateMachine } from 'xstate';
import type { PendingEffect, Projection, SnapshotData, StoredWorkflow, WorkflowRecord } from './types.ts';

/** A live row as earlier versions wrote it. */
interface EarlierRow extends WorkflowRecord {
  version?: undefined;
  snapshot?: SnapshotData & {
    children?: Record<string, { src?: unknown; snapshot?: { status?: string; input?: unknown } }>;
  };
}

/** True for a row in the earlier form (no version). */
export const isEarlier = (row: StoredWorkflow | EarlierRow): row is EarlierRow =>
  typeof row.version !== 'number';

/**
 * The stored form of an earlier row: invocations that had not finished become pending effects
 * (run again on restore, as the earlier host did); `null` when the row has no snapshot to go on
 * from.
 */
export function upgrade(
  row: EarlierRow,
  machine: AnyStateMachine,
  project: (context: object) => Projection<Record<string, unknown>>,
): StoredWorkflow | null {
  const old = row.snapshot;
  if (!old) return null;
  const snapshot = machine.resolveState({ value: old.value, context: old.context });
  const effects: PendingEffect[] = [];
  for (const [id, child] of Object.entries(old.children ?? {})) {
    if (child.snapshot?.status !== 'active') continue;
    const node = snapshot._nodes.find((n) => n.invoke.some((i) => i.id === id));
    if (!node) continue;
    effects.push({
      seq: effects.length + 1,
      id,
      src: typeof child.src === 'string' ? child.src : id,
      input: child.snapshot.input,
      node: node.id,
    });
  }
  const timed = snapshot.hasTag('timed');
  const { snapshot: _old, version: _none, ...record } = row;
  return {
    ...record,
    version: 1,
    snapshot: { value: snapshot.value, context: snapshot.context },
    effects,
    effectSeq: effects.length,
    busy: snapshot.hasTag('busy'),
    due: timed ? project(snapshot.context).deadline : null,
  };
}
