/**
 * Secrets never reach a log line, an audit event, a metric or an error body: not the secret key,
 * not the metrics token, not a signature (header or presigned), not a presigned URL handed out
 * in a redirect.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envName } from '../../lambda/config';
import { emfValues, parseEmfLines, sum } from '../helpers/emf';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type ProcessRun, spawnProxy } from '../helpers/proxy-run';
import { type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';
import { tempDir } from '../helpers/temp-dir';

let s3: S3Server;
let proxy: RunningProxy;
let active: string[];
beforeAll(async () => {
  s3 = await startS3rver();
  active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
  proxy = await startProxy(s3, {
    tableMapping: { sales: 's3://lake/w/sales', broken: 's3://lake/w/broken' },
    getMode: 'presignedUrl',
    grants: [
      { principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] },
      { principal: ANALYST.principal, table: 'broken', partitions: [{}] },
    ],
  });
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

it('keeps secrets, signatures and presigned URLs out of logs, audit events and error bodies', async () => {
  const seen: string[] = [];
  const secrets = [ANALYST.secretAccessKey];
  const client = proxy.client();
  const eu = `sales/${active.find((p) => p.startsWith('region=EU/'))}`;
  const us = `sales/${active.find((p) => p.startsWith('region=US/'))}`;
  await client.send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/' }));
  await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: eu }));
  await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: us })).catch(() => {});
  // A table whose log cannot be read exercises the operational log.
  await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: 'broken/x.parquet' })).catch(() => {});
  const wrong = new S3Client({
    endpoint: proxy.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ANALYST.accessKeyId, secretAccessKey: 'not-the-secret-at-all' },
    maxAttempts: 1,
  });
  await wrong
    .send(new GetObjectCommand({ Bucket: 'datalake', Key: eu }))
    .catch((e) => seen.push(JSON.stringify(e)));
  const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'datalake', Key: eu }), {
    expiresIn: 60,
  });
  const presignedSig = new URL(url).searchParams.get('X-Amz-Signature')!;
  secrets.push(presignedSig);
  const viaUrl = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  expect(viaUrl.status).toBe(200);
  const tampered = await fetch(
    url.replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${'0'.repeat(64)}`),
    { signal: AbortSignal.timeout(10_000) },
  );
  seen.push(await tampered.text());
  const redirect = await signedFetch(
    proxy.url,
    'GET',
    `/datalake/${encodeKeyPath(eu)}`,
    '',
    { 'user-agent': 'delta-proxy-client/0.1.0' },
    ANALYST,
  );
  expect(redirect.status).toBe(307);
  secrets.push(new URL(redirect.headers.location!).searchParams.get('X-Amz-Signature')!);
  const headerSig = /Signature=([0-9a-f]{64})/;
  const signed = await signedFetch(proxy.url, 'GET', '/datalake', 'list-type=2&prefix=sales%2F', {}, ANALYST);
  expect(signed.status).toBe(200);

  const everything = [...proxy.logs, ...proxy.events.map((e) => JSON.stringify(e)), ...seen].join('\n');
  expect(proxy.events.length).toBeGreaterThanOrEqual(8);
  expect(proxy.logs.length).toBeGreaterThan(0);
  for (const s of secrets) expect(everything).not.toContain(s);
  expect(everything).not.toMatch(headerSig);
  // A SignatureDoesNotMatch body shows the canonical request with X-Amz-Credential (the key id),
  // as S3 does, but never a signature.
  expect(everything).not.toMatch(/X-Amz-Signature=/);
});

/**
 * The same kind of mix against real processes, reading every byte they write: the local server
 * (`npm start -- --config`: audit lines, operational logs, its metrics port) and the Lambda entry
 * (audit lines, EMF lines, /metrics behind the bearer token).
 */
const METRICS_TOKEN = 'metrics-token-must-stay-secret-0042';
/** Client text that would forge an audit field if the line were not JSON-escaped. */
const HOSTILE_UA = 'boto3/1 \\" "},"decision":"allow","x":{"y":"\\u0000';

// As npm start runs node (its embedded S3's crypto), the same flag for both entry points.
const LEGACY = ['--openssl-legacy-provider'];

const settings = () => ({
  tableMapping: { sales: 's3://lake/w/sales', broken: 's3://lake/w/broken' },
  getMode: 'presignedUrl',
  metricsToken: METRICS_TOKEN,
  s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
  auth: { keys: [ANALYST] },
  grants: [
    { principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] },
    { principal: ANALYST.principal, table: 'broken', partitions: [{}] },
  ],
});

const PROCESSES: [string, () => Promise<ProcessRun>][] = [
  [
    'the local server (npm start -- --config)',
    () => {
      const file = join(tempDir('no-secrets-'), 'config.json');
      writeFileSync(file, JSON.stringify({ ...settings(), port: 0, metricsPort: 0 }));
      return spawnProxy(
        LEGACY,
        ['lambda/local/main.ts', '--config', file],
        {},
        /listening on (http:\/\/127\.0\.0\.1:\d+) .*metrics on (\S+)/,
      );
    },
  ],
  [
    'the Lambda entry (EMF on stdout)',
    () => {
      const env: Record<string, string> = {};
      for (const [field, value] of Object.entries(settings()))
        env[envName(field)] = typeof value === 'string' ? value : JSON.stringify(value);
      return spawnProxy(
        LEGACY,
        ['test/helpers/lambda-entry-main.ts'],
        env,
        /LISTENING (http:\/\/127\.0\.0\.1:\d+)/,
      );
    },
  ],
];

describe.each(PROCESSES)('every byte written by %s', (name, start) => {
  let run: ProcessRun;
  let output: { stdout: string; stderr: string };
  const bodies: string[] = [];
  const secrets = [ANALYST.secretAccessKey, METRICS_TOKEN];

  beforeAll(async () => {
    run = await start();
    const eu = `sales/${active.find((p) => p.startsWith('region=EU/'))}`;
    const us = `sales/${active.find((p) => p.startsWith('region=US/'))}`;
    const object = (key: string) => `/datalake/${encodeKeyPath(key)}`;
    const wrong = { accessKeyId: ANALYST.accessKeyId, secretAccessKey: 'not-the-secret-at-all' };
    const responses = [
      await signedFetch(run.url, 'GET', '/datalake', 'list-type=2&prefix=sales%2F', {}, ANALYST),
      await signedFetch(run.url, 'HEAD', object(eu), '', {}, ANALYST),
      await signedFetch(run.url, 'GET', object(eu), '', {}, ANALYST),
      await signedFetch(run.url, 'GET', object(us), '', {}, ANALYST),
      await signedFetch(run.url, 'GET', object('broken/x.parquet'), '', {}, ANALYST),
      await signedFetch(run.url, 'GET', object(eu), '', { 'user-agent': HOSTILE_UA }, wrong),
    ];
    expect(
      responses.map((r) => r.status),
      name,
    ).toEqual([200, 200, 200, 404, 403, 403]); // filtered view: a forbidden file is a missing one
    const redirect = await signedFetch(
      run.url,
      'GET',
      object(eu),
      '',
      { 'user-agent': 'delta-proxy-client/0.1.0' },
      ANALYST,
    );
    expect(redirect.status).toBe(307);
    const location = new URL(redirect.headers.location!);
    secrets.push(location.search.slice(1), location.searchParams.get('X-Amz-Signature')!);
    const client = new S3Client({
      endpoint: run.url,
      region: 'us-east-1',
      forcePathStyle: true,
      // A copy: the SDK marks the credentials object it is given.
      credentials: { accessKeyId: ANALYST.accessKeyId, secretAccessKey: ANALYST.secretAccessKey },
      maxAttempts: 1,
    });
    const presigned = await getSignedUrl(client, new GetObjectCommand({ Bucket: 'datalake', Key: eu }), {
      expiresIn: 60,
    });
    client.destroy();
    secrets.push(new URL(presigned).searchParams.get('X-Amz-Signature')!);
    const viaUrl = await fetch(presigned, { signal: AbortSignal.timeout(10_000) });
    expect(viaUrl.status).toBe(200);
    await viaUrl.arrayBuffer();
    const tampered = presigned.replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${'0'.repeat(64)}`);
    responses.push(
      await signedFetch(
        run.url,
        'GET',
        '/metrics',
        '',
        { authorization: `Bearer ${METRICS_TOKEN}x` },
        undefined,
      ),
    );
    bodies.push(await (await fetch(tampered, { signal: AbortSignal.timeout(10_000) })).text());
    const scrape = await fetch(`${run.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      signal: AbortSignal.timeout(10_000),
    });
    expect(scrape.status).toBe(200);
    bodies.push(await scrape.text());
    if (run.metricsUrl) bodies.push(await (await fetch(run.metricsUrl)).text());
    bodies.push(...responses.map((r) => `${JSON.stringify(r.headers)}\n${r.text}`));
    output = await run.stop();
  });
  afterAll(async () => {
    await run?.stop();
  });

  it('never contains a secret key, the metrics token, a signature or a presigned query', () => {
    const everything = [output.stdout, output.stderr, ...bodies].join('\n');
    expect(everything).toContain('deltaproxy_queries_served_total');
    for (const s of secrets) expect(everything).not.toContain(s);
    expect(everything).not.toMatch(/Signature=[0-9a-f]{64}/);
    expect(everything).not.toMatch(/X-Amz-Signature=/);
    expect(everything).not.toMatch(/X-Amz-Security-Token=/);
  });

  it('writes one audit line per request with the backend latency and the reason class', () => {
    const audit = output.stdout
      .split('\n')
      .filter((l) => l.startsWith('{"type":"audit"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.length).toBe(10);
    const byStatus = (status: number, op: string) => audit.filter((a) => a.status === status && a.op === op);
    const [proxied] = byStatus(200, 'GetObject');
    expect(proxied).toMatchObject({ reasonClass: 'granted', decision: 'allow', proxied: true });
    expect(proxied!.backendCalls).toBe(1);
    expect(proxied!.backendMs).toBeGreaterThan(0);
    // A wrong signature and a tampered presigned URL; a table without a log (403); a partition not
    // granted, answered as a missing key by the filtered view but counted as a grant denial.
    const refused = byStatus(403, 'GetObject').map((a) => a.reasonClass);
    expect(refused.sort()).toEqual(['authentication', 'authentication', 'grant']);
    expect(byStatus(404, 'GetObject').map((a) => a.reasonClass)).toEqual(['grant']);
    expect(byStatus(307, 'GetObject')[0]).toMatchObject({ reasonClass: 'granted', backendCalls: 0 });
    // Who asked, and for which listing: the client's address on every line, the prefix on a listing's.
    for (const a of audit) expect(a.sourceIp).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(audit.filter((a) => a.op === 'ListObjectsV2').map((a) => a.prefix)).toEqual(['sales/']);
    // Client text is escaped: the hostile User-Agent is one field of a refused request's line.
    const hostile = audit.filter((a) => a.userAgent === HOSTILE_UA);
    expect(hostile.map((a) => [a.status, a.decision, a.x])).toEqual([[403, 'deny', undefined]]);
    if (name.includes('Lambda')) {
      const emf = parseEmfLines(output.stdout.split('\n').filter((l) => l.includes('"_aws"')));
      expect(sum(emfValues(emf, 'Requests'))).toBe(audit.length);
      // The table without a log: its failed load is counted for the failure-rate alarm.
      expect(sum(emfValues(emf, 'SnapshotLoadFailures'))).toBeGreaterThanOrEqual(1);
    }
  });
});
