/**
 * The contract every SMS adapter passes, run against a fake of its provider on 127.0.0.1:
 * an accepted message yields a receipt; every error family (with HTTP 200 too) is classified;
 * a 500, a hang, a trickle and a garbage answer are failures, never a success; status and
 * balance where the provider offers them.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { DeliveryStatus, SmsMessage, SmsSender } from '../../runtime/ports.ts';
import { mayHaveSent, type SmsFailureKind } from '../../runtime/sms/failure.ts';
import type { FakeProvider, FakeRequest } from '../fakes/providers/server.ts';

export interface SenderContract<F extends FakeProvider> {
  name: string;
  fake: () => F;
  sender: (fake: F) => SmsSender;
  /** Modes of the fake that are errors, with the kind they must be classified as. */
  errors: Array<[string, SmsFailureKind, string]>;
  /** What the send request must carry (credentials, phone, text, idempotency key). */
  checkRequest: (req: FakeRequest, message: SmsMessage) => void;
  delivered?: DeliveryStatus;
  balance?: string;
}

export const message: SmsMessage = {
  to: '+79161234567',
  text: 'Код: 480264. Действует 5 мин. Не сообщайте никому, кроме кассира',
  purpose: 'otp',
  idempotencyKey: 'ses_20261129_contract0000:1',
  templateId: 'pin-auth',
  segments: 1,
};

/**
 * How a send failed. `mayHaveSent` is checked here for every failure: only the provider's own
 * refusals are certain that nothing left (`certain`); no answer, a 500 or an unreadable answer
 * are not, and return it as `uncertain: true`.
 */
async function failureOf(
  p: Promise<unknown>,
  uncertain = false,
): Promise<{ kind: string; code: string } | 'success'> {
  try {
    await p;
    return 'success';
  } catch (err) {
    const e = err as { code?: string; extra?: { kind?: string; providerCode?: string } };
    assert.is(e.code, 'SMS_FAILED', 'a failure is SMS_FAILED');
    assert.is(mayHaveSent(err), uncertain, uncertain ? 'it may have sent it' : 'nothing was sent');
    return { kind: String(e.extra?.kind), code: String(e.extra?.providerCode) };
  }
}

export function smsSenderContract<F extends FakeProvider>(c: SenderContract<F>) {
  const s = suite<{ fake: F; sender: SmsSender }>(`SmsSender contract: ${c.name}`);
  s.before.each(async (ctx) => {
    ctx.fake = await c.fake().start();
    ctx.sender = c.sender(ctx.fake);
  });
  s.after.each(async (ctx) => ctx.fake.stop());

  s('an accepted message gives a receipt with the provider message id', async ({ fake, sender }) => {
    const receipt = await sender.send(message, AbortSignal.timeout(2000));
    assert.is(receipt.provider, c.name);
    assert.ok(receipt.messageId, 'message id');
    assert.ok(receipt.segments >= 1);
    assert.is(fake.requests.length, 1);
    c.checkRequest(fake.requests[0]!, message);
  });

  for (const [mode, kind, code] of c.errors) {
    s(`${mode} is a ${kind} failure (${code})`, async ({ fake, sender }) => {
      fake.queue(mode as never);
      const failure = await failureOf(sender.send(message, AbortSignal.timeout(2000)));
      assert.equal(failure, { kind, code });
    });
  }

  s('HTTP 500 is transient', async ({ fake, sender }) => {
    fake.queue('http500');
    assert.equal(await failureOf(sender.send(message, AbortSignal.timeout(2000)), true), {
      kind: 'transient',
      code: 'HTTP_500',
    });
  });

  s('a provider that never answers is a transient TIMEOUT at the deadline', async ({ fake, sender }) => {
    fake.queue('hang');
    const started = performance.now();
    assert.equal(await failureOf(sender.send(message, AbortSignal.timeout(300)), true), {
      kind: 'transient',
      code: 'TIMEOUT',
    });
    assert.ok(performance.now() - started < 2000, 'the deadline is hard');
  });

  s('an answer that trickles forever is cut at the deadline', async ({ fake, sender }) => {
    fake.queue('trickle');
    const started = performance.now();
    assert.equal(await failureOf(sender.send(message, AbortSignal.timeout(400)), true), {
      kind: 'transient',
      code: 'TIMEOUT',
    });
    assert.ok(performance.now() - started < 2000, 'an idle timeout would never fire here');
  });

  s(
    'a provider that cannot be reached is transient, and certain that nothing left',
    async ({ fake, sender }) => {
      await fake.stop(); // the port no longer listens: the connection is refused
      const failure = await failureOf(sender.send(message, AbortSignal.timeout(2000)));
      assert.equal(failure, { kind: 'transient', code: 'ECONNREFUSED' });
    },
  );

  s('a garbage answer with HTTP 200 is never a success', async ({ fake, sender }) => {
    fake.queue('garbage');
    const failure = await failureOf(sender.send(message, AbortSignal.timeout(2000)), true);
    assert.is.not(failure, 'success');
  });

  if (c.delivered) {
    s('delivery status of an accepted message', async ({ sender }) => {
      const receipt = await sender.send(message, AbortSignal.timeout(2000));
      const statuses = await sender.status!(
        [{ messageId: receipt.messageId, to: message.to }],
        AbortSignal.timeout(2000),
      );
      assert.is(statuses.get(receipt.messageId), c.delivered);
    });
  }

  if (c.balance) {
    s('balance as a decimal string', async ({ sender }) => {
      assert.is(await sender.balance!(AbortSignal.timeout(2000)), c.balance);
    });
  }

  s.run();
}
