/**
 * PINs: derived from the server secret, the workflow id and the send number (HMAC-SHA256, a
 * keyed pseudo-random function: unpredictable without the secret), kept only as
 * HMAC-SHA256(server secret, workflow id + PIN), and compared in constant time.
 *
 * - Derived, not drawn: the re-run of a send interrupted by a crash carries the same PIN, so a
 *   provider that drops the repeated message as a duplicate (smsc, the console) leaves the
 *   guest holding a code that still works.
 * - Binding the hash to the workflow id means a hash is worthless for any other session, and
 *   the secret means a stolen store cannot be brute-forced offline.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config.ts';

export interface PinVault {
  /** The PIN of send `sendNo` of a workflow: the same inputs always give the same PIN. */
  derive(workflowId: string, sendNo: number, length: number): string;
  hash(workflowId: string, pin: string): string;
  matches(hash: string | null, workflowId: string, pin: unknown): boolean;
}

export function createPinVault(secret: Buffer): PinVault {
  const hash = (workflowId: string, pin: string) =>
    createHmac('sha256', secret).update(`${workflowId}\u0000${pin}`).digest('hex');
  return {
    derive(workflowId, sendNo, length) {
      const mac = createHmac('sha256', secret).update(`pin\u0000${workflowId}\u0000${sendNo}`).digest();
      // 64 bits reduced modulo 10^length: the bias is below 10^8 / 2^64, nothing to an attacker.
      return String(mac.readBigUInt64BE(0) % 10n ** BigInt(length)).padStart(length, '0');
    },
    hash,
    matches(stored, workflowId, pin) {
      if (!stored || typeof pin !== 'string' || !/^\d{1,12}$/.test(pin)) return false;
      const a = Buffer.from(hash(workflowId, pin), 'hex');
      const b = Buffer.from(stored, 'hex');
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}

/**
 * The server secret: from `secretFile` when the configuration names one (instances that share a
 * database must share it — PINs, opt-out links and anonymised phones are keyed by it — so it is
 * deployed with them, never made by one of them), otherwise made once into the data folder with
 * owner-only permissions.
 */
export function loadOrCreateSecret(dataDir: string, secretFile: string | null = null): Buffer {
  if (secretFile) {
    let text: string;
    try {
      text = readFileSync(secretFile, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(`secretFile: cannot read ${secretFile}: ${(err as Error).message}`);
    }
    if (!/^[0-9a-f]{64}$/.test(text))
      throw new ConfigError(`secretFile: ${secretFile} must hold 64 hex characters (openssl rand -hex 32)`);
    return Buffer.from(text, 'hex');
  }
  const path = join(dataDir, 'secret.key');
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(text)) return Buffer.from(text, 'hex');
    throw new Error(`${path} is damaged: expected 64 hex characters`);
  }
  const secret = randomBytes(32);
  writeFileSync(path, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}
