/**
 * `npm run demo` — the cashier's day in one minute: starts the service on a temporary folder
 * with the console SMS provider, makes a card range, issues a card at the till, then authorizes
 * it by SMS, printing each step as the cashier sees it. The calls are the ones the RK7 scripts
 * make (rk7/issue-card.pas, rk7/auth-sms.pas), in the same order, with key=value answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from './runtime/config.ts';
import { buildService, listen } from './compose.ts';

const TERMINAL = 'demo-terminal-token-000000';
const ADMIN = 'demo-admin-token-000000000';
const say = (who: string, text: string) => process.stdout.write(`${who.padEnd(9)} ${text}\n`);

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'smspds-demo-'));
  const sms: string[] = [];
  const service = await buildService(
    parseConfig({ dataDir: dir, auth: { terminalTokens: [TERMINAL], adminTokens: [ADMIN] } }),
    {
      logger: pino({ level: 'silent' }),
      consoleWrite: (line) => sms.push(line),
      defaultMetrics: false,
      cron: false,
    },
  );
  const { server, stop } = await listen(service, '127.0.0.1', 0);
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1`;
  const post = async (token: string, path: string, body: string) => {
    const res = await fetch(`${base}${path}?format=kv`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: 'text/plain',
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: `${body}&terminal=CASH1`,
    });
    const text = await res.text();
    const kv = Object.fromEntries(
      text
        .split('\r\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    say('  service', `${res.status} ${text.trim().split('\r\n').join('  ')}`);
    return kv;
  };
  const lastPin = () => sms.at(-1)?.match(/\d{6}/)?.[0] ?? '';
  try {
    process.stdout.write(`SMS PDS demo — service on ${base}, data in ${dir}\n\n`);
    say('admin', 'creates cards 100000–100009 (5% discount group), as PCARDS group operations do');
    await post(ADMIN, '/cards/ranges', 'from=100000&to=100009&discount=5&bonus=1');

    process.stdout.write('\n— Function key «Выдать карту» —\n');
    say(
      'cashier',
      'card 100003, «Иванов Иван», 12.03.1985, 79161234567, personal data: yes, news: yes, confirm by SMS: yes',
    );
    const a = await post(
      TERMINAL,
      '/cards/activate',
      'cardNumber=100003&fullName=%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2%20%D0%98%D0%B2%D0%B0%D0%BD&birthday=12.03.1985&phone=79161234567&pdConsent=true&marketingConsent=true&confirm=sms',
    );
    say('guest', `gets the SMS: ${sms.at(-1)?.split(': ').slice(1).join(': ')}`);
    say('screen', `«Код из СМС на ${a.phone}»`);
    say('cashier', `types ${lastPin()}`);
    const issued = await post(TERMINAL, `/cards/activations/${a.activationId}/verify`, `pin=${lastPin()}`);
    say('screen', `«Карта выдана: ${issued.card} ${issued.holder}»`);

    process.stdout.write('\n— Function key «Карта по СМС», in an open order —\n');
    say('cashier', 'types the guest’s phone 89161234567');
    const s = await post(TERMINAL, '/auth', 'phone=89161234567&channel=sms');
    say('screen', `«Код отправлен на ${s.phone}. Попыток: ${s.attemptsLeft}»`);
    say('guest', `gets the SMS: ${sms.at(-1)?.split(': ').slice(1).join(': ')}`);
    say('cashier', 'mistypes 000000');
    const wrong = await post(
      TERMINAL,
      `/auth/${s.sessionId}/verify`,
      `pin=${lastPin() === '000000' ? '111111' : '000000'}`,
    );
    say('screen', `«${wrong.message}»`);
    say('cashier', `types ${lastPin()}`);
    const ok = await post(TERMINAL, `/auth/${s.sessionId}/verify`, `pin=${lastPin()}`);
    say(
      'screen',
      `«Карта ${ok.card} применена к заказу. ${ok.holder}» — RK7.PerformMcrAlgorith hands ${ok.card} to PDS`,
    );
    process.stdout.write(
      '\nDone. The same calls, from RK7: rk7/issue-card.pas and rk7/auth-sms.pas (docs/rk7-setup.md).\n',
    );
  } finally {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
