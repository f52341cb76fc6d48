/**
 * Model-based test of the campaign run machine: every state is reached on a real actor whose
 * batches the test settles by hand; pause and cancel asked during a batch take effect when it
 * ends; a batch the provider refused pauses the run with its error, or waits for the provider
 * showing it; waits resume only at their time.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { campaignRunMachine } from '../../machines/campaign.ts';
import { failure, modelPaths, reachedStates, replay, Sut, type ModelSpec } from './model.ts';

const T0 = Date.parse('2026-11-26T09:00:00Z');

const spec: ModelSpec = {
  model: campaignRunMachine,
  effects: ['sendBatch'],
  input: { id: 'run_20261126_modeltest000', campaignId: 'cmp_20261126_modeltest000', startAt: null },
  eventsFor: ({ value, context }) => {
    const v = typeof value === 'string' ? value : `running.${Object.values(value as object)[0]}`;
    switch (v) {
      case 'draft':
        return [
          { type: 'SCHEDULE', at: T0 + 60_000, by: 'admin' },
          { type: 'START', now: T0, by: 'admin' },
          { type: 'CANCEL', now: T0, by: 'admin' },
        ];
      case 'scheduled':
        return [
          { type: 'EXPIRE', now: T0 + 59_999 },
          { type: 'EXPIRE', now: T0 + 60_000 },
          { type: 'CANCEL', now: T0, by: 'admin' },
        ];
      case 'running.sending':
        // The batch count grows with every batch: keep the model finite by stopping after two.
        return [
          { type: 'xstate.done.actor.sendBatch', output: { done: true, waitUntil: null } },
          { type: 'xstate.error.actor.sendBatch', error: failure('INTERNAL') },
          ...(context.batches >= 2
            ? []
            : [
                { type: 'xstate.done.actor.sendBatch', output: { done: false, waitUntil: null } },
                {
                  type: 'xstate.done.actor.sendBatch',
                  output: { done: false, waitUntil: T0 + 3_600_000, reason: 'quietHours' },
                },
                {
                  type: 'xstate.done.actor.sendBatch',
                  output: { done: false, waitUntil: null, halt: { code: 'SMS_FAILED', extra: {} } },
                },
                {
                  type: 'xstate.done.actor.sendBatch',
                  output: {
                    done: false,
                    waitUntil: T0 + 60_000,
                    reason: 'providerUnavailable',
                    halt: { code: 'SMS_FAILED', extra: {} },
                  },
                },
              ]),
          ...(context.pauseRequested || context.cancelRequested || context.batches > 1
            ? []
            : [
                { type: 'PAUSE', now: T0, by: 'admin' },
                { type: 'CANCEL', now: T0, by: 'admin' },
              ]),
        ];
      case 'running.waiting':
        return [
          { type: 'EXPIRE', now: T0 + 3_600_000 },
          { type: 'PAUSE', now: T0, by: 'admin' },
          { type: 'CANCEL', now: T0, by: 'admin' },
        ];
      case 'paused':
        return context.batches >= 2
          ? [{ type: 'CANCEL', now: T0, by: 'admin' }]
          : [
              { type: 'RESUME', now: T0, by: 'admin' },
              { type: 'CANCEL', now: T0, by: 'admin' },
            ];
      default:
        return [];
    }
  },
  implementations: () => ({}),
  check(sut, actual) {
    const value = actual.value;
    if (value === 'paused') assert.not.ok(sut.pending.has('sendBatch'), 'no batch runs while paused');
    if (typeof value === 'object' && (value as { running?: string }).running === 'sending') {
      assert.ok(sut.pending.has('sendBatch'), 'sending runs a batch');
    }
  },
};

const Campaign = suite('campaign run machine (model-based)');
const paths = modelPaths(spec);
Campaign('the model reaches every state', () => {
  const reached = reachedStates(paths);
  const flat = new Set(
    [...reached].map((s) => (s.startsWith('{') || s === '[object Object]' ? 'running' : s)),
  );
  for (const state of ['draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled', 'failed']) {
    assert.ok(flat.has(state) || [...reached].some((r) => r.includes(state)), `state ${state} is reached`);
  }
});
for (const path of paths) Campaign(path.description, () => replay(spec, path));

Campaign('pause asked during a batch waits for the batch to end', async () => {
  const sut = new Sut(campaignRunMachine, ['sendBatch'], spec.input);
  sut.actor.send({ type: 'START', now: T0, by: 'admin' });
  sut.actor.send({ type: 'PAUSE', now: T0, by: 'admin' });
  assert.equal(sut.actor.getSnapshot().value, { running: 'sending' }, 'still sending its batch');
  await sut.settle('sendBatch', {
    type: 'xstate.done.actor.sendBatch',
    output: { done: false, waitUntil: null },
  });
  assert.is(sut.actor.getSnapshot().value, 'paused');
});

Campaign('a batch the provider refused pauses the run with its error; resume clears it', async () => {
  const sut = new Sut(campaignRunMachine, ['sendBatch'], spec.input);
  sut.actor.send({ type: 'START', now: T0, by: 'admin' });
  const halt = {
    code: 'SMS_FAILED' as const,
    extra: { provider: 'smsru', reason: '201: Не хватает средств' },
  };
  await sut.settle('sendBatch', {
    type: 'xstate.done.actor.sendBatch',
    output: { done: false, waitUntil: null, halt },
  });
  assert.is(sut.actor.getSnapshot().value, 'paused');
  assert.equal(sut.actor.getSnapshot().context.error, halt);
  sut.actor.send({ type: 'RESUME', now: T0, by: 'admin' });
  assert.equal(sut.actor.getSnapshot().value, { running: 'sending' });
  assert.is(sut.actor.getSnapshot().context.error, null);
});
Campaign('a provider out of reach: the run waits showing why; the next batch clears it', async () => {
  const sut = new Sut(campaignRunMachine, ['sendBatch'], spec.input);
  sut.actor.send({ type: 'START', now: T0, by: 'admin' });
  const halt = { code: 'SMS_FAILED' as const, extra: { provider: 'smsru', reason: 'ECONNREFUSED' } };
  await sut.settle('sendBatch', {
    type: 'xstate.done.actor.sendBatch',
    output: { done: false, waitUntil: T0 + 60_000, reason: 'providerUnavailable', halt },
  });
  assert.equal(sut.actor.getSnapshot().value, { running: 'waiting' });
  assert.equal(sut.actor.getSnapshot().context.error, halt, 'shown while it waits');
  sut.actor.send({ type: 'EXPIRE', now: T0 + 60_000 });
  await sut.settle('sendBatch', {
    type: 'xstate.done.actor.sendBatch',
    output: { done: false, waitUntil: null },
  });
  assert.equal(sut.actor.getSnapshot().value, { running: 'sending' });
  assert.is(sut.actor.getSnapshot().context.error, null, 'the provider answered again');
});

Campaign.run();
