/**
 * API tokens and their roles. Tokens from the configuration, plus tokens kept by the store
 * engine (`TokenRows`: `tokens.json` in the data folder, owner-only, or PostgreSQL's table).
 * Only SHA-256 hashes are kept: a token is shown once, when it is made. With no token
 * configured at all, the first start makes one terminal and one admin token and prints them.
 */
import { hash, randomBytes } from 'node:crypto';
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

/** Where the kept tokens live. */
export interface TokenRows {
  /** Something that changes whenever the kept tokens do, cheap to read ('' when there are none). */
  mark(): Promise<string>;
  /** Every kept token, and the mark that goes with them. */
  read(): Promise<{ mark: string; tokens: StoredToken[] }>;
  /** Keep a new token; durable when it resolves. */
  add(entry: StoredToken): Promise<void>;
  /** Drop a token; false when there was none. Durable when it resolves. */
  remove(id: string): Promise<boolean>;
}

export function makeToken(role: Role): string {
  return `${role.slice(0, 3)}_${randomBytes(24).toString('base64url')}`;
}

export class TokenRegistry {
  private byHash = new Map<string, TokenIdentity>();
  private readonly fromConfig = new Map<string, TokenIdentity>();
  private stored: StoredToken[] = [];
  /** The rows' mark as last read, and when it was last checked. */
  private loaded = '';
  private checkedAt = 0;
  private checking: Promise<void> | null = null;

  private constructor(
    private readonly rows: TokenRows,
    config: Pick<Config, 'auth'>,
    private readonly now: () => number,
  ) {
    const configured = (role: Role, list: readonly string[]) =>
      list.forEach((t, i) => {
        const h = sha256(t);
        // A configured token is named by its role and place in the list; its id by its hash.
        this.fromConfig.set(h, { role, id: `cfg-${h.slice(0, 12)}`, label: `config ${role} #${i + 1}` });
      });
    configured('terminal', config.auth.terminalTokens);
    configured('support', config.auth.supportTokens);
    configured('admin', config.auth.adminTokens);
  }

  static async open(
    rows: TokenRows,
    config: Pick<Config, 'auth'>,
    now: () => number = Date.now,
  ): Promise<TokenRegistry> {
    const registry = new TokenRegistry(rows, config, now);
    await registry.load();
    registry.checkedAt = now();
    return registry;
  }

  private async load() {
    const { mark, tokens } = await this.rows.read();
    this.stored = tokens;
    const byHash = new Map(this.fromConfig);
    for (const t of tokens) byHash.set(t.hash, { role: t.role, id: t.id, label: t.label });
    this.byHash = byHash;
    this.loaded = mark;
  }

  /**
   * Take in tokens made or revoked elsewhere (the CLI, another instance) while the service runs:
   * the rows' mark is looked at at most once a second, before a request is identified, and the
   * tokens read again when it changed. A revoked token stops working within a second, without a
   * restart. Rows that cannot be read this moment keep the tokens known; the next look tries again.
   */
  fresh(): Promise<void> {
    const now = this.now();
    if (now - this.checkedAt < 1000) return Promise.resolve();
    this.checkedAt = now;
    this.checking ??= (async () => {
      try {
        if ((await this.rows.mark()) !== this.loaded) await this.load();
      } catch {
        this.checkedAt = 0;
      } finally {
        this.checking = null;
      }
    })();
    return this.checking;
  }

  /** The role of a presented token, or null. Lookup by hash: no comparison leaks timing. */
  roleOf(token: string | undefined): Role | null {
    return this.identify(token)?.role ?? null;
  }

  /** The identity of a presented token, or null. */
  identify(token: string | undefined): TokenIdentity | null {
    if (!token || token.length > 200) return null;
    return this.byHash.get(sha256(token)) ?? null;
  }

  get empty(): boolean {
    return this.byHash.size === 0;
  }

  /** Make and keep a new token; the clear token is returned once and never stored. */
  async create(
    role: Role,
    label: string,
    at = new Date().toISOString(),
  ): Promise<{ token: string; entry: StoredToken }> {
    const token = makeToken(role);
    const entry: StoredToken = {
      id: randomBytes(4).toString('hex'),
      role,
      hash: sha256(token),
      label,
      createdAt: at,
    };
    await this.rows.add(entry);
    await this.load();
    return { token, entry };
  }

  list(): StoredToken[] {
    return [...this.stored];
  }

  async revoke(id: string): Promise<boolean> {
    const removed = await this.rows.remove(id);
    await this.load();
    return removed;
  }

  /** First start with no tokens anywhere: one terminal and one admin token, returned to print. */
  async bootstrap(): Promise<Array<{ role: Role; token: string }>> {
    if (!this.empty) return [];
    const made: Array<{ role: Role; token: string }> = [];
    for (const role of ['terminal', 'admin'] as const)
      made.push({ role, token: (await this.create(role, 'first start')).token });
    return made;
  }
}
