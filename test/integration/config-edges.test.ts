/**
 * Configuration edges: a file that is not a JSON object, messages naming their field once, a
 * local DynamoDB endpoint without a region, and the two local listeners on one port.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNodeServer } from '../../lambda/adapters/node-server';
import { createProxy, nodeServerOptions } from '../../lambda/bootstrap';
import { loadConfig, parseConfig } from '../../lambda/config';
import { jsonLogger } from '../../lambda/core/logger';
import { adminInProcess } from '../helpers/admin-cli';
import { type DynamoServer, startDynalite } from '../helpers/dynamo-servers';
import { signedFetch } from '../helpers/signed-fetch';
import { tempDir } from '../helpers/temp-dir';

const mapping = JSON.stringify({ trades: 's3://my-data-bucket/gold/trades' });

function fileWith(text: string): string {
  const file = join(tempDir('config-edges-'), 'config.json');
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

describe('config file contents', () => {
  it.each(['null', '[]', 'true', '42', '"abc"'])(
    'refuses a config file whose JSON is %s, not an object, naming the file',
    (text) => {
      const file = fileWith(text);
      // The admin CLI refuses such a file ("expected a JSON object"); the proxy must not start
      // from the PROXY_* variables alone as if the file were not there.
      expect(() => loadConfig({ file, env: { PROXY_TABLE_MAPPING: mapping } })).toThrow(
        `${file}: expected a JSON object`,
      );
    },
  );
});

describe('start-up messages', () => {
  it('names listingTokenKey once in its own message', () => {
    let message = '';
    try {
      parseConfig({ tableMapping: JSON.parse(mapping), listingTokenKey: 'too-short' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^listingTokenKey: /);
    expect(message.match(/listingTokenKey/g)).toHaveLength(1);
  });
});

describe('DynamoDB without a region', () => {
  let dynamo: DynamoServer;
  const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };

  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo.stop();
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('serves a key created by the admin CLI against the same local endpoint (the CLI defaults to us-east-1)', async () => {
    const table = 'edge-grants';
    expect((await adminInProcess(['init', '--dynamodb', table, '--endpoint', dynamo.endpoint])).code).toBe(0);
    const created = await adminInProcess([
      'keys',
      'create',
      '--principal',
      'analyst',
      '--dynamodb',
      table,
      '--endpoint',
      dynamo.endpoint,
      '--json',
    ]);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { accessKeyId: string; secretAccessKey: string };

    // The same machine, without AWS_REGION (as the CLI ran): the proxy's config names the
    // endpoint and no region, as the README's `database` row allows.
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    const config = loadConfig({
      env: {
        PROXY_TABLE_MAPPING: mapping,
        PROXY_DATABASE_ENABLED: 'true',
        PROXY_DATABASE: JSON.stringify({ type: 'dynamodb', tableName: table, endpoint: dynamo.endpoint }),
        PROXY_S3: JSON.stringify({ endpoint: 'http://127.0.0.1:9', forcePathStyle: true }),
      },
    });
    const logs: string[] = [];
    const reasons: (string | undefined)[] = [];
    const proxy = createProxy(config, {
      audit: false,
      observers: [{ record: (e) => reasons.push(e.reason) }],
      processMetrics: false,
      logger: jsonLogger((line) => logs.push(line)),
    });
    const server = await startNodeServer(proxy.handler, '127.0.0.1', 0, nodeServerOptions(proxy));
    try {
      const res = await signedFetch(server.url, 'GET', '/', '', {}, key);
      expect(res.status, `${res.text}\n${logs.join('\n')}\n${reasons.join('\n')}`).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('the local listeners', () => {
  it('refuses metricsPort equal to port, naming metricsPort (else: EADDRINUSE naming no field)', () => {
    expect(() => parseConfig({ tableMapping: JSON.parse(mapping), port: 19191, metricsPort: 19191 })).toThrow(
      /^metricsPort: the same port as port \(19191\)/,
    );
    // Port 0 is any free port for each: no clash.
    expect(parseConfig({ tableMapping: JSON.parse(mapping), port: 0, metricsPort: 0 }).port).toBe(0);
  });
});
