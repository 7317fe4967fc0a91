/**
 * An absolute-form request target (`GET http://host:port/bucket/key HTTP/1.1`, which RFC 9112
 * §3.2.2 says a server MUST accept) is answered like the origin-form request: SigV4's canonical
 * URI is the target's path, and the target's authority is the host (the Host header is ignored).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { encodeKeyPath, signHeaders } from '../helpers/signed-fetch';

let s3: S3Server;
let proxy: RunningProxy;
let dataKey: string;
beforeAll(async () => {
  s3 = await startS3rver();
  const c = backendClient(s3.endpoint);
  await createBucket(c, 'lake');
  const keys = await uploadDir(c, 'lake', 'tables/sales/', await writeSpecialTable(['EU'], ['2024-01-01']));
  dataKey = keys.find((k) => k.endsWith('.parquet') && !k.includes('_delta_log'))!.replace('tables/', '');
  proxy = await startProxy(s3, {
    tableMapping: { sales: 's3://lake/tables/sales' },
    grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
  });
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

function send(payload: string): Promise<{ status: number; body: string }> {
  const u = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 5_000);
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (d) => chunks.push(d));
    socket.on('close', () => {
      clearTimeout(timer);
      const out = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(out.slice(9, 12)), body: out.slice(out.indexOf('\r\n\r\n') + 4) });
    });
    socket.on('error', reject);
  });
}

/** A request signed for the proxy's own URL, sent with `target` and the given Host header. */
async function signedRaw(target: string, path: string, query: string, host?: string) {
  const signed = await signHeaders(proxy.url, 'GET', path, query, {}, ANALYST);
  const headers = { ...signed, connection: 'close' } as Record<string, string>;
  if (host === undefined) delete headers.host;
  else headers.host = host;
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return send(`GET ${target} HTTP/1.1\r\n${head}\r\n`);
}

describe('absolute-form request target', () => {
  it('is answered like the origin-form request for an object', async () => {
    const path = `/datalake/${encodeKeyPath(dataKey)}`;
    const origin = await signedRaw(path, path, '', new URL(proxy.url).host);
    expect(origin.status).toBe(200);
    const r = await signedRaw(`${proxy.url}${path}`, path, '', new URL(proxy.url).host);
    expect(r.status).toBe(200);
    expect(r.body.startsWith('PAR1')).toBe(true);
  });

  it('keeps the query for a listing', async () => {
    const query = 'list-type=2&prefix=sales%2F';
    const r = await signedRaw(`${proxy.url}/datalake?${query}`, '/datalake', query, new URL(proxy.url).host);
    expect(r.status).toBe(200);
    expect(r.body).toContain('<ListBucketResult');
  });

  it('reads an empty path as "/", also before a query', async () => {
    const r = await signedRaw(`${proxy.url}?list-type=2`, '/', 'list-type=2', new URL(proxy.url).host);
    const origin = await signedRaw('/?list-type=2', '/', 'list-type=2', new URL(proxy.url).host);
    expect(r.status).toBe(origin.status);
    expect(r.body.replace(/<RequestId>.*<\/RequestId>/, '')).toBe(
      origin.body.replace(/<RequestId>.*<\/RequestId>/, ''),
    );
  });

  it("takes the target's authority as the host, whatever the Host header says", async () => {
    const path = `/datalake/${encodeKeyPath(dataKey)}`;
    const r = await signedRaw(`${proxy.url}${path}`, path, '', 'other.example');
    expect(r.status).toBe(200);
    const none = await signedRaw(`${proxy.url}${path}`, path, '', undefined);
    expect(none.status).toBe(200);
  });

  it('refuses a signature over a host other than the target authority', async () => {
    // Signed (and Host) for the proxy's URL, sent to another authority: the host signed is not the host.
    const path = `/datalake/${encodeKeyPath(dataKey)}`;
    const r = await signedRaw(`http://other.example${path}`, path, '', new URL(proxy.url).host);
    expect(r.status).toBe(403);
    expect(r.body).toContain('<Code>SignatureDoesNotMatch</Code>');
  });

  it('refuses a path escape in absolute form as in origin form', async () => {
    const path = '/datalake/sales/../secret.parquet';
    const origin = await signedRaw(path, path, '', new URL(proxy.url).host);
    expect(origin.status).toBe(400);
    expect(origin.body).toContain('<Code>InvalidArgument</Code>');
    const r = await signedRaw(`${proxy.url}${path}`, path, '', new URL(proxy.url).host);
    expect(r.status).toBe(400);
    expect(r.body).toContain('<Code>InvalidArgument</Code>');
  });

  it('refuses a target with userinfo', async () => {
    const path = `/datalake/${encodeKeyPath(dataKey)}`;
    const u = new URL(proxy.url);
    const r = await signedRaw(`http://user@${u.host}${path}`, path, '', u.host);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
  });
});
