/**
 * One run of an SMS news campaign: a one-off campaign is one run; a recurring campaign makes a
 * run per firing.
 *
 *   draft → scheduled → running ⇄ paused → completed | cancelled | failed
 *   running = sending (one batch at a time) ⇄ waiting (quiet hours, throttle, daily budget)
 *
 * Pure: the batch is the named actor `sendBatch`, provided by the runtime; each batch persists
 * every recipient's outcome before it reports, so a restart resumes where the run was. Pause
 * and cancel during a batch take effect when the batch ends (within one batch). A batch that
 * reports `halt` (the provider refused whole requests: a spent balance, a blocked account) pauses
 * the run with that error, so one outage does not fail the whole audience; `RESUME` goes on.
 * A `halt` with a `waitUntil` (a provider that cannot be reached for now) waits instead, the
 * error shown meanwhile; the next batch's report replaces it.
 * Times arrive in events; the start time and the end of a wait are absolute deadlines the
 * runtime fires.
 */
import { setup, assign, fromPromise } from 'xstate';
import type { ErrorData } from './errors.ts';
import { toErrorData } from './errors.ts';

export interface CampaignRunInput {
  id: string;
  campaignId: string;
  /** When the run is scheduled to start (a one-off campaign's `schedule.at`). */
  startAt: number | null;
}

export interface CampaignRunContext extends CampaignRunInput {
  wakeAt: number | null;
  pauseRequested: boolean;
  cancelRequested: boolean;
  batches: number;
  startedAt: number | null;
  error: ErrorData | null;
}

/** What one batch reports: finished, or the time to wait until before the next batch. */
export interface BatchResult {
  done: boolean;
  waitUntil: number | null;
  /** Why the run waits (quietHours, dailyBudget, throttle), for the timeline. */
  reason?: string;
  /**
   * The provider refused whole requests: the run pauses with this error, or, with `waitUntil`,
   * waits for the provider and shows it meanwhile.
   */
  halt?: ErrorData;
}

export type CampaignRunEvent =
  | { type: 'SCHEDULE'; at: number; by: string }
  | { type: 'START'; now: number; by: string }
  | { type: 'EXPIRE'; now: number; by?: string }
  | { type: 'PAUSE'; now: number; by: string }
  | { type: 'RESUME'; now: number; by: string }
  | { type: 'CANCEL'; now: number; by: string; reason?: string };

const nowOf = (e: { now?: number }) => e.now ?? 0;

export const campaignRunMachine = setup({
  types: {
    context: {} as CampaignRunContext,
    input: {} as CampaignRunInput,
    events: {} as CampaignRunEvent,
  },
  actors: {
    sendBatch: fromPromise<BatchResult, { runId: string; batchNo: number }>(async () => {
      throw Object.assign(new Error('sendBatch is not provided'), { code: 'INTERNAL' });
    }),
  },
  guards: {
    startDue: ({ context, event }) =>
      context.startAt !== null && nowOf(event as { now?: number }) >= context.startAt,
    wakeDue: ({ context, event }) =>
      context.wakeAt !== null && nowOf(event as { now?: number }) >= context.wakeAt,
  },
}).createMachine({
  id: 'campaignRun',
  initial: 'draft',
  context: ({ input }) => ({
    ...input,
    wakeAt: null,
    pauseRequested: false,
    cancelRequested: false,
    batches: 0,
    startedAt: null,
    error: null,
  }),
  states: {
    draft: {
      tags: ['live'],
      on: {
        SCHEDULE: { target: 'scheduled', actions: assign({ startAt: ({ event }) => event.at }) },
        START: { target: 'running', actions: assign({ startedAt: ({ event }) => event.now }) },
        CANCEL: 'cancelled',
      },
    },
    scheduled: {
      tags: ['live', 'timed'],
      on: {
        EXPIRE: {
          guard: 'startDue',
          target: 'running',
          actions: assign({ startedAt: ({ event }) => event.now }),
        },
        START: { target: 'running', actions: assign({ startedAt: ({ event }) => event.now }) },
        CANCEL: 'cancelled',
      },
    },
    running: {
      tags: ['live'],
      initial: 'sending',
      states: {
        sending: {
          invoke: {
            id: 'sendBatch',
            src: 'sendBatch',
            input: ({ context }) => ({ runId: context.id, batchNo: context.batches + 1 }),
            onDone: [
              { guard: ({ context }) => context.cancelRequested, target: '#campaignRun.cancelled' },
              {
                guard: ({ event }) => event.output.done,
                target: '#campaignRun.completed',
                actions: assign({ error: null }),
              },
              {
                guard: ({ event }) => Boolean(event.output.halt) && event.output.waitUntil === null,
                target: '#campaignRun.paused',
                actions: assign({
                  batches: ({ context }) => context.batches + 1,
                  pauseRequested: false,
                  error: ({ event }) => event.output.halt ?? null,
                }),
              },
              {
                guard: ({ context }) => context.pauseRequested,
                target: '#campaignRun.paused',
                actions: assign({ batches: ({ context }) => context.batches + 1, pauseRequested: false }),
              },
              {
                guard: ({ event }) => event.output.waitUntil !== null,
                target: 'waiting',
                actions: assign({
                  batches: ({ context }) => context.batches + 1,
                  wakeAt: ({ event }) => event.output.waitUntil,
                  error: ({ event }) => event.output.halt ?? null,
                }),
              },
              {
                target: 'sending',
                reenter: true,
                actions: assign({ batches: ({ context }) => context.batches + 1, error: null }),
              },
            ],
            onError: {
              target: '#campaignRun.failed',
              actions: assign({ error: ({ event }) => toErrorData(event.error) }),
            },
          },
          on: {
            PAUSE: { actions: assign({ pauseRequested: true }) },
            CANCEL: { actions: assign({ cancelRequested: true }) },
          },
        },
        waiting: {
          tags: ['timed'],
          on: {
            EXPIRE: { guard: 'wakeDue', target: 'sending', actions: assign({ wakeAt: null }) },
            PAUSE: { target: '#campaignRun.paused', actions: assign({ wakeAt: null }) },
            CANCEL: '#campaignRun.cancelled',
          },
        },
      },
    },
    paused: {
      tags: ['live'],
      on: {
        RESUME: { target: 'running', actions: assign({ pauseRequested: false, error: null }) },
        CANCEL: 'cancelled',
      },
    },
    completed: { type: 'final' },
    cancelled: { type: 'final' },
    failed: { type: 'final' },
  },
});

export type CampaignRunMachine = typeof campaignRunMachine;
