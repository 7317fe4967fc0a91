/**
 * Real Python clients read through the proxy: boto3 (listing with encoding-type=url, paging,
 * download, refusal), pyarrow (the file and its S3 filesystem), polars, and the aws cli. Each
 * client missing on the machine is skipped with the reason.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientEnv, unavailable } from '../auth/helpers/python-env';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { REPO_ROOT, type S3Server, startS3rver } from '../helpers/s3-servers';

const run = promisify(execFile);
const boto3Missing = await unavailable('python3', ['-c', 'import boto3']);
const awsMissing = await unavailable('aws', ['--version']);
if (boto3Missing) console.warn(`[skip] boto3/pyarrow/polars through the proxy: ${boto3Missing}`);
if (awsMissing) console.warn(`[skip] aws cli through the proxy: ${awsMissing}`);

let s3: S3Server;
let proxy: RunningProxy;
let active: string[];
beforeAll(async () => {
  s3 = await startS3rver();
  active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
  proxy = await startProxy(s3, {
    tableMapping: { sales: 's3://lake/w/sales', other: 's3://lake/w/other' },
    grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
  });
});
afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

const allowed = () => active.filter((p) => p.startsWith('region=EU/')).map((p) => `sales/${p}`);
const forbidden = () => `sales/${active.find((p) => p.startsWith('region=US/'))}`;

describe.skipIf(boto3Missing !== undefined)('boto3, pyarrow and polars', () => {
  it('list only granted files, download one that pyarrow and polars read, and are refused the rest', async () => {
    const args = {
      endpoint: proxy.url,
      ...ANALYST,
      allowedKey: allowed()[0],
      forbiddenKey: forbidden(),
      prefix: 'sales/',
      outDir: mkdtempSync(join(tmpdir(), 'py-')),
    };
    const { stdout } = await run(
      'python3',
      [join(REPO_ROOT, 'test/integration/clients/read_through_proxy.py'), JSON.stringify(args)],
      {
        env: clientEnv('us-east-1', ANALYST),
        timeout: 120_000,
      },
    );
    const report = JSON.parse(stdout);
    expect(report.buckets).toEqual(['datalake']);
    expect(report.location).toBeNull();
    expect(report.rootPrefixes).toEqual(['sales/']);
    const dataKeys = report.keys.filter((k: string) => !k.includes('/_delta_log/'));
    expect(dataKeys.sort()).toEqual(allowed().sort());
    expect(report.keys.some((k: string) => k.startsWith('sales/_delta_log/'))).toBe(true);
    expect(report.forbidden).toBe('AccessDenied');
    if (report.pyarrowSkipped) console.warn(`[skip] pyarrow: ${report.pyarrowSkipped}`);
    else {
      expect(report.pyarrowRows).toBeGreaterThan(0);
      expect(report.pyarrowS3Rows).toBe(report.pyarrowRows);
    }
    if (report.polarsSkipped) console.warn(`[skip] polars: ${report.polarsSkipped}`);
    else expect(report.polarsRows).toBe(report.pyarrowRows ?? report.polarsRows);
  });
});

describe.skipIf(awsMissing !== undefined)('aws cli', () => {
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
    const out = mkdtempSync(join(tmpdir(), 'cli-'));
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
