/**
 * The client helper (client/, SPEC §6.1) in front of a presigned-mode proxy: boto3, the aws cli
 * and pyarrow read a table through it, every GetObject is answered with a 307 (the proxy's audit
 * events), the helper follows each one without the client's Authorization (what reached "S3"),
 * and the bytes are the backend's. Both ways of reaching the helper are exercised: as the
 * endpoint (Host forwarded as received) and as an HTTP proxy in front of an https proxy, which
 * is how it works with a Lambda Function URL (the client signs for the proxy's own host).
 */

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { clientEnv, unavailable } from '../auth/helpers/python-env';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type RecordingRelay, startRecordingRelay } from '../helpers/recording-relay';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  REPO_ROOT,
  type S3Server,
  startS3rver,
} from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';
import { pythonPackageMissing, withReason } from '../helpers/skips';
import { tempDir } from '../helpers/temp-dir';
import { startTlsFront, type TlsFront } from '../helpers/tls-front';

const run = promisify(execFile);
const boto3Missing = await unavailable('python3', ['-c', 'import boto3']);
const awsMissing = await unavailable('aws', ['--version']);
const pyarrowMissing = pythonPackageMissing('pyarrow', 'pyarrow.parquet, pyarrow.fs');
const polarsMissing = await unavailable('python3', ['-c', 'import polars']);
const opensslMissing = await unavailable('openssl', ['version']);

let s3: S3Server;
let relay: RecordingRelay;
let proxy: RunningProxy;
let helper: ClientHelper;
let active: string[];
/** sha256 of every object under the table's root on the backend, by virtual key. */
const backendSha = new Map<string, string>();

beforeAll(async () => {
  s3 = await startS3rver();
  active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
  relay = await startRecordingRelay(s3.endpoint, { verifyPresigned: BACKEND_CREDENTIALS });
  proxy = await startProxy(
    { ...s3, endpoint: relay.endpoint },
    {
      tableMapping: { sales: 's3://lake/w/sales' },
      getMode: 'presignedUrl',
      proxyPartial: false,
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
    },
  );
  helper = await startClientHelper({ target: proxy.url });
  const backend = backendClient(s3.endpoint);
  for (const key of [...granted(), ...(await logKeys())]) {
    const got = await backend.send(new GetObjectCommand({ Bucket: 'lake', Key: `w/${key}` }));
    backendSha.set(key, sha256(Buffer.from(await got.Body!.transformToByteArray())));
  }
  backend.destroy();
});
afterAll(async () => {
  await helper?.close();
  await proxy?.stop();
  await relay?.stop();
  await s3?.stop();
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const granted = () => active.filter((p) => p.startsWith('region=EU/')).map((p) => `sales/${p}`);
async function logKeys(): Promise<string[]> {
  const got = await proxy
    .client()
    .send(new GetObjectCommand({ Bucket: 'datalake', Key: 'sales/_delta_log/_last_checkpoint' }));
  await got.Body!.transformToByteArray();
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const listed = await proxy
    .client()
    .send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/_delta_log/' }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

/** Every GetObject since `from` was answered with a 307, and every follow-up reached S3 without Authorization. */
function expectAllRedirected(fromEvent: number, fromRelay: number): number {
  const gets = proxy.events.slice(fromEvent).filter((e) => e.op === 'GetObject');
  expect(gets.length).toBeGreaterThan(0);
  expect(gets.map((e) => e.status)).toEqual(gets.map(() => 307));
  expect(gets.every((e) => !e.proxied && e.userAgent?.startsWith('delta-proxy-client/'))).toBe(true);
  const followed = relay.requests.slice(fromRelay).filter((r) => r.presigned);
  expect(followed.length).toBe(gets.length);
  expect(followed.filter((r) => r.authorization)).toEqual([]);
  expect(followed.every((r) => r.status === 200 || r.status === 206)).toBe(true);
  return gets.length;
}

async function python(client: 'boto3' | 'pyarrow', endpoint: string, httpProxy?: string) {
  const args = { client, endpoint, proxy: httpProxy, ...ANALYST, prefix: 'sales/' };
  const { stdout } = await run(
    'python3',
    [join(REPO_ROOT, 'test/integration/clients/read_table.py'), JSON.stringify(args)],
    {
      env: clientEnv('us-east-1', ANALYST),
      timeout: 120_000,
    },
  );
  return JSON.parse(stdout);
}

async function expectedIds(): Promise<number[]> {
  return expectedIdsOf(granted());
}

async function expectedIdsOf(keys: string[]): Promise<number[]> {
  const backend = backendClient(s3.endpoint);
  const ids: number[] = [];
  for (const key of keys) {
    const got = await backend.send(new GetObjectCommand({ Bucket: 'lake', Key: `w/${key}` }));
    const bytes = await got.Body!.transformToByteArray();
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    for (const row of await parquetReadObjects({ file, columns: ['id'] })) ids.push(Number(row.id));
  }
  backend.destroy();
  return ids.sort((a, b) => a - b);
}

describe("the helper's --verbose lines", () => {
  it('name method, path and status, never a query: no signature, presigned URL or token', async () => {
    const lines: string[] = [];
    const verbose = await startClientHelper({ target: proxy.url, log: (l) => lines.push(l) });
    try {
      const file = granted()[0]!;
      const fromRelay = relay.requests.length;
      // Header-signed: the helper follows the 307 to a presigned URL itself.
      const followed = await signedFetch(
        verbose.url,
        'GET',
        `/datalake/${encodeKeyPath(file)}`,
        '',
        {},
        ANALYST,
      );
      expect(followed.status).toBe(200);
      expect(relay.requests.slice(fromRelay).some((r) => r.presigned)).toBe(true);
      // A presigned request to the proxy carries its signature (and a token) in the query.
      const query = `X-Amz-Security-Token=client-session-token&X-Amz-Signature=${'ab'.repeat(32)}`;
      const refused = await signedFetch(
        verbose.url,
        'GET',
        '/datalake',
        `list-type=2&${query}`,
        {},
        undefined,
      );
      expect(refused.status).toBe(400);
    } finally {
      await verbose.close();
    }
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^GET \/datalake\/sales\/\S+ 200 \(followed 1\)$/);
    expect(lines[1]).toBe('GET /datalake 400');
    // The signature's own run of "ab" (a file name's random hex may hold "abab": ci41 met one).
    expect(lines.join('\n')).not.toMatch(/[?&]|X-Amz|session-token|(ab){8}/);
  });
});

describe('through the helper as the endpoint', () => {
  it.skipIf(boto3Missing !== undefined)(
    withReason('boto3 lists the table and downloads every object straight from S3', boto3Missing),
    async () => {
      const [e, r] = [proxy.events.length, relay.requests.length];
      const report = await python('boto3', helper.url);
      expect(Object.keys(report.objects).sort()).toEqual([...backendSha.keys()].sort());
      for (const [key, digest] of Object.entries(report.objects))
        expect(digest, key).toBe(backendSha.get(key));
      expect(report.ranged).toBe('PAR1');
      expect(report.rangedStatus).toBe(206);
      expect(relay.presignedRequests().at(-1)?.range).toBe('bytes=0-3');
      expect(expectAllRedirected(e, r)).toBe(backendSha.size + 1);
    },
  );

  it.skipIf(awsMissing !== undefined)(
    withReason('the aws cli copies the table recursively, every GET redirected', awsMissing),
    async () => {
      const [e, r] = [proxy.events.length, relay.requests.length];
      const out = tempDir('helper-cli-');
      await run(
        'aws',
        ['s3', 'cp', '--recursive', 's3://datalake/sales/', out, '--endpoint-url', helper.url],
        {
          env: clientEnv('us-east-1', ANALYST),
          timeout: 120_000,
        },
      );
      const files = walk(out).map((f) => `sales/${relative(out, f)}`);
      expect(files.sort()).toEqual([...backendSha.keys()].sort());
      for (const f of files)
        expect(sha256(readFileSync(join(out, f.slice('sales/'.length)))), f).toBe(backendSha.get(f));
      expect(expectAllRedirected(e, r)).toBe(backendSha.size);
    },
  );

  it.skipIf(pyarrowMissing !== undefined)(
    withReason('pyarrow reads the granted partitions as a dataset', pyarrowMissing),
    async () => {
      const [e, r] = [proxy.events.length, relay.requests.length];
      const report = await python('pyarrow', helper.url);
      expect(report.ids).toEqual(await expectedIds());
      expectAllRedirected(e, r);
    },
  );

  it.skipIf(polarsMissing !== undefined)(
    withReason('polars reads a granted file, its ranged GETs redirected', polarsMissing),
    async () => {
      const [e, r] = [proxy.events.length, relay.requests.length];
      const args = { client: 'polars', endpoint: helper.url, ...ANALYST, key: granted()[0] };
      const { stdout } = await run(
        'python3',
        [join(REPO_ROOT, 'test/integration/clients/get_once.py'), JSON.stringify(args)],
        { env: clientEnv('us-east-1', ANALYST), timeout: 60_000 },
      );
      const ids = (await expectedIdsOf([granted()[0]!])).length;
      expect(JSON.parse(stdout)).toEqual({ rows: ids });
      expectAllRedirected(e, r);
    },
  );

  it('passes Range through to S3 and the 206 back', async () => {
    const key = granted()[0]!;
    const path = `/datalake/${encodeKeyPath(key)}`;
    const r = await signedFetch(helper.url, 'GET', path, '', { range: 'bytes=0-3' }, ANALYST);
    expect(r.status).toBe(206);
    expect(r.text).toBe('PAR1');
    expect(r.headers['content-range']).toMatch(/^bytes 0-3\/\d+$/);
    expect(proxy.events.at(-1)).toMatchObject({ status: 307 });
    expect(relay.presignedRequests().at(-1)).toMatchObject({
      range: 'bytes=0-3',
      status: 206,
      authorization: false,
    });
  });

  it('asks S3 for checksums when the client does, without an unsigned x-amz-* header', async () => {
    // S3 sends checksum headers only to a request with checksum mode; the helper never sends an
    // x-amz-* header to a presigned URL (S3 refuses unsigned ones), so the URL carries it, signed.
    const path = `/datalake/${encodeKeyPath(granted()[0]!)}`;
    const r = await signedFetch(helper.url, 'GET', path, '', { 'x-amz-checksum-mode': 'ENABLED' }, ANALYST);
    expect(r.status).toBe(200);
    expect(proxy.events.at(-1)).toMatchObject({ status: 307 });
    const followed = relay.presignedRequests().at(-1)!;
    expect(followed).toMatchObject({ status: 200, amzHeaders: [], signatureRefused: undefined });
    expect(followed.params).toContain('x-amz-checksum-mode');
  });

  it('hands refusals through untouched, and follows nothing for them', async () => {
    const forbidden = `sales/${active.find((p) => p.startsWith('region=US/'))}`;
    const r = await signedFetch(helper.url, 'GET', `/datalake/${encodeKeyPath(forbidden)}`, '', {}, ANALYST);
    expect(r.status).toBe(403);
    expect(r.text).toContain('<Code>AccessDenied</Code>');
    const wrongKey = await signedFetch(
      helper.url,
      'GET',
      '/datalake/sales/x',
      '',
      {},
      { ...ANALYST, secretAccessKey: 'wrong-secret-0000' },
    );
    expect(wrongKey.text).toContain('<Code>SignatureDoesNotMatch</Code>');
  });
});

describe.skipIf(opensslMissing !== undefined)(
  withReason('through the helper as an HTTP proxy, in front of an https proxy', opensslMissing),
  () => {
    let tls: TlsFront;
    let viaProxy: ClientHelper;
    beforeAll(async () => {
      tls = await startTlsFront(proxy.url);
      viaProxy = await startClientHelper({ target: tls.url, ca: tls.ca });
    });
    afterAll(async () => {
      await viaProxy?.close();
      await tls?.stop();
    });
    // The client's endpoint is the proxy's own host over http: it signs for that host, and the
    // helper carries that Host over https to the proxy (a Function URL routes by it).
    const endpoint = () => `http://${new URL(tls.url).host}`;

    it.skipIf(boto3Missing !== undefined)(
      withReason('boto3 reads the table, every GET redirected', boto3Missing),
      async () => {
        const [e, r] = [proxy.events.length, relay.requests.length];
        const report = await python('boto3', endpoint(), viaProxy.url);
        expect(Object.keys(report.objects).sort()).toEqual([...backendSha.keys()].sort());
        for (const [key, digest] of Object.entries(report.objects))
          expect(digest, key).toBe(backendSha.get(key));
        expectAllRedirected(e, r);
        expect(tls.requests).toBeGreaterThan(0);
      },
    );

    it.skipIf(awsMissing !== undefined)(
      withReason('the aws cli copies the table with HTTP_PROXY set', awsMissing),
      async () => {
        const [e, r] = [proxy.events.length, relay.requests.length];
        const out = tempDir('helper-cli-');
        await run(
          'aws',
          ['s3', 'cp', '--recursive', 's3://datalake/sales/', out, '--endpoint-url', endpoint()],
          {
            env: { ...clientEnv('us-east-1', ANALYST), HTTP_PROXY: viaProxy.url },
            timeout: 120_000,
          },
        );
        expect(walk(out).length).toBe(backendSha.size);
        expectAllRedirected(e, r);
      },
    );

    it.skipIf(pyarrowMissing !== undefined)(
      withReason('pyarrow reads the dataset with proxy_options', pyarrowMissing),
      async () => {
        const [e, r] = [proxy.events.length, relay.requests.length];
        const report = await python('pyarrow', endpoint(), viaProxy.url);
        expect(report.ids).toEqual(await expectedIds());
        expectAllRedirected(e, r);
      },
    );

    it('forwards only to its target host, and refuses to tunnel', async () => {
      const other = await rawRequest(viaProxy.url, { path: 'http://example.com/datalake/x', method: 'GET' });
      expect(other.status).toBe(403);
      expect(other.body).toContain('forwards only to');
      const tunnel = await rawRequest(viaProxy.url, { path: new URL(tls.url).host, method: 'CONNECT' });
      expect(tunnel.status).toBe(405);
    });
  },
);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

function rawRequest(
  base: string,
  options: { path: string; method: string },
): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname: url.hostname, port: url.port, ...options, timeout: 10_000 });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // CONNECT answers arrive as 'connect' when 2xx; a refusal closes the socket after the status.
    req.on('connect', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}
