/** Runs the SmsSender contract against every provider adapter and its fake. */
import * as assert from 'uvu/assert';
import { suite } from 'uvu';
import { SmscSender, smscId } from '../../adapters/sms/smsc.ts';
import { SmsruSender } from '../../adapters/sms/smsru.ts';
import { KazinfotehSender } from '../../adapters/sms/kazinfoteh.ts';
import { FakeSmsc } from '../fakes/providers/smsc.ts';
import { FakeSmsru } from '../fakes/providers/smsru.ts';
import { FakeKazinfoteh } from '../fakes/providers/kazinfoteh.ts';
import { smsSenderContract, message } from './smsSender.contract.ts';

smsSenderContract({
  name: 'smsc',
  fake: () => new FakeSmsc(),
  sender: (fake) =>
    new SmscSender({ login: 'venue', password: 'secret', url: fake.url, sender: 'Cafe', dryRun: false }),
  errors: [
    ['error:2', 'account', '2'],
    ['error:3', 'account', '3'],
    ['error:6', 'account', '6'],
    ['error:4', 'transient', '4'],
    ['error:9', 'transient', '9'],
    ['error:7', 'permanent', '7'],
    ['error:8', 'permanent', '8'],
    ['error:1', 'account', '1'],
  ],
  checkRequest(req, msg) {
    assert.is(req.path, '/sys/send.php');
    assert.equal(
      [req.fields.login, req.fields.psw, req.fields.fmt, req.fields.charset],
      ['venue', 'secret', '3', 'utf-8'],
    );
    assert.is(req.fields.phones, '79161234567');
    assert.is(req.fields.mes, msg.text, 'UTF-8 text arrives intact');
    assert.is(Number(req.fields.id), smscId(msg.idempotencyKey), 'our key becomes smsc id');
  },
  delivered: 'delivered',
  balance: '250.80',
});

smsSenderContract({
  name: 'smsru',
  fake: () => new FakeSmsru(),
  sender: (fake) => new SmsruSender({ apiId: 'API-ID-1', url: fake.url, sender: 'Cafe', dryRun: false }),
  errors: [
    ['error:200', 'account', '200'],
    ['error:201', 'account', '201'],
    ['error:220', 'transient', '220'],
    ['error:500', 'transient', '500'],
    ['number:202', 'permanent', '202'],
    ['number:207', 'permanent', '207'],
    ['error:999', 'account', '999'],
  ],
  checkRequest(req, msg) {
    assert.equal(
      [req.method, req.path, req.fields.api_id, req.fields.json],
      ['POST', '/sms/send', 'API-ID-1', '1'],
    );
    assert.is(req.fields.to, '79161234567');
    assert.is(req.fields.msg, msg.text);
    assert.is(req.fields.test, undefined, 'not a dry run');
  },
  delivered: 'delivered',
  balance: '4122.56',
});

smsSenderContract({
  name: 'kazinfoteh',
  fake: () => new FakeKazinfoteh(),
  sender: (fake) =>
    new KazinfotehSender({
      login: 'venue',
      password: 'secret',
      url: fake.url,
      statusUrl: fake.url,
      api: 'json',
      sender: 'Cafe',
      dryRun: false,
    }),
  errors: [
    ['err', 'account', 'ERR'],
    ['http:401', 'account', '401'],
    ['http:400', 'permanent', '400'],
    ['http:429', 'transient', '429'],
  ],
  checkRequest(req, msg) {
    assert.is(req.path, '/api/sms/send');
    assert.is(req.headers.authorization, `Basic ${Buffer.from('venue:secret').toString('base64')}`);
    assert.equal([req.fields.to, req.fields.text, req.fields.from], ['79161234567', msg.text, 'Cafe']);
    assert.is(req.fields.extra_id, msg.idempotencyKey, 'our key is extra_id');
  },
  delivered: 'delivered',
});

smsSenderContract({
  name: 'kazinfoteh',
  fake: () => new FakeKazinfoteh(),
  sender: (fake) =>
    new KazinfotehSender({
      login: 'venue',
      password: 'secret',
      url: fake.url,
      statusUrl: fake.url,
      api: 'legacy',
      sender: 'Cafe',
      dryRun: false,
    }),
  errors: [['legacy:1163', 'account', '1163']],
  checkRequest(req, msg) {
    assert.equal([req.path, req.fields.action, req.fields.messagetype], ['/api', 'sendmessage', 'SMS:TEXT']);
    assert.equal([req.fields.recipient, req.fields.messagedata], ['79161234567', msg.text]);
  },
});

const Extra = suite('provider specifics');
Extra(
  'dry runs: smsc asks only the price (cost=1), sms.ru sends test=1, kazinfoteh is not called',
  async () => {
    const smsc = await new FakeSmsc().start();
    const smsru = await new FakeSmsru().start();
    const kaz = await new FakeKazinfoteh().start();
    try {
      const a = await new SmscSender({
        login: 'venue',
        password: 'secret',
        url: smsc.url,
        sender: '',
        dryRun: true,
      }).send(message, AbortSignal.timeout(2000));
      assert.is(smsc.requests[0]!.fields.cost, '1');
      assert.match(a.messageId, /^dry-/);
      assert.is(a.cost, '1.40');
      await new SmsruSender({ apiId: 'API-ID-1', url: smsru.url, sender: '', dryRun: true }).send(
        message,
        AbortSignal.timeout(2000),
      );
      assert.is(smsru.requests[0]!.fields.test, '1');
      const k = await new KazinfotehSender({
        login: 'venue',
        password: 'secret',
        url: kaz.url,
        statusUrl: kaz.url,
        api: 'json',
        sender: '',
        dryRun: true,
      }).send(message, AbortSignal.timeout(2000));
      assert.is(kaz.requests.length, 0);
      assert.match(k.messageId, /^dry-/);
    } finally {
      await Promise.all([smsc.stop(), smsru.stop(), kaz.stop()]);
    }
  },
);
Extra('sms.ru code by call: the provider gives the 4-digit code', async () => {
  const smsru = await new FakeSmsru().start();
  try {
    const { code, receipt } = await new SmsruSender({
      apiId: 'API-ID-1',
      url: smsru.url,
      sender: '',
      dryRun: false,
    }).call('+79161234567', AbortSignal.timeout(2000));
    assert.is(code, '1435');
    assert.is(receipt.provider, 'smsru-call');
    assert.is(receipt.cost, '0.4');
    assert.equal([smsru.requests[0]!.path, smsru.requests[0]!.fields.phone], ['/code/call', '79161234567']);
  } finally {
    await smsru.stop();
  }
});
Extra('smsc finds a message by our key alone: a send cut by a crash is settled, not resent', async () => {
  const smsc = await new FakeSmsc().start();
  try {
    const sender = new SmscSender({
      login: 'venue',
      password: 'secret',
      url: smsc.url,
      sender: '',
      dryRun: false,
    });
    const found = await sender.statusByKey('run_x:+79161234567', '+79161234567', AbortSignal.timeout(2000));
    assert.equal(found, { messageId: String(smscId('run_x:+79161234567')), status: 'delivered' });
    const asked = smsc.requests.at(-1)!;
    assert.equal([asked.path, asked.fields.id], ['/sys/status.php', String(smscId('run_x:+79161234567'))]);
  } finally {
    await smsc.stop();
  }
});

Extra.run();

const Many = suite('multi-recipient requests');
for (const [name, make, fakeOf, path] of [
  [
    'smsru',
    (url: string) => new SmsruSender({ apiId: 'API-ID-1', url, sender: 'Cafe', dryRun: false }),
    () => new FakeSmsru(),
    '/sms/send',
  ],
  [
    'smsc',
    (url: string) =>
      new SmscSender({ login: 'venue', password: 'secret', url, sender: 'Cafe', dryRun: false }),
    () => new FakeSmsc(),
    '/sys/send.php',
  ],
] as const) {
  Many(
    `${name}: several numbers with their own texts in one request; a refused number is its own failure`,
    async () => {
      const fake = await fakeOf().start();
      try {
        fake.refuse.add('79160000002');
        const messages = ['+79160000001', '+79160000002', '+79160000003'].map((to, i) => ({
          ...message,
          to,
          text: `Привет, гость ${i}!`,
          idempotencyKey: `run_x:${to}`,
        }));
        const results = await make(fake.url).sendMany(messages, AbortSignal.timeout(2000));
        assert.is(fake.sent(path).length, 1, 'one request');
        assert.ok(!(results[0] instanceof Error) && results[0]!.messageId);
        assert.instance(results[1], Error);
        assert.is((results[1] as unknown as { extra: { kind: string } }).extra.kind, 'permanent');
        assert.ok(!(results[2] instanceof Error));
        const body = fake.sent(path)[0]!.fields;
        if (name === 'smsru') assert.is(body['to[79160000003]'], 'Привет, гость 2!');
        else assert.match(String(body.list), /^79160000001:Привет, гость 0!\n79160000002:/);
      } finally {
        await fake.stop();
      }
    },
  );
}
Many.run();
