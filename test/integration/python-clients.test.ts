/**
 * Real Python clients read through the proxy: boto3 (listing with paging, download, refusal),
 * pyarrow's and polars' own S3 readers, and the aws cli. Each client missing on the machine
 * skips its tests with the reason in their titles.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { parquetMetadata } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv } from '../auth/helpers/python-env';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { backendClient, REPO_ROOT, type S3Server, startS3rver } from '../helpers/s3-servers';
import { awsCliMissing, pythonPackageMissing, withReason } from '../helpers/skips';
import { tempDir } from '../helpers/temp-dir';

const run = promisify(execFile);
const awsMissing = awsCliMissing();

let s3: S3Server;
let proxy: RunningProxy;
let active: string[];
/** Rows of the first granted file, read from the backend directly. */
let allowedRows: number;
beforeAll(async () => {
  s3 = await startS3rver();
  active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
  proxy = await startProxy(s3, {
    tableMapping: { sales: 's3://lake/w/sales', other: 's3://lake/w/other' },
    grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
  });
  const client = backendClient(s3.endpoint);
  const key = `w/${allowed()[0]}`;
  const bytes = await (
    await client.send(new GetObjectCommand({ Bucket: 'lake', Key: key }))
  ).Body!.transformToByteArray();
  allowedRows = Number(parquetMetadata(bytes.buffer as ArrayBuffer).num_rows);
  client.destroy();
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

const allowed = () => active.filter((p) => p.startsWith('region=EU/')).map((p) => `sales/${p}`);
const forbidden = () => `sales/${active.find((p) => p.startsWith('region=US/'))}`;

/** Runs clients/read_through_proxy.py with one client; returns its JSON report. */
async function readWith(client: 'boto3' | 'pyarrow' | 'polars'): Promise<Record<string, unknown>> {
  const args = {
    endpoint: proxy.url,
    ...ANALYST,
    allowedKey: allowed()[0],
    forbiddenKey: forbidden(),
    prefix: 'sales/',
    outDir: tempDir('py-'),
  };
  const { stdout } = await run(
    'python3',
    [join(REPO_ROOT, 'test/integration/clients/read_through_proxy.py'), client, JSON.stringify(args)],
    { env: clientEnv('us-east-1', ANALYST), timeout: 120_000 },
  );
  return JSON.parse(stdout);
}

describe('Python clients through the proxy', () => {
  const boto3Missing = pythonPackageMissing('boto3');
  it.skipIf(boto3Missing !== undefined)(
    withReason('boto3 lists only granted files, downloads one and is refused the rest', boto3Missing),
    async () => {
      const report = await readWith('boto3');
      expect(report.buckets).toEqual(['datalake']);
      expect(report.location).toBeNull();
      expect(report.rootPrefixes).toEqual(['sales/']);
      const keys = report.keys as string[];
      expect(keys.filter((k) => !k.includes('/_delta_log/')).sort()).toEqual(allowed().sort());
      expect(keys.some((k) => k.startsWith('sales/_delta_log/'))).toBe(true);
      expect(report.downloadedBytes).toBeGreaterThan(0);
      expect(report.forbidden).toBe('AccessDenied');
    },
    120_000,
  );

  for (const client of ['pyarrow', 'polars'] as const) {
    const missing = pythonPackageMissing(client);
    it.skipIf(missing !== undefined)(
      withReason(
        `${client} reads a granted file through its S3 reader and is refused a forbidden one`,
        missing,
      ),
      async () => {
        const report = await readWith(client);
        expect(report.rows).toBe(allowedRows);
        expect(report.forbidden).toMatch(/AccessDenied|ACCESS_DENIED|403|Forbidden/);
      },
      120_000,
    );
  }
});

describe.skipIf(awsMissing !== undefined)(withReason('aws cli', awsMissing), () => {
  const env = () => ({ ...clientEnv('us-east-1', ANALYST) });
  it('lists the granted files recursively and nothing else', async () => {
    const { stdout } = await run(
      'aws',
      ['s3', 'ls', '--recursive', 's3://datalake/sales/', '--endpoint-url', proxy.url],
      {
        env: env(),
        timeout: 60_000,
      },
    );
    const keys = stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).slice(3).join(' '))
      .filter((k) => !k.includes('/_delta_log/'));
    expect(keys.sort()).toEqual(allowed().sort());
  });

  it('copies a granted file and is refused a forbidden one', async () => {
    const out = tempDir('cli-');
    await run(
      'aws',
      ['s3', 'cp', `s3://datalake/${allowed()[0]}`, join(out, 'a.parquet'), '--endpoint-url', proxy.url],
      {
        env: env(),
        timeout: 60_000,
      },
    );
    await expect(
      run(
        'aws',
        ['s3', 'cp', `s3://datalake/${forbidden()}`, join(out, 'b.parquet'), '--endpoint-url', proxy.url],
        {
          env: env(),
          timeout: 60_000,
        },
      ),
    ).rejects.toThrow(/403|Forbidden|AccessDenied/);
  });

  it('shows only granted tables at the root', async () => {
    const { stdout } = await run('aws', ['s3', 'ls', 's3://datalake/', '--endpoint-url', proxy.url], {
      env: env(),
      timeout: 60_000,
    });
    expect(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.trim()),
    ).toEqual(['PRE sales/']);
  });
});
