/**
 * Group commit for the PostgreSQL engine (`Batcher`): a call made alone goes at once, alone;
 * calls made while earlier batches run go together; a batch that fails is tried one call at a
 * time, so only the call at fault fails.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Batcher } from '../../adapters/postgres/batch.ts';

const Batch = suite('batched statements');

/** A batcher whose statement takes `ms`, recording the batches it ran. */
function recording(ms = 5, inFlight = 1) {
  const batches: number[][] = [];
  const batcher = new Batcher<number, number>(
    async (items) => {
      batches.push(items);
      await new Promise((r) => setTimeout(r, ms));
      if (items.includes(13)) throw new Error('thirteen refused');
      return items.map((i) => i * 2);
    },
    { inFlight, max: 10 },
  );
  return { batches, batcher };
}

Batch('an idle call goes at once and alone; calls made meanwhile go together, at most `max`', async () => {
  const { batches, batcher } = recording();
  assert.is(await batcher.add(1), 2);
  assert.equal(batches, [[1]]);
  const first = batcher.add(2);
  await Promise.resolve(); // the first batch leaves
  await new Promise((r) => setTimeout(r, 1));
  const rest = Array.from({ length: 15 }, (_, i) => batcher.add(20 + i));
  assert.equal(await Promise.all([first, ...rest]), [
    4,
    ...Array.from({ length: 15 }, (_, i) => 2 * (20 + i)),
  ]);
  assert.equal(
    batches.slice(1).map((b) => b.length),
    [1, 10, 5],
    'one on its way, then the fifteen queued meanwhile in batches of ten',
  );
});

Batch('calls made in one turn of the event loop leave together', async () => {
  const { batches, batcher } = recording(1, 4);
  await Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)]);
  assert.equal(batches, [[1, 2, 3]]);
});

Batch('a batch that fails is tried again a call at a time: only the call at fault fails', async () => {
  const { batches, batcher } = recording(1, 4);
  const outcomes = await Promise.allSettled([batcher.add(12), batcher.add(13), batcher.add(14)]);
  assert.equal(
    outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
    [24, 'thirteen refused', 28],
  );
  assert.equal(batches, [[12, 13, 14], [12], [13], [14]]);
});

Batch.run();
