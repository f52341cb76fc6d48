/**
 * PINs: drawn from a CSPRNG, kept only as HMAC-SHA256(server secret, workflow id + PIN), and
 * compared in constant time. Binding the hash to the workflow id means a hash is worthless for
 * any other session, and the secret means a stolen store cannot be brute-forced offline.
 */
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PinVault {
  generate(length: number): string;
  hash(workflowId: string, pin: string): string;
  matches(hash: string | null, workflowId: string, pin: unknown): boolean;
}

export function createPinVault(secret: Buffer): PinVault {
  const hash = (workflowId: string, pin: string) =>
    createHmac('sha256', secret).update(`${workflowId}\u0000${pin}`).digest('hex');
  return {
    generate(length) {
      return String(randomInt(0, 10 ** length)).padStart(length, '0');
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

/** The server secret, made once into the data folder with owner-only permissions. */
export function loadOrCreateSecret(dataDir: string): Buffer {
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
