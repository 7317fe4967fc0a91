import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaticCredentialStore } from '../../lambda/auth/credential-store';
import { SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { systemClock } from '../../lambda/core/types';
import { type AuthServer, startAuthServer } from '../auth/helpers/auth-server';
import { clientEnv, run } from '../auth/helpers/python-env';
import { KEY } from '../auth/helpers/sign';
import { REGIONS, TRICKY_KEYS } from '../auth/keys-and-regions';
import { awsCliMissing, pythonPackageMissing, skipNow, withReason } from './skips';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../auth');
const noBoto3 = pythonPackageMissing('boto3');
const noAwsCli = awsCliMissing();

/**
 * The aws cli starts a Python process per command (five per region): `npm test` runs its
 * us-east-1 and auto regions, `npm run test:full` the other two; between them every tricky key
 * (each region takes two). boto3 (one process per region) and the SigV2 check run in `npm test`.
 */
const CLI_CORE_REGIONS = new Set(['us-east-1', 'auto']);

export function sigv4PythonClientsSuite(tier: 'core' | 'full'): void {
  let server: AuthServer;
  beforeAll(async () => {
    server = await startAuthServer(
      new SigV4Authenticator({
        credentials: new StaticCredentialStore([KEY]),
        clock: systemClock,
        allowAnonymous: false,
      }),
    );
  });
  afterAll(() => server.close());

  async function fetchOk(url: string): Promise<void> {
    const res = await fetch(url);
    expect(res.status, `${url}\n${await res.clone().text()}`).toBe(200);
    expect(res.headers.get('x-auth-principal')).toBe('analyst-eu');
    await res.arrayBuffer();
  }

  if (tier === 'core')
    describe.skipIf(noBoto3 !== undefined)(withReason('botocore (boto3) signing', noBoto3), () => {
      it.each(REGIONS)(
        'verifies header-signed calls and presigned URLs for region %s',
        async (region) => {
          const before = server.seen.length;
          const input = JSON.stringify({ endpoint: server.endpoint, region, ...KEY, keys: TRICKY_KEYS });
          const { stdout } = await run('python3', [path.join(here, 'clients/boto3_client.py'), input], {
            env: clientEnv(region, KEY),
            timeout: 60_000,
          });
          const report = JSON.parse(stdout) as {
            results: Array<{ op: string; ok: boolean; code?: string }>;
            presigned: string[];
          };
          expect(report.results.filter((r) => !r.ok)).toEqual([]);
          expect(report.results).toHaveLength(2 + 3 * TRICKY_KEYS.length);
          const extra = server.seen.slice(before).find((s) => s.request.rawQuery.includes('x-flag'));
          expect(extra?.request.rawQuery).toMatch(/x-rep=zeta&x-rep=alpha&x-empty=&x-flag$/);
          expect(extra?.principal?.name).toBe('analyst-eu');
          for (const url of report.presigned) await fetchOk(url);
        },
        120_000,
      );
    });

  describe.skipIf(noAwsCli !== undefined)(withReason('aws cli signing', noAwsCli), () => {
    it.each(
      REGIONS.map((region, i) => [region, i] as const).filter(
        ([region]) => CLI_CORE_REGIONS.has(region) === (tier === 'core'),
      ),
    )(
      'verifies s3api, s3 ls and s3 presign for region %s',
      async (region, i) => {
        const dir = await mkdtemp(path.join(tmpdir(), 'auth-cli-'));
        try {
          // aws cli v1 presigns with SigV2 unless told otherwise (in us-east-1 at least).
          const config = path.join(dir, 'config');
          await writeFile(config, '[default]\ns3 =\n    signature_version = s3v4\n');
          const env = { ...clientEnv(region, KEY), AWS_CONFIG_FILE: config };
          const aws = (...args: string[]) =>
            run('aws', [...args, '--endpoint-url', server.endpoint, '--region', region], {
              env,
              timeout: 60_000,
            });
          // Each region takes two of the keys, so the four regions together cover all of them.
          const keys = [TRICKY_KEYS[i % TRICKY_KEYS.length]!, TRICKY_KEYS[(i + 4) % TRICKY_KEYS.length]!];
          const out = path.join(dir, 'object');
          const before = server.seen.length;
          await Promise.all([
            aws(
              's3api',
              'get-object',
              '--bucket',
              'datalake',
              '--key',
              keys[0]!,
              '--range',
              'bytes=0-4',
              out,
            ),
            aws('s3api', 'head-object', '--bucket', 'datalake', '--key', keys[1]!),
            aws('s3api', 'list-objects-v2', '--bucket', 'datalake', '--prefix', keys[1]!, '--delimiter', '/'),
            aws('s3', 'ls', `s3://datalake/${keys[0]!.split('/')[0]}/`),
          ]);
          expect(await readFile(out, 'utf8')).toBe('hello');
          const mine = server.seen.slice(before);
          expect(mine.length).toBeGreaterThanOrEqual(4);
          for (const seen of mine)
            expect(seen.principal?.name, JSON.stringify(seen.error)).toBe('analyst-eu');

          const { stdout } = await aws('s3', 'presign', `s3://datalake/${keys[0]}`, '--expires-in', '300');
          await fetchOk(stdout.trim());
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
      120_000,
    );
  });

  if (tier === 'full') return;
  describe.skipIf(noAwsCli !== undefined)(withReason('aws cli with its SigV2 default', noAwsCli), () => {
    it('a SigV2 presigned URL (aws s3 presign in us-east-1, no config) is refused as S3 refuses it', async (ctx) => {
      const { stdout } = await run(
        'aws',
        [
          's3',
          'presign',
          's3://datalake/plain/a.parquet',
          '--endpoint-url',
          server.endpoint,
          '--region',
          'us-east-1',
        ],
        { env: clientEnv('us-east-1', KEY), timeout: 60_000 },
      );
      const url = stdout.trim();
      // A newer aws cli presigns with SigV4 by default: then there is no SigV2 URL to refuse.
      if (!url.includes('AWSAccessKeyId=')) skipNow(ctx, 'this aws cli presigns with SigV4 by default');
      const res = await fetch(url);
      expect(res.status).toBe(400);
      const body = await res.text();
      expect(body).toContain('<Code>InvalidRequest</Code>');
      expect(body).toContain('Please use AWS4-HMAC-SHA256.');
    }, 60_000);
  });
}
