/**
 * `npm start` at its edges (test/integration/npm-start.test.ts has the demo and --config FILE):
 * run through npm itself it stops when npm alone gets SIGTERM or SIGINT; typed in another
 * directory it reads that directory's relative --config; a taken port or metricsPort stops it
 * with one line naming the setting; PROXY_CONFIG_FILE or PROXY_* variables start the configured
 * proxy, never the demo; an empty --config or a PROXY_* setting the demo would ignore stops it.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect } from '../helpers/child-output';
import { errorLines, exited, startMain, until } from '../helpers/npm-start-run';
import { REPO_ROOT } from '../helpers/s3-servers';
import { tempDir } from '../helpers/temp-dir';

describe('npm start at its edges', { timeout: 240_000 }, () => {
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
