/**
 * Backend trouble reaches clients as the S3 error a client knows how to handle, never as a
 * 500 that hides it: a throttled backend is 503 SlowDown, an unavailable one 503, a backend
 * that refuses the proxy is a clear AccessDenied. None of them names the backend bucket or
 * prefix, in the answer or in the audit line. The backend misbehaves on purpose: an S3 front
 * in front of s3rver answers S3-style XML errors where a test's rule says so.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type Fault, type S3Front, type SeenRequest, startS3Front } from '../helpers/s3-front';
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

const BUCKET = 'hidden-backend-bucket';
const PREFIX = 'private/area/sales/';

let s3: S3Server;
let front: S3Front;
let proxy: RunningProxy;
let active: string[];
let credentialsBroken = false;
/** The proxy's own temporary credentials' token (in Lambda: its role's). */
const SESSION_TOKEN = 'backend-session-token-must-stay-secret';

/** A listing of the table's data (not of its log, which snapshot loads read). */
const dataListing = (req: SeenRequest) =>
  req.query.get('list-type') === '2' && !req.query.get('prefix')?.includes('_delta_log');

function expectNoBackendNames(text: string | undefined): void {
  expect(text ?? '').not.toContain(BUCKET);
  expect(text ?? '').not.toContain('private/area');
}

beforeAll(async () => {
  s3 = await startS3rver();
  active = await uploadDemoTable(s3.endpoint, BUCKET, PREFIX);
  front = await startS3Front(s3.endpoint);
  proxy = await startProxy(
    { kind: 's3rver', endpoint: front.endpoint, stop: async () => {} },
    {
      tableMapping: { sales: `s3://${BUCKET}/${PREFIX.slice(0, -1)}` },
      getMode: 'presignedUrl',
      snapshotTtlMs: 3_600_000,
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
    },
    undefined,
    {
      // Temporary credentials, as in Lambda: asked for again on every request, and able to fail.
      backendCredentials: async () => {
        if (credentialsBroken)
          throw Object.assign(new Error('credentials endpoint down'), { name: 'CredentialsProviderError' });
        return {
          ...BACKEND_CREDENTIALS,
          sessionToken: SESSION_TOKEN,
          expiration: new Date(Date.now() + 60_000),
        };
      },
    },
  );
  // Load the snapshot while the backend is healthy: the faults below hit listings and presigning only.
  const warm = await proxy.client().send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/' }));
  expect(warm.Contents?.length).toBeGreaterThan(0);
});
afterEach(() => {
  front.rules.length = 0;
  credentialsBroken = false;
});
afterAll(async () => {
  await proxy?.stop();
  await front?.stop();
  await s3?.stop();
});

describe('listing errors from the backend', () => {
  it.each<[string, number, string, Fault]>([
    [
      'throttling',
      503,
      'SlowDown',
      { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
    ],
    ['an outage', 503, 'ServiceUnavailable', { status: 503, code: 'ServiceUnavailable' }],
    [
      'a refusal',
      403,
      'AccessDenied',
      { status: 403, code: 'AccessDenied', message: `Access Denied to ${BUCKET}/${PREFIX}` },
    ],
  ])('answers %s as %i %s, naming no backend bucket or prefix', async (_what, status, code, fault) => {
    front.rules.push((req) => (dataListing(req) ? fault : undefined));
    const before = proxy.events.length;
    const r = await signedFetch(proxy.url, 'GET', '/datalake', 'list-type=2&prefix=sales%2F', {}, ANALYST);
    expect(r.status).toBe(status);
    expect(r.text).toContain(`<Code>${code}</Code>`);
    expectNoBackendNames(r.text);
    const event = proxy.events.slice(before).find((e) => e.op === 'ListObjectsV2');
    expect(event?.code).toBe(code);
    expectNoBackendNames(event?.reason);
    if (code === 'AccessDenied') {
      // Clear: the client can tell a backend refusal from a missing grant.
      expect(r.text).toMatch(/<Message>[^<]*storage[^<]*<\/Message>/i);
    }
  });

  it('keeps what a backend echoes in a refusal (the proxy signature, session token, bucket) out of every output', async () => {
    // S3's SignatureDoesNotMatch and chatty S3-compatible stores echo the request they refused.
    const xmlText = (t: string) => t.replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`);
    const echo = (req: SeenRequest): Fault => ({
      status: req.key ? 400 : 403,
      code: req.key ? 'InvalidRequest' : 'SignatureDoesNotMatch',
      message: xmlText(`${req.method} ${req.path} ${JSON.stringify(req.headers)}`),
    });
    front.rules.push((req) =>
      dataListing(req) || (req.key && !req.key.includes('_delta_log')) ? echo(req) : undefined,
    );
    const before = { events: proxy.events.length, logs: proxy.logs.length, seen: front.seen.length };
    const listing = await signedFetch(
      proxy.url,
      'GET',
      '/datalake',
      'list-type=2&prefix=sales%2F',
      {},
      ANALYST,
    );
    const object = await signedFetch(
      proxy.url,
      'GET',
      `/datalake/${encodeKeyPath(`sales/${active[0]}`)}`,
      '',
      {},
      ANALYST,
    );
    expect([listing.status, object.status]).toEqual([403, 500]);
    const sent = front.seen.slice(before.seen).filter((r) => r.headers.authorization);
    expect(sent.map((r) => r.headers['x-amz-security-token'])).toContain(SESSION_TOKEN);
    const signatures = sent.map((r) => /Signature=(\w+)/.exec(String(r.headers.authorization))![1]!);
    const everything = [
      listing.text,
      object.text,
      JSON.stringify([listing.headers, object.headers]),
      ...proxy.events.slice(before.events).map((e) => JSON.stringify(e)),
      ...proxy.logs.slice(before.logs),
    ].join('\n');
    for (const secret of [SESSION_TOKEN, BACKEND_CREDENTIALS.secretAccessKey, ...signatures])
      expect(everything).not.toContain(secret);
    expectNoBackendNames(everything);
  });

  it('answers a connection the backend drops as 503 ServiceUnavailable', async () => {
    front.rules.push((req) => (dataListing(req) ? { status: 0 } : undefined));
    const r = await signedFetch(proxy.url, 'GET', '/datalake', 'list-type=2&prefix=sales%2F', {}, ANALYST);
    expect(r.status).toBe(503);
    expect(r.text).toContain('<Code>ServiceUnavailable</Code>');
  });
});

describe('presigning errors', () => {
  const dataFile = () => `/datalake/${encodeKeyPath(`sales/${active[0]}`)}`;
  const followsRedirects = { 'user-agent': 'delta-proxy-client/0.1.0' };

  it('redirects while the backend credentials work', async () => {
    const r = await signedFetch(proxy.url, 'GET', dataFile(), '', followsRedirects, ANALYST);
    expect(r.status).toBe(307);
  });

  it('answers 503 ServiceUnavailable, not 500, when the credentials to sign with are unavailable', async () => {
    credentialsBroken = true;
    const before = proxy.events.length;
    const r = await signedFetch(proxy.url, 'GET', dataFile(), '', followsRedirects, ANALYST);
    expect(r.status).toBe(503);
    expect(r.text).toContain('<Code>ServiceUnavailable</Code>');
    expect(r.headers.location).toBeUndefined();
    const event = proxy.events.slice(before).find((e) => e.op === 'GetObject');
    expect(event?.reason).toMatch(/credentials/);
  });
});
