/**
 * One admin CLI run at a time edits a config file: a lock file beside it (`FILE.lock`), made by
 * hard-linking a finished temporary file to that name (atomic and never replacing one, on local
 * disks and NFS alike; the lock never exists half-written). Each run reads, edits and renames
 * while holding it, so a second run waits and then edits the file the first one wrote: no run
 * renames its copy over another's edit (a `keys revoke` undone by a concurrent `grants add`).
 *
 * A lock left by a run that was killed must not block for good: it is stale when its process is
 * gone (same host) or when it is older than STALE_MS (another host, or a reused pid; a run holds
 * it for milliseconds). A run that waited longer than its bound fails, naming the holder.
 *
 * Not proper-lockfile: it learns that its lock was taken over from a timer refreshing the lock's
 * mtime, which cannot run while an edit is under way (synchronous reads and writes), so a stalled
 * run would rename over the new holder's edit; here the holder's nonce is checked just before the
 * rename (held()), and a dead holder on this host is seen at once, not after a stale period.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError } from '../config';

export const STALE_MS = 60_000;
const POLL_MS = 50;

export interface ConfigLock {
  /** False once another run took the lock over as stale (this run stalled past STALE_MS). */
  held(): boolean;
  release(): void;
}

interface Holder {
  pid: number;
  host: string;
  since: string;
  nonce: string;
}

export function lockPath(realFile: string): string {
  return `${realFile}.lock`;
}

/** The holder a lock names; none for a lock not written by this module (held, until it is old). */
function holderOf(text: string): { holder?: Holder } {
  try {
    const h = JSON.parse(text) as Partial<Holder> | null;
    if (
      Number.isSafeInteger(h?.pid) &&
      h!.pid! > 0 &&
      typeof h!.host === 'string' &&
      typeof h!.since === 'string'
    )
      return { holder: h as Holder };
  } catch {}
  return {};
}

function readLock(lock: string): { text: string; holder?: Holder; ageMs: number } | undefined {
  try {
    const ageMs = Date.now() - statSync(lock).mtimeMs;
    const text = readFileSync(lock, 'utf8');
    return { text, ...holderOf(text), ageMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the lock is stale, or undefined while its holder may still be editing. */
function staleReason(found: { holder?: Holder; ageMs: number }): string | undefined {
  const h = found.holder;
  if (h && h.host === hostname() && !running(h.pid)) return `its run (pid ${h.pid}) is not running`;
  if (found.ageMs > STALE_MS) return `it is ${Math.round(found.ageMs / 1000)} s old`;
  return undefined;
}

/**
 * Removes the stale lock whose text is `stale`, and only that one: renamed aside first (atomic),
 * then checked, so that of two runs breaking it at once the second cannot remove the lock the
 * first has just taken. A live lock moved aside by mistake is linked back.
 */
function breakStale(lock: string, stale: string): boolean {
  const aside = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    renameSync(lock, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const moved = readFileSync(aside, 'utf8');
  if (moved !== stale) {
    try {
      linkSync(aside, lock);
    } catch {
      // Another run took the free name meanwhile: the moved lock's holder finds it lost (held()).
    }
  }
  unlinkSync(aside);
  return moved === stale;
}

/**
 * Links a finished draft to the lock's name: true when this run now holds it. The draft lives
 * only for the attempt, so a run stopped while it waits (Ctrl-C) leaves nothing beside the file.
 */
function tryLock(lock: string, text: string, nonce: string): boolean {
  const draft = `${lock}.${process.pid}.${nonce}`;
  writeFileSync(draft, text, { mode: 0o644 });
  try {
    linkSync(draft, lock);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(draft);
  }
}

function holderText(holder: Holder | undefined): string {
  return holder
    ? `pid ${holder.pid} on ${holder.host === hostname() ? 'this host' : holder.host}, since ${holder.since}`
    : 'an unknown holder';
}

/**
 * Takes the lock of `realFile` (the file a symlink names: every path to it shares one lock),
 * waiting at most `waitMs` for another run to finish. `say` gets one line when it starts waiting
 * and one when it removes a stale lock.
 */
export async function lockConfigFile(
  realFile: string,
  options: { waitMs: number; say: (line: string) => void },
): Promise<ConfigLock> {
  const lock = lockPath(realFile);
  const holder: Holder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    nonce: randomBytes(8).toString('hex'),
  };
  const mine = JSON.stringify(holder);
  const deadline = Date.now() + options.waitMs;
  let saidWaiting = false;
  while (!tryLock(lock, mine, holder.nonce)) {
    const found = readLock(lock);
    if (!found) continue;
    const stale = staleReason(found);
    if (stale !== undefined) {
      if (breakStale(lock, found.text))
        options.say(`note: removed a stale lock ${lock} (${holderText(found.holder)}): ${stale}`);
      continue;
    }
    if (Date.now() >= deadline)
      throw new ConfigError(
        `${realFile} is being edited by another admin run (${holderText(found.holder)}; lock ${lock}): nothing changed, run again. If no other run is going, delete ${lock}`,
      );
    if (!saidWaiting) {
      options.say(
        `waiting for ${lock}: another admin run is editing ${realFile} (${holderText(found.holder)})`,
      );
      saidWaiting = true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const held = () => readLock(lock)?.text === mine;
  return {
    held,
    release: () => {
      if (held()) unlinkSync(lock);
    },
  };
}
