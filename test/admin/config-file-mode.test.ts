/**
 * A config file holds secrets (secret access keys, metricsToken, listingTokenKey). What an admin
 * CLI edit does to its mode and owner, and what it says when group or others may read it; what
 * the proxy says at start-up of such a file.
 */
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lambda/config';
import { adminInProcess, otherUserCannotRun, startAdmin } from '../helpers/admin-cli';
import { withReason } from '../helpers/skips';

const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('warning: '));
const mode = (file: string) => statSync(file).mode & 0o777;
const TABLES = { tableMapping: { trades: 's3://bucket/gold/trades' } };
const KEY = { accessKeyId: 'DLPMODEKEY0000000001', secretAccessKey: 'k'.repeat(40), principal: 'p' };
const notRoot = process.getuid?.() === 0 ? undefined : 'needs root (to give a file another owner)';
/** The CLI run as another user needs root and a node that user may run. */
const notAsOther = notRoot ?? otherUserCannotRun();

describe('a config file that group or others may read', () => {
  let dir: string;
  let n = 0;
  const configFile = (content: object, fileMode: number) => {
    const file = path.join(dir, `config-${++n}.json`);
    writeFileSync(file, JSON.stringify(content));
    chmodSync(file, fileMode); // whatever the umask
    return file;
  };

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'admin-mode-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gets a warning when the CLI writes a secret access key into it; its mode is kept', async () => {
    const file = configFile(TABLES, 0o644);
    const r = await adminInProcess(['keys', 'create', '--principal', 'p', '--config', file]);
    expect(r.code).toBe(0);
    expect(warnings(r.stderr)).toEqual([
      `warning: ${file} holds secrets (secret access keys) and is readable by group and others (mode 0644): chmod 600 ${file} (or 640 if the proxy reads it through its group)`,
    ]);
    expect(mode(file)).toBe(0o644);
    const secret = /^secretAccessKey: (\S+)$/m.exec(r.stdout)![1]!;
    expect(r.stderr).not.toContain(secret);
  });

  it.each([
    ['0640', 0o640, 'its group'],
    ['0604', 0o604, 'others'],
  ])('names who may read it (mode %s) on every edit that leaves secrets in it', async (shown, m, who) => {
    const file = configFile({ ...TABLES, metricsToken: 't'.repeat(32), auth: { keys: [KEY] } }, m);
    const r = await adminInProcess([
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
    expect(r.code).toBe(0);
    expect(warnings(r.stderr)).toEqual([
      expect.stringContaining(
        `holds secrets (secret access keys, metricsToken) and is readable by ${who} (mode ${shown})`,
      ),
    ]);
    expect(mode(file)).toBe(m);
  });

  it('gets no warning when only its owner may read it, or when it holds no secret', async () => {
    const own = configFile(TABLES, 0o600);
    expect(
      warnings((await adminInProcess(['keys', 'create', '--principal', 'p', '--config', own])).stderr),
    ).toEqual([]);
    const open = configFile({ ...TABLES, auth: { keys: [KEY] } }, 0o644);
    const revoked = await adminInProcess(['keys', 'revoke', KEY.accessKeyId, '--config', open]);
    expect(revoked.code).toBe(0);
    expect(warnings(revoked.stderr)).toEqual([]);
    expect(mode(open)).toBe(0o644);
  });

  it('keeps its mode when the CLI runs under a umask that would narrow it (the proxy reads it through its group)', async () => {
    const file = configFile({ ...TABLES, auth: { keys: [KEY] } }, 0o640);
    const grant = ['grants', 'add', '--principal', 'p', '--table', 'trades', '--all', '--config', file];
    const { code } = await startAdmin(grant, { umask: '077' }).done;
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).grants).toHaveLength(1);
    expect(mode(file)).toBe(0o640);
  });

  it.skipIf(notRoot !== undefined)(
    withReason(
      'keeps its owner and group when root edits it (the proxy, its owner, can still read it)',
      notRoot,
    ),
    async () => {
      const file = configFile({ ...TABLES, auth: { keys: [KEY] } }, 0o600);
      chownSync(file, 4321, 4322);
      const r = await adminInProcess(['keys', 'revoke', KEY.accessKeyId, '--config', file]);
      expect(r.code).toBe(0);
      const st = statSync(file);
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([4321, 4322, 0o600]);
      expect(JSON.parse(readFileSync(file, 'utf8')).auth.keys).toEqual([]);
    },
  );

  it.skipIf(notAsOther !== undefined)(
    withReason(
      "is not handed to another user who may edit it: the edit fails, the file stays its owner's",
      notAsOther,
    ),
    async () => {
      // The proxy's file (uid 4321), which its group (1234) may edit, in a directory anyone may write.
      const shared = mkdtempSync(path.join(tmpdir(), 'admin-shared-'));
      chmodSync(shared, 0o777);
      const file = path.join(shared, 'config.json');
      writeFileSync(file, JSON.stringify(TABLES));
      chownSync(file, 4321, 1234);
      chmodSync(file, 0o660);
      const before = readFileSync(file, 'utf8');
      try {
        const grant = ['grants', 'add', '--principal', 'p', '--table', 'trades', '--all', '--config', file];
        const r = await startAdmin(grant, { id: 1234 }).done;
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(
          `error: ${file}: cannot keep its owner and group (4321:1234) when replacing it (EPERM): run as its owner or root; nothing changed`,
        );
        const st = statSync(file);
        expect([st.uid, st.gid, st.mode & 0o777]).toEqual([4321, 1234, 0o660]);
        expect(readFileSync(file, 'utf8')).toBe(before);
      } finally {
        rmSync(shared, { recursive: true, force: true });
      }
    },
  );

  it('gets one warning from the proxy as it loads it, naming the file and mode, never a secret', () => {
    const secret = 'w'.repeat(40);
    const config = { ...TABLES, auth: { keys: [{ ...KEY, secretAccessKey: secret }] } };
    const seen: [string, Record<string, unknown> | undefined][] = [];
    const warn = (message: string, fields?: Record<string, unknown>) => seen.push([message, fields]);
    loadConfig({ file: configFile(config, 0o600), env: {}, warn });
    loadConfig({ file: configFile(TABLES, 0o644), env: {}, warn });
    expect(seen).toEqual([]);
    const open = configFile(config, 0o644);
    loadConfig({ file: open, env: {}, warn });
    expect(seen).toEqual([
      [
        `${open} holds secrets (secret access keys) and is readable by group and others (mode 0644): chmod 600 ${open} (or 640 if the proxy reads it through its group)`,
        { file: open, mode: '0644' },
      ],
    ]);
    expect(JSON.stringify(seen)).not.toContain(secret);
  });
});
