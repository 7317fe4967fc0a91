/**
 * Which clients follow the proxy's 307 to a presigned URL on another host, and do they drop
 * Authorization? Measured, not assumed: a presigned-mode proxy backed by moto redirects every
 * GetObject (redirectClients ['.']); each client reads one object; the recording relay in front
 * of moto shows whether the client came to "S3" and with which credentials (S3 refuses a request
 * that carries both the presigned query and an Authorization header).
 *
 * The default `redirectClients` must match exactly the measured followers: a User-Agent is on the
 * list iff every way it was run followed the redirect without Authorization and got the bytes.
 * The verdicts and their evidence are printed as the README's compatibility table.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import {
  compileRedirectClients,
  DEFAULT_REDIRECT_CLIENTS,
  followsRedirects,
} from '../../lambda/s3/redirect-policy';
import { clientEnv, unavailable } from '../auth/helpers/python-env';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type RecordingRelay, type RelayedRequest, startRecordingRelay } from '../helpers/recording-relay';
import {
  backendClient,
  motoUnavailableReason,
  REPO_ROOT,
  type S3Server,
  startMoto,
} from '../helpers/s3-servers';
import { withReason } from '../helpers/skips';
import { tempDir } from '../helpers/temp-dir';

const run = promisify(execFile);
const motoMissing = motoUnavailableReason();

interface Measurement {
  client: string;
  userAgent: string;
  /** The client came to the presigned URL. */
  followed: boolean;
  /** ... and sent its Authorization header there too. */
  resentAuthorization: boolean;
  /** ... or x-amz-* headers of its own that the presigned URL does not sign. */
  unsignedAmzHeaders: string[];
  /** It got the right data. */
  ok: boolean;
  evidence: string;
}

type Outcome = { ok: true } | { ok: false; error: string };
type ClientRun = { client: string; missing?: string; read: (key: string) => Promise<Outcome> };

let moto: S3Server;
let relay: RecordingRelay;
let proxy: RunningProxy;
let helper: ClientHelper;
let key: string;
let expectedSha: string;
let expectedRows: number;
const measured: Measurement[] = [];

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const env = () => clientEnv('us-east-1', ANALYST);

async function python(client: string, k: string, endpoint = proxy.url): Promise<Record<string, unknown>> {
  const args = JSON.stringify({ client, endpoint, ...ANALYST, key: k });
  const script = join(REPO_ROOT, 'test/integration/clients/get_once.py');
  const { stdout } = await run('python3', [script, args], { env: env(), timeout: 60_000 });
  return JSON.parse(stdout);
}

async function curl(k: string, follow: boolean): Promise<Outcome> {
  const out = join(tempDir('curl-'), 'o');
  const args = ['-sS', '-o', out, '-w', '%{http_code}', '--aws-sigv4', 'aws:amz:us-east-1:s3'];
  args.push('--user', `${ANALYST.accessKeyId}:${ANALYST.secretAccessKey}`);
  // S3 (and the proxy) require this header on header-signed requests; curl 7.88 does not add it.
  args.push('-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', ...(follow ? ['-L'] : []));
  args.push(`${proxy.url}/datalake/${k.split('/').map(encodeURIComponent).join('/')}`);
  const { stdout } = await run('curl', args, { timeout: 30_000 }).catch((e) => ({ stdout: String(e) }));
  if (stdout !== '200') return { ok: false, error: `curl: HTTP ${stdout}` };
  return sha256(readFileSync(out)) === expectedSha ? { ok: true } : { ok: false, error: 'curl: wrong bytes' };
}

const pythonRun =
  (client: string, check: (r: Record<string, unknown>) => boolean, endpoint?: () => string) =>
  async (k: string): Promise<Outcome> => {
    const r = await python(client, k, endpoint?.());
    if (typeof r.error === 'string') return { ok: false, error: r.error };
    return check(r) ? { ok: true } : { ok: false, error: `wrong data ${JSON.stringify(r)}` };
  };

const CLIENTS: ClientRun[] = [
  {
    client: 'aws cli (`aws s3 cp`)',
    missing: await unavailable('aws', ['--version']),
    read: async (k) => {
      const out = join(tempDir('cli-'), 'o');
      try {
        await run('aws', ['s3', 'cp', `s3://datalake/${k}`, out, '--endpoint-url', proxy.url], {
          env: env(),
          timeout: 60_000,
        });
      } catch (e) {
        const lines = String((e as { stderr?: string }).stderr ?? e)
          .trim()
          .split('\n');
        return { ok: false, error: lines.at(-1)!.slice(0, 300) };
      }
      return sha256(readFileSync(out)) === expectedSha ? { ok: true } : { ok: false, error: 'wrong bytes' };
    },
  },
  {
    client: 'boto3 (`get_object`)',
    missing: await unavailable('python3', ['-c', 'import boto3']),
    read: pythonRun('boto3', (r) => r.sha256 === expectedSha),
  },
  {
    client: 'pyarrow (`S3FileSystem`)',
    missing: await unavailable('python3', ['-c', 'import pyarrow.fs']),
    read: pythonRun('pyarrow', (r) => r.rows === expectedRows),
  },
  {
    client: 'polars (`read_parquet`)',
    missing: await unavailable('python3', ['-c', 'import polars']),
    read: pythonRun('polars', (r) => r.rows === expectedRows),
  },
  {
    client: '@aws-sdk/client-s3 (`GetObjectCommand`)',
    read: async (k) => {
      const client = new S3Client({
        endpoint: proxy.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: ANALYST.accessKeyId, secretAccessKey: ANALYST.secretAccessKey },
        maxAttempts: 1,
      });
      try {
        const got = await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: k }));
        const bytes = await got.Body!.transformToByteArray();
        return sha256(bytes) === expectedSha ? { ok: true } : { ok: false, error: 'wrong bytes' };
      } catch (e) {
        return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}`.slice(0, 300) };
      } finally {
        client.destroy();
      }
    },
  },
  {
    client: 'boto3 through delta-proxy-client',
    missing: await unavailable('python3', ['-c', 'import boto3']),
    read: pythonRun(
      'boto3',
      (r) => r.sha256 === expectedSha,
      () => helper.url,
    ),
  },
  {
    client: 'curl `--aws-sigv4`',
    missing: await unavailable('curl', ['--version']),
    read: (k) => curl(k, false),
  },
  {
    client: 'curl `--aws-sigv4 -L`',
    missing: await unavailable('curl', ['--version']),
    read: (k) => curl(k, true),
  },
];

describe.skipIf(motoMissing !== undefined)(
  withReason('redirect compatibility of real clients (presigned mode, moto)', motoMissing),
  () => {
    beforeAll(async () => {
      moto = await startMoto();
      const active = await uploadDemoTable(moto.endpoint, 'lake', 'w/sales/');
      relay = await startRecordingRelay(moto.endpoint);
      proxy = await startProxy(
        { ...moto, endpoint: relay.endpoint },
        {
          tableMapping: { sales: 's3://lake/w/sales' },
          getMode: 'presignedUrl',
          proxyPartial: false,
          redirectClients: ['.'], // measure: every GetObject is answered with a 307
          grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
        },
      );
      helper = await startClientHelper({ target: proxy.url });
      const file = active.find((p) => p.startsWith('region=EU/'))!;
      key = `sales/${file}`;
      const backend = backendClient(moto.endpoint);
      const got = await backend.send(new GetObjectCommand({ Bucket: 'lake', Key: `w/sales/${file}` }));
      const bytes = await got.Body!.transformToByteArray();
      backend.destroy();
      expectedSha = sha256(bytes);
      const { parquetMetadata } = await import('hyparquet');
      expectedRows = Number(
        parquetMetadata(
          bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
        ).num_rows,
      );
    });
    afterAll(async () => {
      if (measured.length) console.log(`\n${table(measured)}\n`);
      await proxy?.stop();
      await relay?.stop();
      await moto?.stop();
    });

    for (const c of CLIENTS) {
      it.skipIf(c.missing !== undefined)(withReason(c.client, c.missing), async () => {
        const [e0, r0] = [proxy.events.length, relay.requests.length];
        const outcome = await c.read(key);
        const gets = proxy.events.slice(e0).filter((e) => e.op === 'GetObject');
        expect(gets.length, 'the client sent a GetObject').toBeGreaterThan(0);
        expect(gets.every((e) => e.status === 307)).toBe(true);
        const followedUp = relay.requests.slice(r0).filter((r) => r.presigned);
        const m: Measurement = {
          client: c.client,
          userAgent: gets[0]!.userAgent ?? '',
          followed: followedUp.length > 0,
          resentAuthorization: followedUp.some((r) => r.authorization),
          unsignedAmzHeaders: [...new Set(followedUp.flatMap((r) => r.unsignedAmzHeaders))],
          ok: outcome.ok,
          evidence: evidence(gets.length, followedUp, outcome),
        };
        measured.push(m);
        // A client that came with nothing but the URL's credentials must have got the right data.
        if (cleanFollow(m)) expect(m.ok, m.evidence).toBe(true);
      });
    }

    it('the default redirectClients are exactly the clients measured to follow without Authorization', () => {
      expect(measured.length).toBeGreaterThan(0);
      const defaults = compileRedirectClients(DEFAULT_REDIRECT_CLIENTS);
      const byAgent = new Map<string, Measurement[]>();
      for (const m of measured) byAgent.set(m.userAgent, [...(byAgent.get(m.userAgent) ?? []), m]);
      for (const [agent, runs] of byAgent) {
        const safe = runs.every((m) => cleanFollow(m) && m.ok);
        expect(
          followsRedirects({ 'user-agent': agent }, defaults),
          `${agent}: ${runs.map((m) => m.evidence).join('; ')}`,
        ).toBe(safe);
      }
    });
  },
);

/** Came to the presigned URL with nothing but the URL's own credentials. */
const cleanFollow = (m: Measurement) =>
  m.followed && !m.resentAuthorization && m.unsignedAmzHeaders.length === 0;

function evidence(gets: number, followedUp: RelayedRequest[], outcome: Outcome): string {
  const parts = [`${gets} GET → 307`];
  if (followedUp.length === 0) parts.push('never came to the presigned URL');
  else {
    const withAuth = followedUp.filter((r) => r.authorization).length;
    const unsigned = [...new Set(followedUp.flatMap((r) => r.unsignedAmzHeaders))];
    const statuses = [...new Set(followedUp.map((r) => r.status))].join('/');
    const sent = [withAuth ? `${withAuth} with Authorization` : 'no Authorization'];
    if (unsigned.length) sent.push(`unsigned ${unsigned.join(', ')}`);
    parts.push(`${followedUp.length} request(s) to the presigned URL, ${sent.join(', ')} → ${statuses}`);
  }
  parts.push(outcome.ok ? 'right data' : `client: ${outcome.error}`);
  return parts.join('; ');
}

function verdict(m: Measurement): string {
  if (cleanFollow(m) && m.ok) return 'follows, drops Authorization';
  if (m.followed && m.resentAuthorization) return 'follows, re-sends Authorization (S3 refuses)';
  if (m.followed && m.unsignedAmzHeaders.length)
    return `follows, drops Authorization, keeps ${m.unsignedAmzHeaders.join(', ')} (S3 refuses)`;
  if (m.followed) return 'follows, fails';
  return 'does not follow';
}

function table(rows: Measurement[]): string {
  const lines = ['| Client | User-Agent | Verdict | Evidence |', '| --- | --- | --- | --- |'];
  for (const m of rows) {
    const agent = m.userAgent.split(' ')[0];
    lines.push(`| ${m.client} | \`${agent}\` | ${verdict(m)} | ${m.evidence.replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n');
}
