/**
 * Edits a JSON config file in place: `auth.keys` and `grants`, every other field kept as it was.
 * Writes go to a temporary file beside it and are renamed over it (never a half-written config),
 * with the original file's owner, group and mode (it holds secrets); an edit that leaves secrets
 * in a file its group or others may read says so (config-exposure.ts). When the file was a valid
 * config before the edit, the result is validated too, so the CLI never breaks a working config.
 * Each edit reads, changes and renames while holding the file's lock (config-lock.ts): two runs
 * at once edit one after the other, neither renames its copy over the other's edit.
 *
 * The config schema has no key status and no grant id, so: `keys revoke` removes the key, and a
 * grant's id is a hash of its content (stable across runs; identical grants share it).
 * A running proxy does not reread the file: every edit says so (editNote).
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Grant } from '../access/grant';
import { ConfigError, parseConfig, parseConfigText, unreadableConfig } from '../config';
import { secretsExposure } from '../config-exposure';
import type { KeyRevocation } from '../store/dynamo-admin';
import { type AdminTarget, type GrantListing, type KeyListing, keyExists } from './admin-target';
import { type ConfigLock, lockConfigFile, STALE_MS } from './config-lock';

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

/** How long an edit waits for another run's lock: a run holds it for milliseconds. */
export const LOCK_WAIT_MS = 10_000;

export function configGrantId(grant: Grant): string {
  return createHash('sha256')
    .update(JSON.stringify([grant.principal, grant.table, grant.partitions]))
    .digest('hex')
    .slice(0, 12);
}

/**
 * Gives the replacement the file's owner, group and mode: the umask would narrow the mode (a
 * 0640 file the proxy reads through its group, rewritten 0600 under umask 077), and a rename by
 * another user (root, say) would hand the file to that user. When the owner cannot be kept, the
 * edit fails rather than leave the proxy a file it cannot read.
 */
/**
 * Removes the copies (`FILE.<pid>.tmp`) that runs killed between writing and renaming left beside
 * the file: each holds the secrets. Called under the lock, when no other run is writing one.
 */
function removeLeftCopies(file: string): void {
  const prefix = `${basename(file)}.`;
  for (const name of readdirSync(dirname(file)))
    if (name.startsWith(prefix) && /^\d+\.tmp$/.test(name.slice(prefix.length)))
      rmSync(join(dirname(file), name), { force: true });
}

function keepOwnerAndMode(name: string, original: Stats, tmp: string): void {
  const made = statSync(tmp);
  if (made.uid !== original.uid || made.gid !== original.gid) {
    try {
      chownSync(tmp, original.uid, original.gid);
    } catch (e) {
      throw new ConfigError(
        `${name}: cannot keep its owner and group (${original.uid}:${original.gid}) when replacing it (${(e as NodeJS.ErrnoException).code ?? 'error'}): run as its owner or root; nothing changed`,
      );
    }
  }
  chmodSync(tmp, original.mode & 0o777);
}

export class ConfigFileTarget implements AdminTarget {
  /** The local proxy reads its config file once, at start-up: an edit (a revocation too) waits for a restart. */
  readonly editNote: string;

  private readonly lockWaitMs: number;
  private readonly say: (line: string) => void;

  /** `say`: lines for stderr (waiting for another run's lock, a stale lock removed). */
  constructor(
    readonly file: string,
    options: { lockWaitMs?: number; say?: (line: string) => void } = {},
  ) {
    this.editNote = `a running proxy reads ${file} only when it starts: restart it for this change to take effect`;
    this.lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS;
    this.say = options.say ?? (() => {});
  }

  private cannotRead(e: unknown): ConfigError {
    return unreadableConfig(this.file, e);
  }

  private read(): { raw: RawConfig; wasValid: boolean } {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      throw this.cannotRead(e);
    }
    // A key written twice would be dropped by the rewrite: refused, as the proxy refuses it.
    const raw = parseConfigText(text, this.file);
    let wasValid = true;
    try {
      parseConfig(raw);
    } catch {
      wasValid = false;
    }
    return { raw: raw as RawConfig, wasValid };
  }

  /**
   * Reads the file, lets `change` edit it and writes it back when `change` says so, all under the
   * file's lock: a run that waited for another one edits the file that run wrote.
   */
  private async edit<T>(change: (raw: RawConfig) => { result: T; changed: boolean }): Promise<T> {
    // Through a symlink, the file it names: renaming over the link would leave that file (the one
    // a proxy may read) as it was, a revoked key in it. Its lock is beside it, whatever the path.
    let file: string;
    try {
      file = realpathSync(this.file);
    } catch (e) {
      throw this.cannotRead(e);
    }
    const lock = await lockConfigFile(file, { waitMs: this.lockWaitMs, say: this.say });
    try {
      const { raw, wasValid } = this.read();
      const { result, changed } = change(raw);
      if (changed) this.write(file, raw, wasValid, lock);
      return result;
    } finally {
      lock.release();
    }
  }

  private write(file: string, raw: RawConfig, wasValid: boolean, lock: ConfigLock): void {
    if (wasValid) parseConfig(raw); // throws ConfigError naming the field; the file stays untouched
    removeLeftCopies(file);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(raw, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    try {
      keepOwnerAndMode(this.file, statSync(file), tmp);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    // A run stalled past STALE_MS (suspended, say) may have lost its lock to another run, which
    // then edited the file: renaming now would undo that edit.
    if (!lock.held()) {
      rmSync(tmp, { force: true }); // the run that took the lock over may have removed it
      throw new ConfigError(
        `${this.file}: another admin run took this run's lock over (this run stalled for over ${STALE_MS / 1000} s): nothing changed, run again`,
      );
    }
    renameSync(tmp, file);
    const exposure = secretsExposure(this.file, raw);
    if (exposure) this.say(`warning: ${exposure.message}`);
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

  createKey(key: RawKey): Promise<void> {
    return this.edit((raw) => {
      const keys = this.keys(raw);
      if (keys.some((k) => k.accessKeyId === key.accessKeyId))
        throw new ConfigError(keyExists(key.accessKeyId, this.file));
      keys.push({
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        principal: key.principal,
      });
      return { result: undefined, changed: true };
    });
  }

  async listKeys(): Promise<KeyListing[]> {
    const { raw } = this.read();
    return this.keys(raw).map((k) => ({
      accessKeyId: k.accessKeyId,
      principal: k.principal,
      status: 'active',
    }));
  }

  revokeKey(accessKeyId: string): Promise<KeyRevocation | undefined> {
    return this.edit((raw) => {
      const keys = this.keys(raw);
      const kept = keys.filter((k) => k.accessKeyId !== accessKeyId);
      if (kept.length === keys.length) return { result: undefined, changed: false };
      raw.auth!.keys = kept;
      return { result: { already: false }, changed: true };
    });
  }

  addGrant(grant: Grant): Promise<string> {
    return this.edit((raw) => {
      this.grants(raw).push({ principal: grant.principal, table: grant.table, partitions: grant.partitions });
      return { result: configGrantId(grant), changed: true };
    });
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

  revokeGrants(principal: string, table: string, id?: string): Promise<number> {
    return this.edit((raw) => {
      const grants = this.grants(raw);
      const hit = (g: Grant) =>
        g.principal === principal && g.table === table && (id === undefined || configGrantId(g) === id);
      const kept = grants.filter((g) => !hit(g));
      raw.grants = kept;
      return { result: grants.length - kept.length, changed: kept.length < grants.length };
    });
  }

  async init(): Promise<string> {
    this.read();
    return `${this.file}: nothing to initialise for a config file`;
  }

  close(): void {}
}
