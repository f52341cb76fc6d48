/**
 * A contract suite: the same tests for every engine of a port. An engine that cannot run here
 * (no PostgreSQL server, say) has its tests registered as skipped, so the run's summary counts
 * them under "Skipped" and says why on stderr.
 */
import { suite, type Test } from 'uvu';

export function contractSuite<Env extends { close(): Promise<void> }>(
  title: string,
  engine: { name: string; missing?: string | null; make(): Promise<Env> },
): { s: Test<{ env: Env }>; it: Test<{ env: Env }> | Test<{ env: Env }>['skip'] } {
  const s = suite<{ env: Env }>(`${title}: ${engine.name}`);
  if (engine.missing) {
    process.stderr.write(`    ${title} (${engine.name}): skipped, ${engine.missing}\n`);
    return { s, it: s.skip };
  }
  s.before.each(async (ctx) => {
    ctx.env = await engine.make();
  });
  s.after.each(async (ctx) => ctx.env.close());
  return { s, it: s };
}
