/**
 * Edits a JSON config file in place: `auth.keys` and `grants`, every other field kept as it was.
 * Writes go to a temporary file beside it and are renamed over it (never a half-written config),
 * with the original file's permissions (it holds secrets). When the file was a valid config
 * before the edit, the result is validated too, so the CLI never breaks a working config.
 *
 * The config schema has no key status and no grant id, so: `keys revoke` removes the key, and a
 * grant's id is a hash of its content (stable across runs; identical grants share it).
 * A running proxy does not reread the file: every edit says so (editNote).
 */
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import type { Grant } from '../access/grant';
import { ConfigError, parseConfig, parseConfigText } from '../config';
import type { KeyRevocation } from '../store/dynamo-admin';
import { type AdminTarget, type GrantListing, type KeyListing, keyExists } from './admin-target';

interface RawKey {
  accessKeyId: string;
  secretAccessKey: string;
  principal: string;
}

type RawConfig = Record<string, unknown> & {
  auth?: Record<string, unknown> & { keys?: RawKey[] };
  grants?: Grant[];
  tableMapping?: Record<string, string>;
};

export function configGrantId(grant: Grant): string {
  return createHash('sha256')
    .update(JSON.stringify([grant.principal, grant.table, grant.partitions]))
    .digest('hex')
    .slice(0, 12);
}

export class ConfigFileTarget implements AdminTarget {
  /** The local proxy reads its config file once, at start-up: an edit (a revocation too) waits for a restart. */
  readonly editNote: string;

  constructor(readonly file: string) {
    this.editNote = `a running proxy reads ${file} only when it starts: restart it for this change to take effect`;
  }

  private read(): { raw: RawConfig; wasValid: boolean } {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      throw new ConfigError(`${this.file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    // A key written twice would be dropped by the rewrite: refused, as the proxy refuses it.
    const raw = parseConfigText(text, this.file);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError(`${this.file}: expected a JSON object`);
    }
    let wasValid = true;
    try {
      parseConfig(raw);
    } catch {
      wasValid = false;
    }
    return { raw: raw as RawConfig, wasValid };
  }

  private write(raw: RawConfig, wasValid: boolean): void {
    if (wasValid) parseConfig(raw); // throws ConfigError naming the field; the file stays untouched
    // Through a symlink, the file it names: renaming over the link would leave that file (the one
    // a proxy may read) as it was, a revoked key in it.
    const file = realpathSync(this.file);
    const mode = statSync(file).mode & 0o777;
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(raw, null, 2)}\n`, { mode });
    renameSync(tmp, file);
  }

  private keys(raw: RawConfig): RawKey[] {
    if (raw.auth === undefined) raw.auth = {};
    if (typeof raw.auth !== 'object' || raw.auth === null)
      throw new ConfigError(`${this.file}: auth is not an object`);
    if (raw.auth.keys === undefined) raw.auth.keys = [];
    if (!Array.isArray(raw.auth.keys)) throw new ConfigError(`${this.file}: auth.keys is not a list`);
    return raw.auth.keys;
  }

  private grants(raw: RawConfig): Grant[] {
    if (raw.grants === undefined) raw.grants = [];
    if (!Array.isArray(raw.grants)) throw new ConfigError(`${this.file}: grants is not a list`);
    return raw.grants;
  }

  async createKey(key: RawKey): Promise<void> {
    const { raw, wasValid } = this.read();
    const keys = this.keys(raw);
    if (keys.some((k) => k.accessKeyId === key.accessKeyId))
      throw new ConfigError(keyExists(key.accessKeyId, this.file));
    keys.push({
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      principal: key.principal,
    });
    this.write(raw, wasValid);
  }

  async listKeys(): Promise<KeyListing[]> {
    const { raw } = this.read();
    return this.keys(raw).map((k) => ({
      accessKeyId: k.accessKeyId,
      principal: k.principal,
      status: 'active',
    }));
  }

  async revokeKey(accessKeyId: string): Promise<KeyRevocation | undefined> {
    const { raw, wasValid } = this.read();
    const keys = this.keys(raw);
    const kept = keys.filter((k) => k.accessKeyId !== accessKeyId);
    if (kept.length === keys.length) return undefined;
    raw.auth!.keys = kept;
    this.write(raw, wasValid);
    return { already: false };
  }

  async addGrant(grant: Grant): Promise<string> {
    const { raw, wasValid } = this.read();
    this.grants(raw).push({ principal: grant.principal, table: grant.table, partitions: grant.partitions });
    this.write(raw, wasValid);
    return configGrantId(grant);
  }

  async listGrants(principal?: string): Promise<GrantListing[]> {
    const { raw } = this.read();
    return this.grants(raw)
      .filter((g) => principal === undefined || g.principal === principal)
      .map((g) => ({
        id: configGrantId(g),
        principal: g.principal,
        table: g.table,
        partitions: g.partitions,
      }));
  }

  async revokeGrants(principal: string, table: string, id?: string): Promise<number> {
    const { raw, wasValid } = this.read();
    const grants = this.grants(raw);
    const hit = (g: Grant) =>
      g.principal === principal && g.table === table && (id === undefined || configGrantId(g) === id);
    const kept = grants.filter((g) => !hit(g));
    const removed = grants.length - kept.length;
    if (removed > 0) {
      raw.grants = kept;
      this.write(raw, wasValid);
    }
    return removed;
  }

  async init(): Promise<string> {
    this.read();
    return `${this.file}: nothing to initialise for a config file`;
  }

  close(): void {}
}
