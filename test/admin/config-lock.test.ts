/**
 * Admin CLI runs editing one config file at once: each reads, edits and renames its copy over the
 * file, so without a lock the later rename drops the earlier edit (a revoked key brought back by
 * a concurrent `grants add`). The race is made deterministic by the lock itself: this test holds
 * it, as a third run would, while two real CLI processes queue behind it, then lets them go at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockConfigFile, lockPath, STALE_MS } from '../../lambda/admin/config-lock';
import { ConfigFileTarget } from '../../lambda/admin/config-target';
import { ConfigError } from '../../lambda/config';
import { type AdminProcess, adminInProcess, startAdmin } from '../helpers/admin-cli';
import { REPO_ROOT } from '../helpers/s3-servers';

/** Until every run says it waits for the lock; fails as soon as one exits instead (it did not wait). */
async function untilWaiting(runs: AdminProcess[]): Promise<void> {
  const end = Date.now() + 60_000;
  while (!runs.every((r) => r.stderr().includes('waiting for'))) {
    const gone = runs.find((r) => r.child.exitCode !== null);
    if (gone) throw new Error(`a run finished without waiting for the lock: ${gone.stderr()}`);
    if (Date.now() > end) throw new Error('the runs did not start waiting within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const TABLES = { tableMapping: { trades: 's3://bucket/gold/trades' } };
const KEY = { accessKeyId: 'DLPRACEKEY0000000001', secretAccessKey: 's'.repeat(40), principal: 'leaver' };

describe('admin CLI runs editing one config file at once', () => {
  let dir: string;
  let n = 0;
  /** A fresh config file holding KEY. */
  const configFile = () => {
    const file = path.join(dir, `config-${++n}.json`);
    writeFileSync(
      file,
      JSON.stringify({ tableMapping: { trades: 's3://bucket/gold/trades' }, auth: { keys: [KEY] } }),
      { mode: 0o600 },
    );
    return file;
  };
  const quiet = { waitMs: 0, say: () => {} };

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'admin-lock-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps both edits: a revocation is not undone by a grant written at the same time', async () => {
    const file = configFile();
    const before = readFileSync(file, 'utf8');
    const third = await lockConfigFile(file, quiet);
    const revoke = startAdmin(['keys', 'revoke', KEY.accessKeyId, '--config', file]);
    const grant = startAdmin([
      'grants',
      'add',
      '--principal',
      'p',
      '--table',
      'trades',
      '--all',
      '--config',
      file,
    ]);
    try {
      await untilWaiting([revoke, grant]);
      expect(readFileSync(file, 'utf8')).toBe(before);
    } finally {
      third.release();
    }
    const [revoked, granted] = await Promise.all([revoke.done, grant.done]);
    expect(revoked.code).toBe(0);
    expect(granted.code).toBe(0);
    const config = JSON.parse(readFileSync(file, 'utf8'));
    expect(config.auth.keys).toEqual([]);
    expect(config.grants).toEqual([{ principal: 'p', table: 'trades', partitions: [{}] }]);
    // No lock, draft or temporary file left beside it.
    expect(readdirSync(dir).filter((f) => f.startsWith(path.basename(file)))).toEqual([path.basename(file)]);
  });

  it('fails with the holder named, changing nothing, when the lock stays held past its wait', async () => {
    const file = configFile();
    const before = readFileSync(file, 'utf8');
    const other = await lockConfigFile(file, quiet);
    try {
      const lines: string[] = [];
      const target = new ConfigFileTarget(file, { lockWaitMs: 200, say: (l) => lines.push(l) });
      const refused = await target.revokeKey(KEY.accessKeyId).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConfigError);
      expect((refused as Error).message).toBe(
        `${file} is being edited by another admin run (pid ${process.pid} on this host, since ${
          JSON.parse(readFileSync(lockPath(file), 'utf8')).since
        }; lock ${lockPath(file)}): nothing changed, run again. If no other run is going, delete ${lockPath(file)}`,
      );
      expect(lines).toEqual([expect.stringMatching(/^waiting for .*\.lock: another admin run is editing/)]);
      expect(readFileSync(file, 'utf8')).toBe(before);
    } finally {
      other.release();
    }
    expect(existsSync(lockPath(file))).toBe(false);
  });

  it('removes the lock of a run that was killed while holding it, and edits', async () => {
    const file = configFile();
    // A process that takes the lock and is killed holding it (as a CLI killed mid-edit).
    const holder = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { lockConfigFile } = await import(${JSON.stringify(path.join(REPO_ROOT, 'lambda/admin/config-lock.ts'))});
         await lockConfigFile(${JSON.stringify(file)}, { waitMs: 0, say: () => {} });
         process.stdout.write('locked\\n');
         setInterval(() => {}, 1000);`,
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the holder did not lock within 30 s')), 30_000);
      holder.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('locked')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const killed = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGKILL');
    await killed;
    expect(existsSync(lockPath(file))).toBe(true);

    const r = await adminInProcess(['keys', 'revoke', KEY.accessKeyId, '--config', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `note: removed a stale lock ${lockPath(file)} (pid ${holder.pid} on this host`,
    );
    expect(r.stderr).toContain(`its run (pid ${holder.pid}) is not running`);
    expect(JSON.parse(readFileSync(file, 'utf8')).auth.keys).toEqual([]);
    expect(existsSync(lockPath(file))).toBe(false);
  });

  it('removes a temporary copy a killed run left beside the file (it holds the secrets), and only that', async () => {
    const file = configFile();
    // What a run killed between writing its copy and renaming it leaves: FILE.<its pid>.tmp.
    const left = `${file}.4194303.tmp`;
    writeFileSync(left, readFileSync(file), { mode: 0o600 });
    const neighbours = [`${file}.backup.tmp`, `${file}.tmp`, `${file}x.123.tmp`];
    for (const f of neighbours) writeFileSync(f, '{}');
    const r = await adminInProcess(['keys', 'revoke', KEY.accessKeyId, '--config', file]);
    expect(r.code).toBe(0);
    expect(existsSync(left)).toBe(false);
    for (const f of neighbours) expect(existsSync(f)).toBe(true);
  });

  it('takes over a lock older than a run ever holds one (its pid may be reused, or on another host); the stalled run then keeps its hands off', async () => {
    const file = configFile();
    const stalled = await lockConfigFile(file, quiet);
    const old = (Date.now() - STALE_MS - 60_000) / 1000;
    utimesSync(lockPath(file), old, old);
    const r = await adminInProcess(['keys', 'revoke', KEY.accessKeyId, '--config', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/note: removed a stale lock .*: it is \d+ s old/);
    expect(stalled.held()).toBe(false);
    expect(JSON.parse(readFileSync(file, 'utf8')).auth.keys).toEqual([]);
  });

  it('writes nothing, and says so, when its lock was taken over while it stalled', async () => {
    // The run stalls while holding its lock: its config file is a named pipe, whose read waits
    // until this test writes the config into it. Meanwhile its lock ages and another run takes it.
    const fifo = path.join(dir, 'stalled.json');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const run = startAdmin(['keys', 'revoke', KEY.accessKeyId, '--config', fifo]);
    const end = Date.now() + 60_000;
    while (!existsSync(lockPath(fifo))) {
      if (run.child.exitCode !== null) throw new Error(`the run ended: ${run.stderr()}`);
      if (Date.now() > end) throw new Error('the run took no lock within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const old = (Date.now() - STALE_MS - 60_000) / 1000;
    utimesSync(lockPath(fifo), old, old);
    const said: string[] = [];
    const other = await lockConfigFile(fifo, { waitMs: 0, say: (l) => said.push(l) });
    expect(said).toEqual([expect.stringMatching(/^note: removed a stale lock .*: it is \d+ s old$/)]);
    try {
      writeFileSync(fifo, JSON.stringify({ ...TABLES, auth: { keys: [KEY] } }));
      const ended = await run.done;
      expect(ended.code).toBe(1);
      expect(ended.stderr).toContain(
        `error: ${fifo}: another admin run took this run's lock over (this run stalled for over 60 s): nothing changed, run again`,
      );
      expect(lstatSync(fifo).isFIFO()).toBe(true); // nothing renamed over it
      expect(other.held()).toBe(true);
    } finally {
      other.release();
    }
  });
});
