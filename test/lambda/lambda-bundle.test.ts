/**
 * The built Lambda bundle itself (the file `cdk deploy` ships, made with the same esbuild options)
 * serves S3 requests through the runtime shim: configuration from PROXY_* variables, backend
 * credentials from the environment only (the bundle swaps the SDK's default chain for the env
 * provider), a Delta checkpoint read through the bundle's own Parquet codecs, grants enforced.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { esbuildOptions, LAMBDA_ENTRY, REPO_ROOT } from '../../infra/bundle-options';
import { emfValues, parseEmfLines, sum } from '../helpers/emf';
import { writeSpecialTable } from '../helpers/fixture-tables';
import { startLambdaHttpServer } from '../helpers/lambda-http-server';
import { installLambdaRuntimeShim } from '../helpers/lambda-runtime-shim';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
  uploadDir,
} from '../helpers/s3-servers';

const KEY = {
  accessKeyId: 'AKIABUNDLETEST000001',
  secretAccessKey: 'bundle-test-secret-01',
  principal: 'eu-reader',
};

describe('the built Lambda bundle', () => {
  let s3: S3Server;
  let server: { url: string; close: () => Promise<void> };
  let client: S3Client;
  const saved = { ...process.env };
  const audit: string[] = [];
  const emf: string[] = [];

  beforeAll(async () => {
    s3 = await startS3rver();
    const backend = backendClient(s3.endpoint);
    await createBucket(backend, 'lake');
    await uploadDir(backend, 'lake', 'gold/sales/', await writeSpecialTable(['EU', 'US'], ['2024-01-01']));

    const outfile = path.join(mkdtempSync(path.join(tmpdir(), 'lambda-bundle-')), 'index.mjs');
    await build({ ...esbuildOptions(LAMBDA_ENTRY, outfile), absWorkingDir: REPO_ROOT, logLevel: 'error' });

    // As the stack configures the function, the role's credentials in the environment as Lambda
    // puts them. s3rver refuses any other access key id, so a served file proves that the
    // bundle's SDK clients took their credentials from the environment.
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: BACKEND_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: BACKEND_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: 'role-session-token',
      PROXY_TABLE_MAPPING: JSON.stringify({ sales: 's3://lake/gold/sales' }),
      PROXY_GET_MODE: 'proxy',
      PROXY_S3: JSON.stringify({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' }),
      PROXY_AUTH: JSON.stringify({ keys: [KEY] }),
      PROXY_GRANTS: JSON.stringify([
        { principal: KEY.principal, table: 'sales', partitions: [{ region: 'EU' }] },
      ]),
    });
    // The bundle writes one audit line per request and its EMF lines to stdout; keep them.
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
      const line = String(chunk);
      if (line.startsWith('{"type":"audit"')) return audit.push(line) > 0;
      if (line.includes('"_aws":')) return emf.push(line.trim()) > 0;
      return write(chunk, ...rest);
    }) as typeof process.stdout.write);
    installLambdaRuntimeShim();
    const { handler } = (await import(pathToFileURL(outfile).href)) as { handler: never };
    server = await startLambdaHttpServer(handler);
    client = new S3Client({
      endpoint: server.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: KEY,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    await server?.close();
    await s3?.stop();
    vi.restoreAllMocks();
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });

  it('lists only the granted partition and serves its files', async () => {
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/region=' }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.startsWith('sales/region=EU/'))).toBe(true);
    const got = await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: keys[0] }));
    const bytes = await got.Body!.transformToByteArray();
    expect(Buffer.from(bytes.subarray(0, 4)).toString()).toBe('PAR1');
    // Each invocation's EMF documents, written once its response was streamed.
    const data = parseEmfLines(emf);
    expect(sum(emfValues(data, 'Requests', { Operation: 'ListObjectsV2', StatusClass: '2xx' }))).toBe(1);
    expect(sum(emfValues(data, 'Proxied'))).toBe(1);
    expect(emfValues(data, 'BytesOut').at(-1)).toBe(bytes.length);
  });

  it('answers a file of a partition that was not granted like a missing one (filtered log view, the default)', async () => {
    const all = await backendClient(s3.endpoint).send(
      new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'gold/sales/region=US/' }),
    );
    const usKey = all.Contents![0]!.Key!.replace('gold/sales/', 'sales/');
    await expect(client.send(new GetObjectCommand({ Bucket: 'datalake', Key: usKey }))).rejects.toMatchObject(
      {
        name: 'NoSuchKey',
        $metadata: { httpStatusCode: 404 },
      },
    );
  });
});
