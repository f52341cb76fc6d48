/** sms.ru as PROVIDERS.md describes it: json=1, request-level and per-number errors with HTTP 200. */
import { FakeProvider, type FakeRequest } from './server.ts';

/** `error:N` fails the request with status_code N; `number:N` fails only the number. */
export type SmsruMode = `error:${number}` | `number:${number}`;

const TEXTS: Record<number, string> = {
  200: 'Неправильный api_id',
  201: 'Не хватает средств на лицевом счету',
  202: 'Неправильно указан номер телефона получателя, либо на него нет маршрута',
  207: 'На этот номер нельзя отправлять сообщения',
  220: 'Сервис временно недоступен, попробуйте чуть позже',
  500: 'Ошибка на сервере. Повторите запрос.',
};

export class FakeSmsru extends FakeProvider<SmsruMode> {
  private nextId = 10000000;
  deliveryCode = 103;
  /** Numbers this fake refuses (207) inside multi-number requests. */
  refuse = new Set<string>();
  /** The calling number's last digits for code-by-call. */
  callCode = '1435';

  protected answer(req: FakeRequest, mode: SmsruMode | 'ok') {
    const f = req.fields;
    const error = (code: number) => ({
      body: JSON.stringify({ status: 'ERROR', status_code: code, status_text: TEXTS[code] ?? 'Ошибка' }),
    });
    if (mode.startsWith('error:')) return error(Number(mode.slice(6)));
    if (req.method !== 'POST') return error(210);
    if (f.api_id !== 'API-ID-1') return error(200);
    switch (req.path) {
      case '/sms/send': {
        const many = Object.keys(f).filter((k) => /^to\[\d+\]$/.test(k));
        if (many.length) {
          // Per-number texts: to[79…]=text, each number with its own result.
          const sms = Object.fromEntries(
            many.map((k) => {
              const to = k.slice(3, -1);
              const refused = this.refuse.has(to);
              return [
                to,
                refused
                  ? { status: 'ERROR', status_code: 207, status_text: TEXTS[207] }
                  : { status: 'OK', status_code: 100, sms_id: `000000-${this.nextId++}` },
              ];
            }),
          );
          return { body: JSON.stringify({ status: 'OK', status_code: 100, sms, balance: 4122.56 }) };
        }
        const to = String(f.to ?? '');
        if (mode.startsWith('number:')) {
          const code = Number(mode.slice(7));
          return {
            body: JSON.stringify({
              status: 'OK',
              status_code: 100,
              sms: { [to]: { status: 'ERROR', status_code: code, status_text: TEXTS[code] ?? 'Ошибка' } },
              balance: 4122.56,
            }),
          };
        }
        const smsId = `000000-${this.nextId++}`;
        return {
          body: JSON.stringify({
            status: 'OK',
            status_code: 100,
            sms: { [to]: { status: 'OK', status_code: 100, sms_id: smsId } },
            balance: 4122.56,
          }),
        };
      }
      case '/sms/status': {
        const sms = Object.fromEntries(
          String(f.sms_id)
            .split(',')
            .map((id) => [
              id,
              {
                status: 'OK',
                status_code: this.deliveryCode,
                cost: 0.5,
                status_text: 'Сообщение доставлено',
              },
            ]),
        );
        return { body: JSON.stringify({ status: 'OK', status_code: 100, sms }) };
      }
      case '/my/balance':
        return { body: JSON.stringify({ status: 'OK', status_code: 100, balance: 4122.56 }) };
      case '/code/call':
        return {
          body: JSON.stringify({
            status: 'OK',
            code: this.callCode,
            call_id: `000000-${this.nextId++}`,
            cost: 0.4,
            balance: 4122.16,
          }),
        };
      default:
        return error(211);
    }
  }
}
