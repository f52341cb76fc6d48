/**
 * The floor of a campaign's dispatch: the service's sms.ru adapter (`adapters/sms/smsru.ts`:
 * axios, the form body, the JSON answer read into receipts) sending the campaign's messages in
 * its own process, in the service's shape (100 numbers a request, 4 requests out at a time, a
 * personalised text each), and nothing else: no audience, consent, budget, outcome lines,
 * commits or counts. `npm run bench:campaign` runs it against the same fake; what it reaches is
 * the most a campaign could reach on this machine with this adapter.
 *
 * Usage: campaignFloor.ts <fake url> <messages>. Prints `floor <sent> <cpu µs a message>`.
 */
import { SmsruSender } from '../adapters/sms/smsru.ts';
import type { SmsMessage } from '../runtime/ports.ts';

const [url, count] = process.argv.slice(2) as [string, string];
const total = Number(count);
const sender = new SmsruSender({ apiId: 'API-ID-1', url, sender: 'SMSPDS', dryRun: false });
const phoneOf = (i: number) => `+7916${String(i).padStart(7, '0')}`;

let next = 0;
let sent = 0;
const cpu = process.cpuUsage();
async function lane() {
  while (next < total) {
    const group: SmsMessage[] = [];
    for (; group.length < sender.maxBatch && next < total; next++)
      group.push({
        to: phoneOf(next),
        text: 'Гость, у нас новое меню!', // what the campaign's `{firstName}, у нас новое меню!` renders
        purpose: 'marketing',
        idempotencyKey: `floor:${next}`,
        templateId: 'campaign',
        segments: 1,
      });
    const receipts = await sender.sendMany(group, AbortSignal.timeout(10_000));
    for (const r of receipts) if (!(r instanceof Error)) sent += 1;
  }
}
await Promise.all([lane(), lane(), lane(), lane()]);
const used = process.cpuUsage(cpu);
process.stdout.write(`floor ${sent} ${((used.user + used.system) / Math.max(1, sent)).toFixed(1)}\n`);
process.exit(0);
