/** `npx delta-proxy-client`: what it prints, and how it refuses bad arguments. */
import { execFile } from 'node:child_process';
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
});
