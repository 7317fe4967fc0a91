/**
 * `npm start`: the embedded demo (s3rver, demo table, random key, proxy) prints the documented
 * lines, serves real SDK clients, and stops everything on Ctrl-C; `--config FILE` (or the
 * PROXY_* variables with PROXY_TABLE_MAPPING) runs the proxy alone; a bad config stops start-up
 * with one line naming the field.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/s3-servers';
import { START_ENTRY, START_NODE_FLAGS } from '../helpers/start-command';
import { tempDir } from '../helpers/temp-dir';

function startMain(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [...START_NODE_FLAGS, START_ENTRY, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PROXY_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function collect(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return { out: () => out, err: () => err };
}

/** What a failed start wrote to stderr, a line each, without the AWS SDK's Node version notice. */
function errorLines(io: { err: () => string }): string[] {
  return io
    .err()
    .trim()
    .split('\n')
    .filter((l) => !l.includes('NodeVersionSupportWarning'));
}

// Bounds against a hang, not timings: each start transpiles the proxy's sources (tsx), which on a
// loaded 2-core machine took over 10 s.
async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function exited(child: ChildProcess, ms = 60_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('did not exit in time'));
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

describe('npm start', { timeout: 240_000 }, () => {
  it('runs the embedded demo, serves the printed key, and stops on Ctrl-C', async () => {
    const child = startMain([]);
    const io = collect(child);
    try {
      await until(() => /# backend/.test(io.out()), 'the demo banner');
      const lines = io.out().split('\n');
      const value = (name: string) => lines.find((l) => l.startsWith(`${name}=`))?.slice(name.length + 1);
      expect(lines[0]).toMatch(/^AWS_ENDPOINT_URL=http:\/\/127\.0\.0\.1:\d+$/);
      expect(lines[1]).toMatch(/^AWS_ACCESS_KEY_ID=\S+$/);
      expect(lines[2]).toMatch(/^AWS_SECRET_ACCESS_KEY=\S+$/);
      expect(lines[3]).toBe('AWS_REGION=us-east-1');
      expect(io.out()).toMatch(
        /aws s3 ls .*s3:\/\/datalake\/sales\/ --endpoint-url http:\/\/127\.0\.0\.1:\d+/,
      );
      expect(io.out()).toMatch(/polars/);

      const client = new S3Client({
        endpoint: value('AWS_ENDPOINT_URL'),
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: {
          accessKeyId: value('AWS_ACCESS_KEY_ID')!,
          secretAccessKey: value('AWS_SECRET_ACCESS_KEY')!,
        },
      });
      const listed = await client.send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/' }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!);
      const data = keys.filter((k) => k.endsWith('.parquet') && !k.includes('_delta_log'));
      expect(data.length).toBeGreaterThanOrEqual(3);
      expect(
        data.every(
          (k) => k.startsWith('sales/region=EU/') || k.startsWith('sales/region=US/date=2024-01-01/'),
        ),
      ).toBe(true);
      expect(keys.some((k) => k.endsWith('.checkpoint.parquet'))).toBe(true);
      const got = await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: data[0] }));
      const bytes = await got.Body!.transformToByteArray();
      expect(Buffer.from(bytes.subarray(0, 4)).toString()).toBe('PAR1');
      client.destroy();

      // The printed metrics URL serves this process's Prometheus text: a list and a GET so far.
      const metricsUrl = /# Prometheus metrics: curl (\S+)/.exec(io.out())![1]!;
      expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
      expect(text).toMatch(/^deltaproxy_queries_served_total\{[^}]*\} 2$/m);
      expect(text).toMatch(/^deltaproxy_queries_proxied_total\{[^}]*\} 1$/m);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited(child)).toBe(0);
  });

  it('runs the proxy alone with --config FILE and refuses a bad config with one line', async () => {
    const dir = tempDir('cfg-');
    const good = join(dir, 'good.json');
    const secret = 'g'.repeat(40);
    writeFileSync(
      good,
      JSON.stringify({
        port: 0,
        metricsPort: 0,
        tableMapping: { t: 's3://some-bucket/t' },
        s3: { endpoint: 'http://127.0.0.1:9' },
        auth: { keys: [{ accessKeyId: 'DLPSTARTKEY000000001', secretAccessKey: secret, principal: 'p' }] },
      }),
    );
    chmodSync(good, 0o644); // a secret that group and others may read: one warning at start-up
    const child = startMain(['--config', good]);
    const io = collect(child);
    try {
      await until(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(io.err()), 'the listening line');
      const warned = io
        .err()
        .split('\n')
        .filter((l) => l.includes('"level":"warn"'));
      expect(warned).toEqual([
        expect.stringContaining(`"message":"${good} holds secrets (secret access keys)`),
      ]);
      expect(JSON.parse(warned[0]!)).toMatchObject({ file: good, mode: '0644' });
      expect(io.err()).not.toContain(secret);
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.err())![1]!;
      const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(5_000) });
      // No anonymous access by default: an unsigned request is refused in S3 XML.
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('<Code>AccessDenied</Code>');
      const metricsUrl = /metrics on (\S+)/.exec(io.err())![1]!;
      const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
      expect(text).toMatch(/^deltaproxy_auth_failures_total\{code="AccessDenied",[^}]*\} 1$/m);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ tableMapping: { t: 'https://nope' } }));
    const failing = startMain(['--config', bad]);
    const fio = collect(failing);
    expect(await exited(failing)).toBe(1);
    const errLines = errorLines(fio);
    expect(errLines).toEqual([
      expect.stringMatching(/^configuration error: tableMapping\.t: must be an s3:\/\/bucket\/prefix URI/),
    ]);
  });

  it.each([
    [
      'the file PROXY_CONFIG_FILE names',
      () => {
        const file = join(tempDir('cfg-'), 'config.json');
        writeFileSync(file, JSON.stringify({ metricsPort: 0, tableMapping: { t: 's3://some-bucket/t' } }));
        return { PROXY_CONFIG_FILE: file };
      },
      't',
    ],
    [
      'PROXY_* variables alone once PROXY_TABLE_MAPPING is set, as the Lambda function runs',
      () => ({
        PROXY_TABLE_MAPPING: '{"trades":"s3://some-bucket/gold/trades"}',
        PROXY_METRICS_PORT: '0',
        PROXY_GET_MODE: 'presignedUrl',
      }),
      'trades',
    ],
  ])('runs the proxy from %s, never the demo in its place', async (_, env, table) => {
    const child = startMain([], env());
    const io = collect(child);
    try {
      await until(() => io.err().includes(`(tables: ${table})`), 'the listening line');
      expect(io.out()).not.toContain('AWS_ACCESS_KEY_ID=');
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.err())![1]!;
      const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(5_000) });
      expect(res.status).toBe(403); // no key, no anonymous access: the configured proxy, not the demo
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);
  });

  // A supervisor or a script stops `npm start` by signalling npm's own process, not its group as a
  // terminal's Ctrl-C does: npm passes the signal to its child only, so the proxy must be that child.
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'run through npm itself, stops the proxy when npm alone gets %s',
    async (signal) => {
      const file = join(tempDir('cfg-'), 'config.json');
      writeFileSync(
        file,
        JSON.stringify({ port: 0, metricsPort: 0, tableMapping: { t: 's3://some-bucket/t' } }),
      );
      // Its own process group, so that whatever npm leaves behind is killed below.
      const npm = spawn('npm', ['start', '--', '--config', file], {
        cwd: REPO_ROOT,
        env: { ...process.env, npm_config_update_notifier: 'false' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const io = collect(npm);
      try {
        await until(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(io.err()), 'the listening line');
        const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.err())![1]!;
        npm.kill(signal);
        await exited(npm); // npm ends by its own signal again, with no exit code
        // npm is gone; so is the proxy it ran: its port no longer answers.
        const answered = await fetch(`${url}/`, { signal: AbortSignal.timeout(5_000) }).then(
          (r) => r.status,
          () => 'refused',
        );
        expect(answered).toBe('refused');
      } finally {
        try {
          process.kill(-npm.pid!, 'SIGKILL');
        } catch {
          // the whole group already exited
        }
      }
    },
  );

  // npm runs the script in the repository's root whatever directory it was typed in (INIT_CWD).
  it('run through npm from another directory, reads the relative --config of that directory', async () => {
    const dir = tempDir('cfg-');
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ port: 0, metricsPort: 0, tableMapping: { here: 's3://some-bucket/here' } }),
    );
    const npm = spawn('npm', ['--prefix', REPO_ROOT, 'start', '--', '--config', 'config.json'], {
      cwd: dir,
      env: { ...process.env, npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const io = collect(npm);
    try {
      await until(() => io.err().includes('(tables: ') || npm.exitCode !== null, 'start-up or its end');
      expect(io.err()).not.toContain('cannot read');
      expect(io.err()).toContain('(tables: here)');
    } finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        // the whole group already exited
      }
    }
  });

  // The demo holds 18080 and 9090 while README's example config moves only `port`: the metrics
  // listener then meets a taken port, and the line must say which setting to change.
  it.each(['port', 'metricsPort'] as const)(
    'stops with one line naming %s when that port is taken',
    async (field) => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const busy = (taken.address() as AddressInfo).port;
      try {
        const file = join(tempDir('cfg-'), 'config.json');
        writeFileSync(
          file,
          JSON.stringify({
            port: 0,
            metricsPort: 0,
            [field]: busy,
            tableMapping: { t: 's3://some-bucket/t' },
          }),
        );
        // startMain sets PROXY_PORT=0, which would override the file's port.
        const child = startMain(['--config', file], { PROXY_PORT: String(field === 'port' ? busy : 0) });
        const io = collect(child);
        expect(await exited(child)).toBe(1);
        const errLines = errorLines(io);
        expect(errLines).toEqual([
          `configuration error: ${field}: ${busy} is in use on 127.0.0.1: choose another (0: any free port)`,
        ]);
      } finally {
        await new Promise((resolve) => taken.close(resolve));
      }
    },
  );

  it.each([
    ['an empty --config', ['--config', ''], {}, /^configuration error: config file: empty/],
    [
      'a PROXY_* setting the demo would ignore',
      [],
      { PROXY_GET_MODE: 'presignedUrl' },
      /^configuration error: PROXY_GET_MODE: the demo \(npm start without --config\) does not read it/,
    ],
  ])('stops with one line on %s instead of starting the demo', async (_, args, env, line) => {
    const child = startMain(args, env);
    const io = collect(child);
    expect(await exited(child)).toBe(1);
    const errLines = errorLines(io);
    expect(errLines).toEqual([expect.stringMatching(line)]);
    expect(io.out()).toBe('');
  });
});
