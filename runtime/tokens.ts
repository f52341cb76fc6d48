/**
 * API tokens and their roles. Tokens from the configuration, plus tokens kept in the data folder
 * (`tokens.json`, owner-only). Only SHA-256 hashes are kept there: a token is shown once, when
 * it is made. With no token configured at all, the first start makes one terminal and one admin
 * token and prints them.
 */
import { hash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.ts';

export const roles = ['terminal', 'support', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface StoredToken {
  id: string;
  role: Role;
  hash: string;
  label: string;
  createdAt: string;
}

/**
 * Who presented a token: its role, a stable id (limits and budgets are kept per id, never per a
 * field the caller chooses) and the label given when it was made (`CASH1 Тверская`).
 */
export interface TokenIdentity {
  role: Role;
  id: string;
  label: string;
}

/** One-shot hashing: a token is hashed on every request (a fifth of `createHash`'s cost). */
const sha256 = (token: string) => hash('sha256', token, 'hex');

export function makeToken(role: Role): string {
  return `${role.slice(0, 3)}_${randomBytes(24).toString('base64url')}`;
}

export class TokenRegistry {
  private byHash = new Map<string, TokenIdentity>();
  private readonly fromConfig = new Map<string, TokenIdentity>();
  private stored: StoredToken[] = [];
  private readonly path: string;
  /** `tokens.json` as last read (its mtime and size), and when that was last checked. */
  private loaded = '';
  private checkedAt = 0;

  constructor(
    dataDir: string,
    config: Pick<Config, 'auth'>,
    private readonly now: () => number = Date.now,
  ) {
    this.path = join(dataDir, 'tokens.json');
    const configured = (role: Role, list: readonly string[]) =>
      list.forEach((t, i) => {
        const h = sha256(t);
        // A configured token is named by its role and place in the list; its id by its hash.
        this.fromConfig.set(h, { role, id: `cfg-${h.slice(0, 12)}`, label: `config ${role} #${i + 1}` });
      });
    configured('terminal', config.auth.terminalTokens);
    configured('support', config.auth.supportTokens);
    configured('admin', config.auth.adminTokens);
    this.load();
    this.checkedAt = this.now();
  }

  private stamp(): string {
    try {
      const st = statSync(this.path);
      return `${st.mtimeMs}:${st.size}`;
    } catch {
      return '';
    }
  }

  private load() {
    this.loaded = this.stamp();
    this.stored = existsSync(this.path)
      ? (JSON.parse(readFileSync(this.path, 'utf8')) as { tokens: StoredToken[] }).tokens
      : [];
    const byHash = new Map(this.fromConfig);
    for (const t of this.stored) byHash.set(t.hash, { role: t.role, id: t.id, label: t.label });
    this.byHash = byHash;
  }

  /**
   * Take in tokens made or revoked with the CLI while the service runs: `tokens.json` is looked
   * at at most once a second, and read again when it changed. A revoked token stops working
   * within a second, without a restart. A file caught half-written is read at the next look.
   */
  private refresh() {
    const now = this.now();
    if (now - this.checkedAt < 1000) return;
    this.checkedAt = now;
    if (this.stamp() === this.loaded) return;
    try {
      this.load();
    } catch {
      this.loaded = ''; // unreadable this moment: keep the tokens known, look again next time
    }
  }

  /** The role of a presented token, or null. Lookup by hash: no comparison leaks timing. */
  roleOf(token: string | undefined): Role | null {
    return this.identify(token)?.role ?? null;
  }

  /** The identity of a presented token, or null. */
  identify(token: string | undefined): TokenIdentity | null {
    if (!token || token.length > 200) return null;
    this.refresh();
    return this.byHash.get(sha256(token)) ?? null;
  }

  get empty(): boolean {
    return this.byHash.size === 0;
  }

  /** Make and keep a new token; the clear token is returned once and never stored. */
  create(role: Role, label: string, at = new Date().toISOString()): { token: string; entry: StoredToken } {
    const token = makeToken(role);
    const entry: StoredToken = {
      id: randomBytes(4).toString('hex'),
      role,
      hash: sha256(token),
      label,
      createdAt: at,
    };
    this.stored.push(entry);
    this.byHash.set(entry.hash, { role, id: entry.id, label });
    this.save();
    return { token, entry };
  }

  list(): StoredToken[] {
    return [...this.stored];
  }

  revoke(id: string): boolean {
    const entry = this.stored.find((t) => t.id === id);
    if (!entry) return false;
    this.stored = this.stored.filter((t) => t !== entry);
    this.byHash.delete(entry.hash);
    this.save();
    return true;
  }

  private save() {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify({ tokens: this.stored }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
    this.loaded = this.stamp();
  }

  /** First start with no tokens anywhere: one terminal and one admin token, returned to print. */
  bootstrap(): Array<{ role: Role; token: string }> {
    if (!this.empty) return [];
    return (['terminal', 'admin'] as const).map((role) => ({
      role,
      token: this.create(role, 'first start').token,
    }));
  }
}
