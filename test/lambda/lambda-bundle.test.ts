/**
 * The built Lambda bundle itself (the files `cdk deploy` ships, made with the same esbuild options)
 * serves S3 requests through the runtime shim: configuration from PROXY_* variables, backend
 * credentials from the environment only (the bundle swaps the SDK's default chain for the env
 * provider), a Delta checkpoint read through the bundle's own Parquet codecs, grants enforced.
 * The parts only some requests need load from their own chunks on first use: the filtered log
 * view (with its Parquet writer) and the DynamoDB stores; a chunk that fails to load fails the
 * requests that need it, with InternalError, and nothing else.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildLambda } from '../../infra/build';
import { REPO_ROOT } from '../../infra/bundle-options';
import { DynamoAdmin } from '../../lambda/store/dynamo-admin';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { type DynamoServer, startDynalite, testDynamoClient } from '../helpers/dynamo-servers';
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
/** Held in DynamoDB only, with its grant: usable once the DynamoDB chunk has loaded. */
const DYNAMO_KEY = {
  accessKeyId: 'DLPBUNDLETEST0000002',
  secretAccessKey: 'bundle-test-secret-02',
  principal: 'us-reader',
};

function proxyClient(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }) {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, maxAttempts: 1 });
}

/**
 * Where the bundles under test go: beside the build's own staging directories, so that their
 * source maps' relative paths lead to the sources (vitest reads them).
 */
const STAGES = path.join(REPO_ROOT, 'dist', 'stage');
const bundleDirs: string[] = [];
function bundleDir(prefix: string): string {
  mkdirSync(STAGES, { recursive: true });
  const dir = mkdtempSync(path.join(STAGES, prefix));
  bundleDirs.push(dir);
  return dir;
}

async function importHandler(outdir: string): Promise<never> {
  return ((await import(pathToFileURL(path.join(outdir, 'index.mjs')).href)) as { handler: never }).handler;
}

describe('the built Lambda bundle', () => {
  let s3: S3Server;
  let dynamo: DynamoServer;
  let outdir: string;
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

    dynamo = await startDynalite();
    const db = testDynamoClient(dynamo.endpoint);
    await createDynamoTable(db, 'bundle-grants');
    const admin = new DynamoAdmin(db, 'bundle-grants');
    await admin.putKey(DYNAMO_KEY);
    await admin.putGrant(
      { principal: DYNAMO_KEY.principal, table: 'sales', partitions: [{ region: 'US' }] },
      'g1',
    );
    db.destroy();

    outdir = bundleDir('test-bundle-');
    await buildLambda(outdir);

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
      PROXY_DATABASE: JSON.stringify({
        type: 'dynamodb',
        tableName: 'bundle-grants',
        endpoint: dynamo.endpoint,
        region: 'us-east-1',
      }),
      PROXY_DATABASE_ENABLED: 'true',
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
    server = await startLambdaHttpServer(await importHandler(outdir));
    client = proxyClient(server.url, KEY);
  });
  afterAll(async () => {
    await server?.close();
    await s3?.stop();
    await dynamo?.stop();
    for (const dir of bundleDirs) rmSync(dir, { recursive: true, force: true });
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

  it('serves the filtered _delta_log, checkpoint included, from the chunk it loads on first use', async () => {
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/_delta_log/' }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    const checkpoint = keys.find((k) => k.endsWith('.checkpoint.parquet'));
    expect(checkpoint).toBeDefined();
    const parquet = await (
      await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: checkpoint }))
    ).Body!.transformToByteArray();
    expect(Buffer.from(parquet.subarray(0, 4)).toString()).toBe('PAR1');
    const commits = keys.filter((k) => k.endsWith('.json')).sort();
    const newest = await (
      await client.send(new GetObjectCommand({ Bucket: 'datalake', Key: commits.at(-1) }))
    ).Body!.transformToString();
    expect(newest).toContain('region=EU');
    expect(newest).not.toContain('region=US');
  });

  it('authenticates a key held in DynamoDB and applies its grant, from the chunk it loads on first use', async () => {
    const usReader = proxyClient(server.url, DYNAMO_KEY);
    const listed = await usReader.send(
      new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/region=' }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.startsWith('sales/region=US/'))).toBe(true);
  });

  it('answers InternalError to the requests that need a chunk that fails to load, and the others as usual', async () => {
    // A second copy of the bundle, imported afresh, whose filtered log view chunk is missing.
    const broken = bundleDir('test-broken-');
    cpSync(outdir, broken, { recursive: true });
    const chunk = readdirSync(broken).find((f) => /^filtered-log-view-.*\.mjs$/.test(f))!;
    renameSync(path.join(broken, chunk), path.join(broken, `${chunk}.away`));
    const brokenServer = await startLambdaHttpServer(await importHandler(broken));
    try {
      const eu = proxyClient(brokenServer.url, KEY);
      // Found through the working copy: in the filtered view every listing shows the log too.
      const data = await client.send(
        new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/region=EU/' }),
      );
      const file = data.Contents![0]!.Key!;
      const got = await eu.send(new GetObjectCommand({ Bucket: 'datalake', Key: file }));
      expect(Buffer.from((await got.Body!.transformToByteArray()).subarray(0, 4)).toString()).toBe('PAR1');

      const log = { Bucket: 'datalake', Key: 'sales/_delta_log/00000000000000000000.json' };
      for (let i = 0; i < 2; i++)
        await expect(eu.send(new GetObjectCommand(log))).rejects.toMatchObject({
          name: 'InternalError',
          $metadata: { httpStatusCode: 500 },
        });
      expect(audit.some((l) => l.includes('the filtered log view failed to load'))).toBe(true);
      // The process and what it serves without the chunk carry on.
      const again = await eu.send(new GetObjectCommand({ Bucket: 'datalake', Key: file }));
      expect((await again.Body!.transformToByteArray()).byteLength).toBeGreaterThan(0);
    } finally {
      await brokenServer.close();
    }
  });
});
