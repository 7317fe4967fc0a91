/**
 * Label cardinality under a flood of distinct values: bucket names, table aliases, keys, access
 * key ids, authorization headers, user agents, methods, paths and queries, from callers with and
 * without a valid signature. A second flood of fresh values adds no Prometheus series and no EMF
 * dimension set, and no value a caller sent appears in either.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import { startNodeServer } from '../../lambda/adapters/node-server';
import { createProxy, type ProxyInstance } from '../../lambda/bootstrap';
import { parseConfig } from '../../lambda/config';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { startLambdaHttpServer } from '../helpers/lambda-http-server';
import { installLambdaRuntimeShim } from '../helpers/lambda-runtime-shim';
import { ANALYST } from '../helpers/proxy-harness';
import { rawRequest } from '../helpers/raw-http';
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

installLambdaRuntimeShim();

let s3: S3Server;
let euFile: string;

beforeAll(async () => {
  s3 = await startS3rver();
  const active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
  euFile = active.find((p) => p.startsWith('region=EU/'))!;
});
afterAll(async () => {
  await s3?.stop();
});

function startProxy(emf: string[]): ProxyInstance {
  const config = parseConfig({
    tableMapping: { sales: 's3://lake/w/sales' },
    getMode: 'proxy',
    s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
    auth: { keys: [ANALYST] },
    grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
    // The two floods must meet the same code paths: on a loaded machine a flood can outlast the
    // default 5 s, and the snapshot refresh between them would add its own (fixed) series.
    snapshotTtlMs: 600_000,
  });
  return createProxy(config, {
    backendCredentials: BACKEND_CREDENTIALS,
    audit: false,
    processMetrics: false,
    logger: { warn: () => {}, error: () => {} },
    emf: { write: (lines) => emf.push(lines) },
  });
}

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND'];

/** One round of requests, each carrying fresh values of every kind; returns those values. */
async function flood(url: string, round: number): Promise<string[]> {
  const sent: string[] = [];
  for (let i = 0; i < 8; i++) {
    const v = `zq${round}x${i}${randomBytes(4).toString('hex')}`;
    sent.push(v);
    const ua = { 'user-agent': `agent-${v}` };
    await Promise.all([
      // Unsigned: a bucket, a method, a path and a query of its own.
      rawRequest(url, METHODS[i]!, `/bucket-${v}/key-${v}?${v}=1`, ua),
      rawRequest(url, 'GET', `/%${v}%zz/${encodeURIComponent(`\n"\\${v}`)}`, ua),
      // Garbage and unknown credentials.
      rawRequest(url, 'GET', `/datalake/sales/${v}`, {
        ...ua,
        authorization: `AWS4-HMAC-SHA256 Credential=${v}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${v}`,
      }),
      signedFetch(url, 'GET', `/datalake/${v}`, '', ua, { accessKeyId: `AKIA${v}`, secretAccessKey: v }),
      // Signed by a real key: a bucket, a table alias, a key, a listing prefix, a forbidden file.
      signedFetch(url, 'GET', `/bucket-${v}`, '', ua, ANALYST),
      signedFetch(url, 'HEAD', `/datalake/${v}/part.parquet`, '', ua, ANALYST),
      signedFetch(url, 'GET', `/datalake/sales/region=US/${v}.parquet`, '', ua, ANALYST),
      signedFetch(url, 'GET', '/datalake', `list-type=2&prefix=sales%2F${v}`, ua, ANALYST),
      signedFetch(url, 'GET', `/datalake/${encodeKeyPath(`sales/${euFile}`)}`, '', ua, ANALYST),
      signedFetch(url, 'GET', '/datalake', `list-type=${v}`, ua, ANALYST),
    ]);
  }
  return sent;
}

function prometheusSeries(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('deltaproxy_'));
}

/** The distinct dimension sets (names and values) of the EMF documents written. */
function emfDimensionSets(lines: string[]): Set<string> {
  const sets = new Set<string>();
  for (const line of lines.flatMap((l) => l.split('\n'))) {
    const doc = JSON.parse(line) as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] };
    };
    for (const directive of doc._aws.CloudWatchMetrics)
      for (const set of directive.Dimensions) sets.add(JSON.stringify(set.map((k) => [k, doc[k]])));
  }
  return sets;
}

describe.each([
  ['node:http', false],
  ['Lambda Function URL (EMF)', true],
] as const)('a flood of distinct values via %s', (_name, lambda) => {
  let proxy: ProxyInstance;
  let server: { url: string; close(): Promise<void> };
  const emf: string[] = [];

  beforeAll(async () => {
    proxy = startProxy(emf);
    server = lambda
      ? await startLambdaHttpServer(
          createLambdaHandler(async () => proxy.handler, { afterResponse: () => proxy.emf!.flush() }),
        )
      : await startNodeServer(proxy.handler, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('adds no series and no dimension set for fresh values, and echoes none of them', async () => {
    const first = await flood(server.url, 1);
    const afterFirst = prometheusSeries((await proxy.metrics.render()).body);
    const dimensionsFirst = emfDimensionSets(emf);
    const second = await flood(server.url, 2);
    const text = (await proxy.metrics.render()).body;
    const afterSecond = prometheusSeries(text);

    const names = (series: string[]) => series.map((s) => s.slice(0, s.lastIndexOf(' '))).sort();
    expect(names(afterSecond)).toEqual(names(afterFirst));
    // Every label is one of a small fixed set: at most a few dozen series in all.
    expect(afterSecond.length).toBeLessThan(120);
    for (const v of [...first, ...second]) expect(text).not.toContain(v);
    expect(text).not.toContain(ANALYST.accessKeyId);
    expect(text).not.toContain(ANALYST.principal);
    if (lambda) {
      const dimensions = emfDimensionSets(emf);
      expect([...dimensions].sort()).toEqual([...dimensionsFirst].sort());
      expect(dimensions.size).toBeLessThan(40);
      const all = emf.join('\n');
      for (const v of [...first, ...second]) expect(all).not.toContain(v);
      expect(all).not.toContain(ANALYST.accessKeyId);
    }
  });
});
