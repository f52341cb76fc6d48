/** The console provider: one outbox line per message key, idempotent across a restart, bounded. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleSmsSender } from '../../adapters/sms/console.ts';
import type { SmsMessage } from '../../runtime/ports.ts';
import { tempDir } from '../helpers.ts';

const Console = suite<{ dir: string }>('console SMS provider');
Console.before.each((ctx) => {
  ctx.dir = tempDir();
});
Console.after.each((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

const message = (key: string): SmsMessage => ({
  to: '+79161234567',
  text: 'Код 123456',
  purpose: 'otp',
  idempotencyKey: key,
  templateId: 'pin',
  segments: 1,
});
const lines = (dir: string) => readFileSync(join(dir, 'outbox.jsonl'), 'utf8').split('\n').filter(Boolean);

Console(
  'the same key is one message, also after a restart; the console line masks the phone',
  async ({ dir }) => {
    const printed: string[] = [];
    const first = new ConsoleSmsSender(dir, (l) => printed.push(l));
    const receipt = await first.send(message('ses_1:1'));
    assert.equal(await first.send(message('ses_1:1')), receipt);
    assert.is(lines(dir).length, 1);
    assert.is(printed.length, 1);
    assert.match(printed[0]!, /\+7 916 \*\*\*-\*\*-67/);
    const again = new ConsoleSmsSender(dir, () => undefined);
    assert.equal(await again.send(message('ses_1:1')), receipt, 'known from the outbox after a restart');
    assert.is(lines(dir).length, 1);
  },
);

Console(
  'a large outbox: only its tail is read at start, and a cut first line is skipped',
  async ({ dir }) => {
    const filler = JSON.stringify({ key: 'old', to: '+79160000000', text: 'x'.repeat(1000), receipt: {} });
    writeFileSync(join(dir, 'outbox.jsonl'), (filler + '\n').repeat(6000)); // about 6 MB
    const sender = new ConsoleSmsSender(dir, () => undefined);
    const receipt = await sender.send(message('ses_2:1'));
    const reopened = new ConsoleSmsSender(dir, () => undefined);
    assert.equal(await reopened.send(message('ses_2:1')), receipt);
    assert.is(lines(dir).length, 6001);
  },
);

Console.run();
