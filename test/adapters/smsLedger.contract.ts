/**
 * The contract of the SMS ledger, for every engine: an entry written durable is there after a
 * reopen (the intent before an SMS leaves), entries are replaced as a send moves on, and a
 * workflow's entries go when it ends — only its own.
 */
import * as assert from 'uvu/assert';
import type { LedgerEntry, SmsLedgerRows } from '../../runtime/sms/pinSender.ts';
import { contractSuite } from './contract.ts';

export interface SmsLedgerEnv {
  ledger: SmsLedgerRows;
  /** The ledger as a restarted process finds it. */
  reopen(): Promise<SmsLedgerRows>;
  close(): Promise<void>;
}

const entry = (key: string, state: LedgerEntry['state']): LedgerEntry => ({
  key,
  state,
  pinHash: state === 'sent' ? 'a1b2' : null,
  sentAt: state === 'sent' ? 1_764_410_400_000 : null,
  attempts: [],
});

export function smsLedgerContract(engine: {
  name: string;
  missing?: string | null;
  make(): Promise<SmsLedgerEnv>;
}) {
  const { s, it } = contractSuite('SmsLedger contract', engine);

  it('the intent is durable; a send moves sending → sent', async ({ env }) => {
    const id = 'ses_20261129_0000000000a1';
    await env.ledger.put(entry(`${id}:1`, 'sending'), true);
    const after = await env.reopen();
    assert.is((await after.get(`${id}:1`))?.state, 'sending');
    await after.put(entry(`${id}:1`, 'sent'), true);
    assert.equal(await after.get(`${id}:1`), entry(`${id}:1`, 'sent'));
    assert.is(await after.get(`${id}:2`), undefined);
  });

  it("a workflow's entries go when it ends, and only its own", async ({ env: { ledger } }) => {
    const a = 'ses_20261129_0000000000b1';
    const b = 'ses_20261129_0000000000b2';
    for (const key of [`${a}:1`, `${a}:2`, `${a}:3`, `${b}:1`]) await ledger.put(entry(key, 'sent'), true);
    await ledger.forget(a, 2);
    for (const key of [`${a}:1`, `${a}:2`, `${a}:3`]) assert.is(await ledger.get(key), undefined, key);
    assert.is((await ledger.get(`${b}:1`))?.state, 'sent');
  });

  s.run();
}
