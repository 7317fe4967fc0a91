/**
 * A request node's parser refuses while the connection still has an answer in progress: pipelined
 * after a good request, or as the chunked body of a request whose headers already reached the core.
 * The client gets every answer in the order it asked, the refusal as one S3 XML 400, and each
 * request is recorded once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeServer } from '../../lambda/adapters/node-server';
import type { ProxyHandler } from '../../lambda/core/types';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, type ServeFn, startProxy } from '../helpers/proxy-harness';
import { rawSocket } from '../helpers/raw-http';
import { expectErrorDocument } from '../helpers/s3-error-document';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { encodeKeyPath, signHeaders } from '../helpers/signed-fetch';

let s3: S3Server;
let proxy: RunningProxy;
let dataPath: string;
/** Core calls not settled yet (the harness's handler, wrapped). */
let unsettled = 0;

const serve: ServeFn = async (handler: ProxyHandler, options) => {
  const counted: ProxyHandler = (req) => {
    unsettled++;
    return handler(req).finally(() => unsettled--);
  };
  const s = await startNodeServer(counted, '127.0.0.1', 0, options);
  return { url: s.url, close: () => s.close() };
};

beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(c, 'lake', 'tables/sales/', await writeSpecialTable(['EU'], ['2024-01-01']));
  const data = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!;
  dataPath = `/datalake/${encodeKeyPath(data.replace('tables/', ''))}`;
  proxy = await startProxy(
    s3,
    {
      tableMapping: { sales: 's3://lake/tables/sales' },
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
    },
    serve,
  );
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

async function signedGet(extra = ''): Promise<string> {
  const signed = await signHeaders(proxy.url, 'GET', dataPath, '', {}, ANALYST);
  const headers = Object.entries(signed)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `GET ${dataPath} HTTP/1.1\r\n${headers}${extra}`;
}

/** Waits (bounded) until every core call has settled, then for one more answered request. */
async function settled(): Promise<void> {
  for (let i = 0; i < 200 && unsettled > 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(unsettled).toBe(0);
  const sentinel = await rawSocket(
    proxy.url,
    'GET /datalake HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  expect(sentinel).toMatch(/^HTTP\/1\.1 403/);
}

function statusLines(out: string): string[] {
  return out.match(/HTTP\/1\.1 \d{3}/g) ?? [];
}

describe('a parser refusal on a connection with an answer in progress', () => {
  beforeAll(async () => {
    // Load the table once, so the requests below are answered from the cached snapshot.
    const warm = await rawSocket(proxy.url, `${await signedGet()}Connection: close\r\n\r\n`);
    expect(warm).toMatch(/^HTTP\/1\.1 200/);
  });

  it('answers a pipelined good request in full, then the malformed one with S3 XML 400', async () => {
    const before = proxy.events.length;
    const out = await rawSocket(proxy.url, `${await signedGet()}\r\nG@T / HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(statusLines(out)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(out.indexOf('PAR1')).toBeGreaterThan(0);
    expect(out.indexOf('PAR1')).toBeLessThan(out.indexOf('HTTP/1.1 400'));
    expect(expectErrorDocument(out.slice(out.indexOf('<?xml')))).toBe('InvalidRequest');
    await settled();
    expect(proxy.events.slice(before, -1).map((e) => [e.status, e.code ?? null])).toEqual([
      [200, null],
      [400, 'InvalidRequest'],
    ]);
  });

  it('answers a signed GET whose chunked body the parser refuses with one S3 XML 400, recorded once', async () => {
    const before = proxy.events.length;
    const out = await rawSocket(proxy.url, `${await signedGet('Transfer-Encoding: chunked\r\n')}\r\nzz\r\n`);
    expect(statusLines(out)).toEqual(['HTTP/1.1 400']);
    expect(expectErrorDocument(out.slice(out.indexOf('<?xml')))).toBe('InvalidRequest');
    expect(out).not.toContain('PAR1');
    await settled();
    const events = proxy.events.slice(before, -1);
    expect(events.map((e) => [e.status, e.code, e.decision])).toEqual([[400, 'InvalidRequest', 'deny']]);
    expect(out).toContain(`x-amz-request-id: ${events[0]!.requestId}`);
  });
});
