/** kazinfoteh as PROVIDERS.md describes it: the JSON API, the legacy XML API, the XML status interface. */
import { FakeProvider, type FakeRequest } from './server.ts';

/** `err`: HTTP 200 with a non-null err; `http:N`: a non-2xx answer; `legacy:N`: a legacy error code. */
export type KazMode = 'err' | `http:${number}` | `legacy:${number}` | `status:${number}`;

export class FakeKazinfoteh extends FakeProvider<KazMode> {
  private nextId = 500;
  deliveryCode = 102;

  protected answer(req: FakeRequest, mode: KazMode | 'ok') {
    if (req.path === '/api/sms/send') return this.json(req, mode);
    if (req.path === '/api' && req.method === 'POST') {
      const code = mode.startsWith('status:') ? mode.slice(7) : String(this.deliveryCode);
      const ids = [...req.body.matchAll(/sms_id="([^"]+)"/g)].map((m) => m[1]);
      return {
        type: 'text/xml',
        body: `<?xml version="1.0" encoding="utf-8"?><package><status>${ids.map((id) => `<msg sms_id="${id}">${code}</msg>`).join('')}</status></package>`,
      };
    }
    if (req.path === '/api') return this.legacy(req, mode);
    return { status: 404, body: '{}' };
  }

  private json(req: FakeRequest, mode: KazMode | 'ok') {
    const auth = Buffer.from(
      String(req.headers.authorization ?? '').replace(/^Basic /, ''),
      'base64',
    ).toString();
    if (auth !== 'venue:secret')
      return { status: 401, body: JSON.stringify({ error_code: 401, error_message: 'Unauthorized' }) };
    if (mode.startsWith('http:')) {
      const status = Number(mode.slice(5));
      return {
        status,
        body: JSON.stringify({
          error_code: status,
          error_message: status === 400 ? 'Invalid phone number' : 'Error',
        }),
      };
    }
    const f = req.fields;
    const id = this.nextId++;
    return {
      body: JSON.stringify({
        bulk_id: `b${id}`,
        message_id: String(id),
        extra_id: f.extra_id ?? null,
        to: f.to,
        sender: f.from,
        text: f.text,
        sent_at: '2026-11-29 10:00:00',
        done_at: null,
        sms_count: String(f.text).length > 70 ? '2' : '1',
        priority: 0,
        callback_data: null,
        status: mode === 'err' ? 'undelivered' : 'send',
        mnc: '01',
        err: mode === 'err' ? 'No Balans' : null,
      }),
    };
  }

  private legacy(req: FakeRequest, mode: KazMode | 'ok') {
    const f = req.fields;
    if (mode.startsWith('legacy:') || f.username !== 'venue' || f.password !== 'secret') {
      const code = mode.startsWith('legacy:') ? mode.slice(7) : '1002';
      return {
        type: 'text/xml',
        body: `<response><action>error</action><data><errorcode>${code}</errorcode><errormessage>${code === '1163' ? 'No Balans' : 'Authentication failed'}</errormessage></data></response>`,
      };
    }
    return {
      type: 'text/xml',
      body: `<response><action>sendmessage</action><data><acceptreport><statuscode>0</statuscode><statusmessage>Message accepted for delivery</statusmessage><messageid>${this.nextId++}</messageid><recipient>${f.recipient}</recipient></acceptreport></data></response>`,
    };
  }
}
