/** smsc.ru as PROVIDERS.md describes it: fmt=3 JSON, errors with HTTP 200. */
import { FakeProvider, type FakeRequest } from './server.ts';

/** `error:N` answers smsc error code N. */
export type SmscMode = `error:${number}` | `status:${number}`;

const ERRORS: Record<number, string> = {
  1: 'ошибка в параметрах',
  2: 'неверный логин или пароль',
  3: 'недостаточно средств на счете клиента',
  4: 'IP-адрес временно заблокирован',
  5: 'неверный формат даты',
  6: 'сообщение запрещено (по тексту или по имени отправителя)',
  7: 'неверный формат номера телефона',
  8: 'сообщение на указанный номер не может быть доставлено',
  9: 'отправка более одного одинакового запроса на передачу SMS-сообщения либо более пяти одинаковых запросов на получение стоимости сообщения в течение минуты',
};

export class FakeSmsc extends FakeProvider<SmscMode> {
  private nextId = 1000;
  deliveryStatus = 1;
  /** Numbers this fake refuses (error 8) inside list requests. */
  refuse = new Set<string>();

  /**
   * Messages that reached phones: a send with a client `id` already taken is dropped (smsc keeps
   * one message per id), so a repeated request never reaches the phone twice. A request that is
   * never answered (`hang`) still delivers, as a provider that accepted and then lost the line.
   */
  delivered(): Array<{ id: string | undefined; phone: string; text: string }> {
    const seen = new Set<string>();
    const out = [];
    for (const r of this.sent('/sys/send.php')) {
      const f = r.fields;
      if (f.cost === '1') continue;
      // `phones` + `mes`, or a `list` of "phone:text" lines (campaign batches).
      const messages: Array<[string, string]> = f.list
        ? String(f.list)
            .split('\n')
            .filter(Boolean)
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)])
        : f.phones
          ? [[String(f.phones), String(f.mes)]]
          : [];
      for (const [phone, text] of messages) {
        if (f.id !== undefined) {
          const key = `${f.id}|${phone}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        if (this.refuse.has(phone)) continue;
        out.push({ id: f.id === undefined ? undefined : String(f.id), phone, text });
      }
    }
    return out;
  }

  protected answer(req: FakeRequest, mode: SmscMode | 'ok') {
    const f = req.fields;
    if (mode.startsWith('error:')) {
      const code = Number(mode.slice(6));
      return {
        body: JSON.stringify({
          error: ERRORS[code] ?? 'ошибка',
          error_code: code,
          ...([3, 6, 7, 8].includes(code) ? { id: Number(f.id ?? 0) } : {}),
        }),
      };
    }
    if (f.login !== 'venue' || f.psw !== 'secret')
      return { body: JSON.stringify({ error: ERRORS[2], error_code: 2 }) };
    switch (req.path) {
      case '/sys/send.php': {
        if (f.list) {
          // `list`: one "phone:text" line per number; op=1 gives a result per number.
          const id = f.id ? Number(f.id) : this.nextId++;
          const phones = String(f.list)
            .split('\n')
            .map((line) => {
              const phone = line.slice(0, line.indexOf(':'));
              return this.refuse.has(phone)
                ? { phone, status: 0, error: 8 }
                : { phone, status: 0, cost: '1.40', cnt: 1 };
            });
          return {
            body: JSON.stringify({
              id,
              cnt: phones.length,
              cost: (1.4 * phones.length).toFixed(2),
              ...(f.op === '1' ? { phones } : {}),
            }),
          };
        }
        const cnt = String(f.mes ?? '').length > 70 ? 2 : 1;
        if (f.cost === '1') return { body: JSON.stringify({ cost: (1.4 * cnt).toFixed(2), cnt }) };
        const id = f.id ? Number(f.id) : this.nextId++;
        return {
          body: JSON.stringify({
            id,
            cnt,
            ...(f.cost === '2' || f.cost === '3' ? { cost: (1.4 * cnt).toFixed(2) } : {}),
            ...(f.cost === '3' ? { balance: '250.80' } : {}),
          }),
        };
      }
      case '/sys/status.php': {
        const status = mode.startsWith('status:') ? Number(mode.slice(7)) : this.deliveryStatus;
        return {
          body: JSON.stringify({
            status,
            last_date: '29.11.2026 10:00:05',
            last_timestamp: 1795946405,
            flag: 0,
            err: 0,
          }),
        };
      }
      case '/sys/balance.php':
        return { body: JSON.stringify({ balance: '250.80' }) };
      default:
        return { status: 404, type: 'text/html', body: 'not found' };
    }
  }
}
