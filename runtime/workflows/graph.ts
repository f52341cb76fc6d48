/**
 * A workflow machine as boxes and arrows, read from the machine definition itself (so the
 * support page's diagram can never disagree with the code): top-level states, and the events
 * that move between them.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export interface MachineGraph {
  id: string;
  initial: string;
  states: Array<{ name: string; final: boolean }>;
  edges: Array<{ from: string; to: string; event: string }>;
}

type Node = AnyStateNode;

/** The top-level state a node belongs to. */
function topOf(node: Node): string {
  let n = node;
  while (n.parent?.parent) n = n.parent;
  return n.key;
}

const label = (event: string) => event.replace(/^xstate\.(done|error)\.actor\.(.+)$/, '$2.$1');

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const root: Node = machine.root;
  const states: MachineGraph['states'] = [];
  const edges = new Map<string, MachineGraph['edges'][number]>();
  const visit = (node: Node) => {
    for (const [event, transitions] of node.transitions) {
      for (const t of transitions) {
        for (const target of t.target ?? []) {
          const from = topOf(node);
          const to = topOf(target);
          if (from === to && event.startsWith('xstate.')) continue; // inner steps of one state
          edges.set(`${from}|${to}|${label(event)}`, { from, to, event: label(event) });
        }
      }
    }
    for (const child of Object.values(node.states ?? {})) visit(child);
  };
  for (const node of Object.values(root.states)) {
    states.push({ name: node.key, final: node.type === 'final' });
    visit(node);
  }
  return {
    id: machine.id,
    initial: root.initial?.target[0]?.key ?? states[0]!.name,
    states,
    edges: [...edges.values()],
  };
}
