/**
 * `npx delta-proxy-client`: what it prints, how it refuses bad arguments, and that it stops when
 * what started it is gone.
 */
import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startHelperProcess } from '../helpers/helper-process';
import { REPO_ROOT } from '../helpers/s3-servers';

const run = promisify(execFile);
const BIN = join(REPO_ROOT, 'bin/delta-proxy-client.mjs');

describe('delta-proxy-client command', () => {
  it('prints the helper as the endpoint for an http proxy', async () => {
    const helper = await startHelperProcess(['--target', 'http://127.0.0.1:18080', '--port', '0']);
    try {
      expect(helper.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(helper.output()).toContain(`AWS_ENDPOINT_URL=${helper.url}`);
    } finally {
      await helper.stop();
    }
  });

  it('takes --allow-redirect-host, repeated', async () => {
    const helper = await startHelperProcess([
      '--target',
      'https://abc123.lambda-url.eu-west-1.on.aws',
      '--port',
      '0',
      '--allow-redirect-host',
      'minio.internal',
      '--allow-redirect-host',
      '127.0.0.1',
    ]);
    try {
      expect(helper.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await helper.stop();
    }
  });

  it("prints the proxy's own host over http plus HTTP_PROXY for an https proxy (a Function URL)", async () => {
    const target = 'https://abc123.lambda-url.eu-west-1.on.aws';
    const helper = await startHelperProcess(['--target', target, '--port', '0']);
    try {
      expect(helper.output()).toContain('AWS_ENDPOINT_URL=http://abc123.lambda-url.eu-west-1.on.aws');
      expect(helper.output()).toContain(`HTTP_PROXY=${helper.url}`);
    } finally {
      await helper.stop();
    }
  });

  it.each([
    [[], /usage: delta-proxy-client --target URL/],
    [['--target', 'https://host/with/path'], /origin only/],
    [['--target', 'ftp://host'], /http\(s\)/],
    [['--target', 'http://127.0.0.1:1', '--port', 'x'], /--port must be 0-65535/],
    [['--bogus'], /Unknown option/],
  ])('refuses %j with a message and a non-zero exit', async (args, message) => {
    const failure = await run(process.execPath, [BIN, ...args], { timeout: 30_000 }).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(failure?.code).toBeGreaterThan(0);
    expect(failure?.stderr).toMatch(message);
  });

  it.each([
    ['under npx, stops', 'exec', false],
    ['run by node itself (nohup, a shell that exits), goes on', undefined, true],
  ])('when the process that started it dies: %s', async (_, npmCommand, stillServing) => {
    // As npx runs a bin: a shell that runs node as a child (`; true` keeps sh from exec'ing it),
    // npm_command=exec in its environment.
    const env = { ...process.env };
    delete env.npm_command;
    if (npmCommand) env.npm_command = npmCommand;
    const sh = spawn(
      'sh',
      ['-c', `"${process.execPath}" "${BIN}" --target http://127.0.0.1:18080 --port 0; true`],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env,
      },
    );
    let helperPid = 0;
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('delta-proxy-client did not start within 30 s')),
          30_000,
        );
        sh.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /delta-proxy-client on (\S+) /.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      helperPid = Number((await run('pgrep', ['-P', String(sh.pid)])).stdout.trim().split('\n')[0]);
      const port = Number(new URL(url).port);
      const accepts = () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          socket.once('connect', () => {
            socket.destroy();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
        });
      expect(await accepts()).toBe(true);
      sh.kill('SIGTERM');
      let open = true;
      for (let i = 0; i < (stillServing ? 30 : 100) && open; i++) {
        await new Promise((r) => setTimeout(r, 50));
        open = await accepts();
      }
      expect(open, 'whether the helper still listens after its parent died').toBe(stillServing);
    } finally {
      for (const pid of [sh.pid, helperPid])
        if (pid)
          try {
            process.kill(pid, 'SIGKILL');
          } catch {}
    }
  });
});
