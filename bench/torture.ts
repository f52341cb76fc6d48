/**
 * `npm run torture -- [seconds]` (default 60): the service as `npm start` runs it, under a mixed
 * load — tills authorizing and issuing cards, campaigns, an admin changing cards mid-window —
 * while one `terminal` token attacks (pumping through activation, hopping the `terminal` field,
 * 20 parallel starts and 10 parallel resends for one phone, guessing), and the process is
 * killed with SIGKILL and restarted at random moments. SMS go to a fake smsc.ru on 127.0.0.1
 * that deduplicates by message id, as smsc does.
 *
 * It prints, and fails (exit 1) when one does not hold:
 *  - SMS the provider received against the budgets (the day's segments; the attacking token's
 *    SMS against its hourly and daily limits; PIN SMS per phone per hour);
 *  - the most live PIN windows one phone had at once (at most 1);
 *  - acknowledged changes lost after a restart (0): every activation answered `activated` and
 *    every card change answered 200 is read back after each restart;
 *  - verifications that handed out a card blocked, expired or moved before the PIN was typed (0);
 *  - campaign messages a phone received twice (0).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { FakeSmsc } from '../test/fakes/providers/smsc.ts';
import { serverArgs, startService } from './lib.ts';
import { freePort } from '../test/process.ts';
import { countSegments } from '../runtime/sms/segments.ts';

const seconds = Number(process.argv[2] ?? process.env.TORTURE_SECONDS ?? 60);
if (!(seconds > 0)) throw new Error('usage: npm run torture -- <seconds>');

const T = {
  attacker: 'ter_attacker_0000000000000001',
  tainter: 'ter_tainter_00000000000000001',
  admin: 'adm_torture_000000000000000001',
  tills: Array.from({ length: 8 }, (_, i) => `ter_till_${i}_0000000000000000${i}`),
};
const LIMITS = {
  perPhonePerHour: 5,
  perTerminalPerHour: 120,
  activationsPerTerminalPerHour: 60,
  perTerminalPerDay: 500,
  smsPerDay: 6000,
};
const PIN_RESERVE = 0.2;
const MAX_RESENDS = 3;

// Phones by who uses them: the attacker's never overlap the tills'.
const HONEST = 300; // cards 100000… on +7916100xxxx, consenting: the campaign audience
const TAINTED = 12; // cards 200000… on +7916200xxxx: changed by the admin mid-window
const ATTACKER_CARDS = 10; // cards 300000… on +7916900xxxx
const honestPhone = (i: number) => `+7916100${String(i).padStart(4, '0')}`;
const taintPhone = (i: number) => `+7916200${String(i).padStart(4, '0')}`;
const attackerPhone = (i: number) => `+7916900${String(i).padStart(4, '0')}`;
const rnd = (n: number) => Math.floor(Math.random() * n);
const randomPhone = (prefix: string) => `${prefix}${String(rnd(1e4)).padStart(4, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A worker's pause, cut short when the run ends. */
const wakers = new Set<() => void>();
const nap = (ms: number) =>
  new Promise<void>((r) => {
    const done = () => {
      clearTimeout(timer);
      wakers.delete(done);
      r();
    };
    const timer = setTimeout(done, ms);
    wakers.add(done);
  });
const digits = (phone: string) => phone.replace(/\D/g, '');

// ---------------------------------------------------------------- the service, killed at will
const dir = mkdtempSync(join(tmpdir(), 'smspds-torture-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const smsc = await new FakeSmsc().start();
writeFileSync(
  join(dir, 'config.json'),
  JSON.stringify({
    auth: { terminalTokens: [T.attacker, T.tainter, ...T.tills], adminTokens: [T.admin] },
    sms: { providers: ['smsc'], smsc: { login: 'venue', password: 'secret', url: smsc.url } },
    otp: { resendCooldownSeconds: 0, maxResends: MAX_RESENDS },
    limits: LIMITS,
    campaigns: { quietHours: false, pinReserve: PIN_RESERVE },
  }),
);
const args = serverArgs();
let child: ChildProcess = await startService(args, dir, port);

/** Requests wait here while the service is being killed and checked. */
let gate: Promise<void> = Promise.resolve();
let running = true;
const stats = {
  requests: 0,
  refusedConnection: 0,
  statuses: new Map<string, number>(),
  restarts: 0,
  lost: [] as string[],
  handedOut: [] as string[],
  maxLive: 0,
  maxLivePhone: '',
  honestVerified: 0,
  activations: 0,
  campaigns: 0,
};
const count = (key: string) => stats.statuses.set(key, (stats.statuses.get(key) ?? 0) + 1);

interface Answer {
  status: number;
  json: any;
}
async function api(token: string, method: string, path: string, body?: unknown, what = ''): Promise<Answer> {
  await gate;
  stats.requests += 1;
  try {
    const res = await fetch(base + '/api/v1' + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const json = (await res.json().catch(() => null)) as any;
    if (what)
      count(
        `${what} ${res.status}${json?.error ? ' ' + json.error.code : ''}${json?.error?.limit ? ' ' + json.error.limit : ''}`,
      );
    return { status: res.status, json };
  } catch {
    stats.refusedConnection += 1;
    return { status: 0, json: null };
  }
}

/** The newest PIN delivered to a phone after the provider's `after`-th request. */
async function pinFor(phone: string, after: number): Promise<string | null> {
  const d = digits(phone);
  for (let i = 0; i < 40; i++) {
    const reqs = smsc.requests;
    for (let j = reqs.length - 1; j >= after; j--) {
      const f = reqs[j]!.fields;
      if (f.phones === d && /\d{6}/.test(String(f.mes))) return String(f.mes).match(/\d{6}/)![0];
    }
    await sleep(50);
  }
  return null;
}

// ---------------------------------------------------------------- what must be read back
/** Card → what an acknowledged change left on it; `null` while a change is unanswered. */
const expected = new Map<string, { state: string; phone: string } | null>();

async function seed() {
  const csv = ['number,name,phone'];
  for (let i = 0; i < HONEST; i++) csv.push(`${100000 + i},Гость ${i},${honestPhone(i)}`);
  for (let i = 0; i < TAINTED; i++) csv.push(`${200000 + i},Меченый ${i},${taintPhone(i)}`);
  for (let i = 0; i < ATTACKER_CARDS; i++) csv.push(`${300000 + i},Чужой ${i},${attackerPhone(i)}`);
  const res = await fetch(base + '/api/v1/cards/import', {
    method: 'POST',
    headers: { Authorization: `Bearer ${T.admin}`, 'Content-Type': 'text/csv' },
    body: csv.join('\n'),
  });
  if (!res.ok) throw new Error(`import: ${res.status} ${await res.text()}`);
  await api(T.admin, 'POST', '/cards/ranges', { from: '900000', to: '919999', virtual: true });
  for (let i = 0; i < HONEST; i++)
    await api(T.admin, 'POST', '/consents', { phone: honestPhone(i), marketing: true, source: 'pos' });
  for (let i = 0; i < TAINTED; i++)
    expected.set(String(200000 + i), { state: 'active', phone: taintPhone(i) });
}

// ---------------------------------------------------------------- honest tills
async function till(token: string, k: number) {
  while (running) {
    if (Math.random() < 0.25) {
      // Issue a virtual card to a new guest, confirmed by SMS.
      const phone = randomPhone(`+791630${k}`);
      const mark = smsc.requests.length;
      const a = await api(
        token,
        'POST',
        '/cards/activate',
        { fullName: 'Новый Гость', birthday: '1990-01-02', phone, terminal: `CASH${k}`, pdConsent: true },
        'till activate',
      );
      if (a.status === 201) {
        const pin = await pinFor(phone, mark);
        const card = a.json.activation.card.number as string;
        expected.set(card, null);
        const v = pin
          ? await api(
              token,
              'POST',
              `/cards/activations/${a.json.activation.id}/verify`,
              { pin },
              'till activation verify',
            )
          : { status: 0, json: null };
        if (v.status === 200) {
          expected.set(card, { state: 'active', phone });
          stats.activations += 1;
        } else if (v.status !== 0) expected.delete(card); // refused for sure: nothing to read back
      }
    } else {
      const i = k + 8 * rnd(HONEST / 8);
      const phone = honestPhone(i);
      const mark = smsc.requests.length;
      const s = await api(token, 'POST', '/auth', { phone, terminal: `CASH${k}` }, 'till auth');
      if (s.status === 201) {
        const id = s.json.session.id;
        if (Math.random() < 0.15) await api(token, 'POST', `/auth/${id}/resend`, undefined, 'till resend');
        if (Math.random() < 0.1)
          await api(token, 'POST', `/auth/${id}/cancel`, { reason: 'cashier' }, 'till cancel');
        else {
          await sleep(200 + rnd(800)); // the guest reads the code
          const pin = await pinFor(phone, mark);
          if (pin) {
            const v = await api(token, 'POST', `/auth/${id}/verify`, { pin }, 'till verify');
            if (v.status === 200) stats.honestVerified += 1;
          }
        }
      }
    }
    await nap(1500 + rnd(3000));
  }
}

// ---------------------------------------------------------------- the admin changes cards mid-window
async function tainter() {
  const changes = [
    { patch: { blocked: true }, undo: { blocked: false }, code: 'CARD_BLOCKED' },
    { patch: { expiresAt: '2020-01-31' }, undo: { expiresAt: null }, code: 'CARD_EXPIRED' },
    { patch: { phone: '+79160000000' }, undo: null, code: 'CARD_NOT_FOUND' },
  ];
  while (running) {
    const i = rnd(TAINTED);
    const number = String(200000 + i);
    const phone = taintPhone(i);
    const mark = smsc.requests.length;
    const s = await api(T.tainter, 'POST', '/auth', { phone, terminal: 'ADMIN-DESK' }, 'taint auth');
    if (s.status === 201) {
      const change = changes[rnd(changes.length)]!;
      expected.set(number, null);
      const p = await api(T.admin, 'PATCH', `/cards/${number}`, change.patch, 'taint change');
      if (p.status === 200) {
        const pin = await pinFor(phone, mark);
        if (pin) {
          const v = await api(
            T.tainter,
            'POST',
            `/auth/${s.json.session.id}/verify`,
            { pin },
            'taint verify',
          );
          if (v.status === 200) stats.handedOut.push(`${number} after ${JSON.stringify(change.patch)}`);
        }
      }
      // Put the card back as it was.
      const undo = change.undo ?? { phone };
      const u = await api(T.admin, 'PATCH', `/cards/${number}`, undo, 'taint undo');
      if (u.status === 200) expected.set(number, { state: 'active', phone });
    }
    await nap(500 + rnd(1500));
  }
}

// ---------------------------------------------------------------- one token attacks
async function attacker() {
  const attackStart = () =>
    api(T.attacker, 'POST', '/auth', { phone: attackerPhone(rnd(ATTACKER_CARDS)) }, 'attack start');
  const loops = [
    // Pumping: activate → cancel to random phones.
    async () => {
      const a = await api(
        T.attacker,
        'POST',
        '/cards/activate',
        { fullName: 'Насос', birthday: '1990-01-02', phone: randomPhone('+7916901'), pdConsent: true },
        'attack pump',
      );
      if (a.status === 201)
        await api(T.attacker, 'POST', `/cards/activations/${a.json.activation.id}/cancel`, {});
    },
    // Field hopping: a new `terminal` each time.
    async () => {
      await api(
        T.attacker,
        'POST',
        '/auth',
        { phone: attackerPhone(rnd(ATTACKER_CARDS)), terminal: `HOP${rnd(1e6)}` },
        'attack hop',
      );
    },
    // 20 parallel starts for one phone.
    async () => {
      const phone = attackerPhone(rnd(ATTACKER_CARDS));
      await Promise.all(
        Array.from({ length: 20 }, () =>
          api(T.attacker, 'POST', '/auth', { phone }, 'attack parallel start'),
        ),
      );
    },
    // 10 parallel resends.
    async () => {
      const s = await attackStart();
      if (s.status === 201)
        await Promise.all(
          Array.from({ length: 10 }, () =>
            api(T.attacker, 'POST', `/auth/${s.json.session.id}/resend`, undefined, 'attack resend'),
          ),
        );
    },
    // Guessing.
    async () => {
      const s = await attackStart();
      const id = s.json?.session?.id ?? 'ses_20261201_aaaaaaaaaaaa';
      for (let g = 0; g < 5; g++)
        await api(
          T.attacker,
          'POST',
          `/auth/${id}/verify`,
          { pin: String(rnd(1e6)).padStart(6, '0') },
          'attack guess',
        );
    },
  ];
  while (running) {
    await loops[rnd(loops.length)]!();
    await nap(50 + rnd(200));
  }
}

// ---------------------------------------------------------------- campaigns
async function campaigns() {
  let n = 0;
  while (running) {
    n += 1;
    const c = await api(
      T.admin,
      'POST',
      '/campaigns',
      {
        name: `Пытка ${n}`,
        text: `Новости ${n}: {firstName}, у нас новое меню`,
        audience: { cardPrefix: '100' },
        ratePerSecond: 50,
      },
      'campaign create',
    );
    if (c.status === 201) {
      const s = await api(
        T.admin,
        'POST',
        `/campaigns/${c.json.campaign.id}/start`,
        { override: true },
        'campaign start',
      );
      if (s.status === 200) stats.campaigns += 1;
      if (Math.random() < 0.3) {
        await sleep(1000);
        await api(T.admin, 'POST', `/campaigns/${c.json.campaign.id}/pause`, {}, 'campaign pause');
        await sleep(1000);
        await api(T.admin, 'POST', `/campaigns/${c.json.campaign.id}/resume`, {}, 'campaign resume');
      }
    }
    await nap(45_000 + rnd(30_000));
  }
}

// ---------------------------------------------------------------- watchers
/** Live PIN windows per phone, every live session and activation listed. */
async function liveWindows(): Promise<void> {
  const perPhone = new Map<string, number>();
  for (const state of ['awaitingPin', 'sendingSms']) {
    let cursor = '';
    for (let page = 0; page < 20; page++) {
      const r = await api(
        T.admin,
        'GET',
        `/sessions?state=${state}&limit=200${cursor ? `&cursor=${cursor}` : ''}`,
      );
      if (r.status !== 200) return;
      for (const s of r.json.items as Array<{ phone: string }>)
        perPhone.set(s.phone, (perPhone.get(s.phone) ?? 0) + 1);
      if (!r.json.nextCursor) break;
      cursor = r.json.nextCursor;
    }
  }
  for (const [phone, n] of perPhone)
    if (n > stats.maxLive) {
      stats.maxLive = n;
      stats.maxLivePhone = phone;
    }
}

async function watcher() {
  while (running) {
    await liveWindows();
    await nap(1000);
  }
}

/** Every acknowledged change read back. */
async function readBack(when: string) {
  for (const [number, want] of expected) {
    if (!want) continue;
    const res = await fetch(`${base}/api/v1/cards/${number}`, {
      headers: { Authorization: `Bearer ${T.admin}` },
    });
    const card = res.ok
      ? ((await res.json()) as { card: { state: string; holder?: { phone?: string } } }).card
      : null;
    if (!card || card.state !== want.state || card.holder?.phone !== want.phone)
      stats.lost.push(
        `${when}: card ${number} is ${JSON.stringify(card)}, acknowledged ${JSON.stringify(want)}`,
      );
  }
}

async function chaos() {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await sleep(Math.min(4000 + rnd(12_000), Math.max(0, end - Date.now())));
    if (Date.now() >= end) break;
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode ? r(null) : child.once('exit', r)));
    await sleep(300); // requests in flight fail now
    child = await startService(args, dir, port);
    stats.restarts += 1;
    await readBack(`restart ${stats.restarts}`);
    open();
    process.stdout.write(
      `\r${stats.restarts} restarts, ${stats.requests} requests, ${smsc.delivered().length} SMS  `,
    );
  }
}

// ---------------------------------------------------------------- run
const started = Date.now();
await seed();
const work = [...T.tills.map((t, k) => till(t, k)), tainter(), attacker(), campaigns(), watcher()];
await chaos();
running = false;
wakers.forEach((wake) => wake());
await Promise.race([Promise.all(work), sleep(35_000)]);
await readBack('end');
child.kill('SIGTERM');
await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));

// ---------------------------------------------------------------- report
const delivered = smsc.delivered();
const segs = (t: string) => countSegments(t).segments;
const total = delivered.reduce((n, m) => n + segs(m.text), 0);
const attack = delivered.filter((m) => m.phone.startsWith('7916900') || m.phone.startsWith('7916901'));
const attackSegments = attack.reduce((n, m) => n + segs(m.text), 0);
const pins = delivered.filter((m) => !m.text.startsWith('Новости'));
const perPhone = new Map<string, number>();
for (const m of pins) perPhone.set(m.phone, (perPhone.get(m.phone) ?? 0) + 1);
const [busiest, busiestCount] = [...perPhone].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
const campaignTwice = new Map<string, number>();
for (const m of delivered.filter((m) => m.text.startsWith('Новости'))) {
  const key = `${m.phone}|${m.text.split(':')[0]}`;
  campaignTwice.set(key, (campaignTwice.get(key) ?? 0) + 1);
}
const twice = [...campaignTwice.values()].filter((n) => n > 1).length;
const hours = Math.max(1, Math.ceil((Date.now() - started) / 3_600_000));
const attackCap = Math.min(
  LIMITS.perTerminalPerHour * hours,
  LIMITS.perTerminalPerDay,
  LIMITS.smsPerDay - Math.ceil(LIMITS.smsPerDay * PIN_RESERVE),
);
const perPhoneCap = LIMITS.perPhonePerHour * (1 + MAX_RESENDS) * hours;

const checks: Array<[string, string, boolean]> = [
  ['SMS segments received / smsPerDay', `${total} / ${LIMITS.smsPerDay}`, total <= LIMITS.smsPerDay],
  [
    'attacking token: SMS received / its cap',
    `${attack.length} (${attackSegments} segments) / ${attackCap}`,
    attackSegments <= attackCap,
  ],
  [
    'PIN SMS to one phone, most / cap',
    `${busiestCount} (${busiest}) / ${perPhoneCap}`,
    busiestCount <= perPhoneCap,
  ],
  [
    'live PIN windows of one phone, most',
    `${stats.maxLive}${stats.maxLivePhone ? ` (${stats.maxLivePhone})` : ''}`,
    stats.maxLive <= 1,
  ],
  ['acknowledged changes lost after a restart', String(stats.lost.length), stats.lost.length === 0],
  [
    'verifications that handed out a changed card',
    String(stats.handedOut.length),
    stats.handedOut.length === 0,
  ],
  ['campaign messages a phone got twice', String(twice), twice === 0],
];
process.stdout.write(
  `\n\nSMS PDS torture: ${seconds} s, ${stats.restarts} kill -9 restarts, ${stats.requests} requests (${stats.refusedConnection} met a dead process)\n`,
);
process.stdout.write(
  `load: ${stats.honestVerified} guests authorized, ${stats.activations} cards issued, ${stats.campaigns} campaigns started; ` +
    `SMS received: ${delivered.length} (${pins.length} PIN, ${delivered.length - pins.length} campaign)\n\n`,
);
const width = Math.max(...checks.map(([k]) => k.length));
for (const [k, v, ok] of checks)
  process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'}  ${k.padEnd(width)}  ${v}\n`);
process.stdout.write('\nanswers:\n');
for (const [k, n] of [...stats.statuses].sort()) process.stdout.write(`  ${String(n).padStart(6)}  ${k}\n`);
for (const line of [...stats.lost, ...stats.handedOut].slice(0, 20)) process.stdout.write(`  ! ${line}\n`);
await smsc.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(checks.every(([, , ok]) => ok) ? 0 : 1);
