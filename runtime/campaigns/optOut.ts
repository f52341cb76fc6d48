/**
 * One-tap opt-out links: `{optOut}` in a campaign text becomes `<publicUrl>/u/<code>`, a page
 * where the guest stops the news with one button (38-FZ art. 18 part 1: the sender must stop at
 * once when the subscriber asks).
 *
 * The code names one phone without revealing it, and only this server can make one. It is the
 * phone sealed with a deterministic authenticated cipher built from Node's primitives, in the
 * SIV manner: a 40-bit tag = HMAC-SHA256(tag key, phone) cut to 5 bytes, then the phone's
 * E.164 digits as a 7-byte integer encrypted with AES-128-CTR under the tag as IV. Code =
 * base64url(tag ‖ ciphertext): 12 bytes, 16 characters, the same length for every phone so a
 * message's length is known before it is rendered. Both keys are derived from the server secret
 * with HKDF.
 *
 * Why sealed, not a random code in a table: no table grows with every message sent, nothing to
 * erase with the guest, and the same link in every campaign. Why it cannot be enumerated: a code
 * is accepted only when its tag matches — one guess in 2^40 — and the page's answers are the
 * same for a code that names no one; guesses are also limited per address
 * (`limits.optOutPerAddressPerHour`).
 */
import { createCipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { ConsentLedger } from '../consents.ts';

const TAG_BYTES = 5;
const BODY_BYTES = 7; // 2^56 > 10^15: every E.164 number (at most 15 digits)
/** Characters of a code: base64url of 12 bytes. */
export const OPT_OUT_CODE_LENGTH = Math.ceil(((TAG_BYTES + BODY_BYTES) * 8) / 6);
const CODE_SHAPE = new RegExp(`^[A-Za-z0-9_-]{${OPT_OUT_CODE_LENGTH}}$`);

/** The placeholder campaign texts use for the link. */
export const OPT_OUT_PLACEHOLDER = '{optOut}';

export class OptOutLinks {
  private readonly cipherKey: Buffer;
  private readonly tagKey: Buffer;
  /** `publicUrl` without a trailing slash, or null when the venue set none. */
  readonly base: string | null;

  constructor(secret: Buffer, publicUrl: string | null) {
    this.cipherKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'sms-pds opt-out cipher', 16));
    this.tagKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'sms-pds opt-out tag', 32));
    this.base = publicUrl ? publicUrl.replace(/\/+$/, '') : null;
  }

  /** The code of an E.164 phone (`+79161234567`). */
  code(phone: string): string {
    const digits = phone.startsWith('+') ? phone.slice(1) : phone;
    if (!/^[1-9]\d{0,14}$/.test(digits)) throw new Error('an E.164 phone is needed');
    const body = Buffer.alloc(BODY_BYTES);
    let n = BigInt(digits);
    for (let i = BODY_BYTES - 1; i >= 0; i--) {
      body[i] = Number(n & 0xffn);
      n >>= 8n;
    }
    const tag = this.tag(body);
    return Buffer.concat([tag, this.crypt(tag, body)]).toString('base64url');
  }

  /** The phone a code names, or null for anything this server did not make. */
  phoneOf(code: string): string | null {
    if (!CODE_SHAPE.test(code)) return null;
    const raw = Buffer.from(code, 'base64url');
    if (raw.length !== TAG_BYTES + BODY_BYTES) return null;
    const tag = raw.subarray(0, TAG_BYTES);
    const body = this.crypt(tag, raw.subarray(TAG_BYTES));
    if (!timingSafeEqual(tag, this.tag(body))) return null;
    let n = 0n;
    for (const byte of body) n = (n << 8n) | BigInt(byte);
    return n === 0n ? null : `+${n}`;
  }

  /**
   * The link for a phone; with no phone, a link of the same length (for counting segments before
   * a message is rendered). Needs `publicUrl`.
   */
  link(phone?: string | null): string {
    if (!this.base) throw new Error('publicUrl is not set');
    return `${this.base}/u/${phone ? this.code(phone) : 'x'.repeat(OPT_OUT_CODE_LENGTH)}`;
  }

  private tag(body: Buffer): Buffer {
    return createHmac('sha256', this.tagKey).update(body).digest().subarray(0, TAG_BYTES);
  }

  private crypt(tag: Buffer, data: Buffer): Buffer {
    const iv = Buffer.alloc(16);
    tag.copy(iv);
    const cipher = createCipheriv('aes-128-ctr', this.cipherKey, iv);
    return Buffer.concat([cipher.update(data), cipher.final()]);
  }
}

/** Whether a campaign text carries the opt-out link. */
export const hasOptOut = (text: string) => text.includes(OPT_OUT_PLACEHOLDER);

/**
 * A guest confirmed on the opt-out page: the phone the code names stops getting news, as an
 * entry of the consent ledger with source `link`. A code that names no one, a phone the service
 * holds no consent for (never given, or erased since) and news already stopped change nothing:
 * the page says "done" in every case, so it tells no one whether a code exists.
 */
export async function confirmOptOut(
  deps: { links: OptOutLinks; consents: ConsentLedger; now(): number },
  code: string,
): Promise<boolean> {
  const phone = deps.links.phoneOf(code);
  if (!phone || !(await deps.consents.get(phone))?.marketing) return false;
  await deps.consents.record(phone, {
    at: new Date(deps.now()).toISOString(),
    marketing: false,
    source: 'link',
    by: 'guest: opt-out page',
  });
  return true;
}
