/**
 * DNS rebinding against the client helper. A web page the user opens at
 * http://rebind.attacker.example:18090 has its name re-pointed at 127.0.0.1: the browser then
 * sends the page's requests to the helper, same-origin, so the page reads the answers. The
 * helper adds no credential, but it forwards, and follows the 307 for, whatever the proxy
 * serves unsigned callers (anonymous grants), which the page could not read from the proxy
 * directly (no CORS). An S3 client of the helper names it by loopback (127.0.0.1, localhost):
 * a request naming any other host in Host never comes from one.
 * Real proxy (presigned mode, anonymous grant), real s3rver behind a signature-checking relay.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type RecordingRelay, startRecordingRelay } from '../helpers/recording-relay';
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath } from '../helpers/signed-fetch';

let s3: S3Server;
let relay: RecordingRelay;
let proxy: RunningProxy;
let helper: ClientHelper;
let eu: string;

beforeAll(async () => {
  s3 = await startS3rver();
  const active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
  eu = `sales/${active.find((p) => p.startsWith('region=EU/'))}`;
  relay = await startRecordingRelay(s3.endpoint, { verifyPresigned: BACKEND_CREDENTIALS });
  proxy = await startProxy(
    { ...s3, endpoint: relay.endpoint },
    {
      tableMapping: { sales: 's3://lake/w/sales' },
      getMode: 'presignedUrl',
      auth: { allowAnonymous: true },
      grants: [
        { principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] },
        { principal: 'anonymous', table: 'sales', partitions: [{ region: 'EU' }] },
      ],
    },
  );
  helper = await startClientHelper({ target: proxy.url });
});
afterAll(async () => {
  await helper?.close();
  await proxy?.stop();
  await relay?.stop();
  await s3?.stop();
});

/** An unsigned GET to the helper carrying this Host, as a browser sends it. */
function get(host: string, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: helper.port, path, headers: { host }, agent: false, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('client helper: a request whose Host is a rebinding name', () => {
  it('reaches neither the proxy nor S3, and the page reads no object byte', async () => {
    const events = proxy.events.length;
    const followed = relay.requests.length;
    const r = await get(`rebind.attacker.example:${helper.port}`, `/datalake/${encodeKeyPath(eu)}`);
    expect(r.status).toBe(403);
    expect(r.body.toString()).toContain('<Code>AccessDenied</Code>');
    expect(r.body.includes('PAR1')).toBe(false);
    expect(proxy.events.length).toBe(events);
    expect(relay.requests.length).toBe(followed);
  });

  it.each(['127.0.0.1:PORT', 'localhost:PORT', 'LocalHost', '[::1]:PORT', 'datalake.localhost:PORT'])(
    'a local client naming the helper by %s is still served',
    async (template) => {
      const r = await get(template.replace('PORT', String(helper.port)), `/datalake/${encodeKeyPath(eu)}`);
      expect(r.status).toBe(200);
      expect(r.body.subarray(0, 4).toString()).toBe('PAR1');
    },
  );
});
