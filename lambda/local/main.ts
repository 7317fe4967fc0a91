/**
 * `npm start`: with no arguments, an embedded S3-compatible server on loopback, a demo Delta
 * table, a random demo access key and the proxy in front of them. With `--config FILE` (or
 * PROXY_CONFIG_FILE), the proxy alone in the foreground with that configuration; with
 * PROXY_TABLE_MAPPING and no file, the proxy from PROXY_* variables alone, as the Lambda function
 * runs. Ctrl-C stops everything it started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { metricsExposureWarning, startMetricsListener } from '../adapters/metrics-listener';
import { startNodeServer } from '../adapters/node-server';
import { newAccessKeyId, newSecretAccessKey } from '../admin/key-material';
import { createProxy, nodeServerOptions } from '../bootstrap';
import { type Config, ConfigError, configPathAsTyped, loadConfig, parseConfig } from '../config';
import { resolveSecrets } from '../config-secrets';
import { jsonLogger } from '../core/logger';
import { writeDemoTable } from './demo-table';
import { startEmbeddedS3 } from './embedded-s3';

// Outside Lambda nothing may probe the EC2 metadata address.
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_EMF_ENVIRONMENT = 'Local';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const EMBEDDED_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const DEMO_BUCKET = 'demo-lake';

/** `file` undefined: the file PROXY_CONFIG_FILE names (loadConfig), overridden by PROXY_* variables. */
async function runWithConfig(file: string | undefined): Promise<void> {
  const config = await resolveSecrets(
    loadConfig({
      ...(file === undefined ? {} : { file }),
      warn: (m, f) => jsonLogger().warn(m, f),
    }),
  );
  const proxy = createProxy(config);
  const server = await startNodeServer(
    proxy.handler,
    config.host,
    config.port,
    nodeServerOptions(proxy),
  ).catch(portInUse('port', config.host, config.port));
  const metrics = await startMetricsListener(
    () => proxy.metrics.render(),
    config.host,
    config.metricsPort,
  ).catch(portInUse('metricsPort', config.host, config.metricsPort));
  // Stoppable before it says it listens: a supervisor may send SIGTERM as soon as it reads the line
  // (without a listener, node dies of the signal instead of closing and exiting 0).
  onStop(async () => {
    await server.close();
    await metrics.close();
  });
  process.stderr.write(
    `delta-lake-s3-proxy listening on ${server.url} (tables: ${Object.keys(config.tableMapping).join(', ')}); metrics on ${metrics.url}\n`,
  );
  warnIfExposed(config.host, metrics.port);
}

/** A listen that failed for a taken port names the setting to change, not just the address. */
function portInUse(field: 'port' | 'metricsPort', host: string, port: number): (err: unknown) => never {
  return (err) => {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new ConfigError(`${field}: ${port} is in use on ${host}: choose another (0: any free port)`);
    throw err;
  };
}

function warnIfExposed(host: string, metricsPort: number): void {
  const warning = metricsExposureWarning(host);
  if (warning) jsonLogger().warn(warning, { host, metricsPort });
}

async function runDemo(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'delta-proxy-demo-'));
  const s3 = await startEmbeddedS3(dir);
  const stops: (() => Promise<void>)[] = [
    async () => {
      await s3.close();
      rmSync(dir, { recursive: true, force: true });
    },
  ];
  onStop(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  });

  const backend = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: EMBEDDED_CREDENTIALS,
  });
  await backend.send(new CreateBucketCommand({ Bucket: DEMO_BUCKET }));
  const tablePrefix = 'warehouse/sales/';
  await writeDemoTable({
    put: async (rel, bytes) => {
      await backend.send(new PutObjectCommand({ Bucket: DEMO_BUCKET, Key: tablePrefix + rel, Body: bytes }));
    },
  });

  const accessKeyId = newAccessKeyId();
  const secretAccessKey = newSecretAccessKey();
  const port = Number(process.env.PROXY_PORT ?? 18080);
  const config: Config = parseConfig({
    port,
    // PROXY_PORT=9090 takes the default metrics port: the metrics then go to any free port.
    ...(port === 9090 ? { metricsPort: 0 } : {}),
    getMode: 'proxy',
    tableMapping: { sales: `s3://${DEMO_BUCKET}/${tablePrefix.slice(0, -1)}` },
    s3: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true },
    auth: { keys: [{ accessKeyId, secretAccessKey, principal: 'demo-analyst' }] },
    // The demo analyst may read Europe and one US day; APAC and US 2024-01-02 stay hidden.
    grants: [
      {
        principal: 'demo-analyst',
        table: 'sales',
        partitions: [{ region: 'EU' }, { region: 'US', date: '2024-01-01' }],
      },
    ],
  });
  const proxy = createProxy(config, { backendCredentials: EMBEDDED_CREDENTIALS });
  let server: Awaited<ReturnType<typeof startNodeServer>>;
  try {
    server = await startNodeServer(proxy.handler, config.host, config.port, nodeServerOptions(proxy));
  } catch {
    server = await startNodeServer(proxy.handler, config.host, 0, nodeServerOptions(proxy));
  }
  stops.push(() => server.close());
  const render = () => proxy.metrics.render();
  const metrics = await startMetricsListener(render, config.host, config.metricsPort).catch(() =>
    startMetricsListener(render, config.host, 0),
  );
  stops.push(() => metrics.close());
  warnIfExposed(config.host, metrics.port);

  const endpoint = server.url;
  process.stdout.write(
    [
      `AWS_ENDPOINT_URL=${endpoint}`,
      `AWS_ACCESS_KEY_ID=${accessKeyId}`,
      `AWS_SECRET_ACCESS_KEY=${secretAccessKey}`,
      'AWS_REGION=us-east-1',
      '',
      '# The demo analyst may read sales in region EU and US on 2024-01-01 only. Try:',
      `AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=${secretAccessKey} AWS_REGION=us-east-1 aws s3 ls --recursive s3://datalake/sales/ --endpoint-url ${endpoint}`,
      '',
      '# polars (pip install polars):',
      `python3 -c "import polars as pl; print(pl.read_parquet('s3://datalake/sales/region=EU/**/*.parquet', storage_options={'aws_endpoint_url': '${endpoint}', 'aws_access_key_id': '${accessKeyId}', 'aws_secret_access_key': '${secretAccessKey}', 'aws_region': 'us-east-1', 'aws_allow_http': 'true'}))"`,
      '',
      `# Prometheus metrics: curl ${metrics.url}`,
      `# backend (embedded s3rver): ${s3.endpoint}; Ctrl-C stops everything.`,
      '',
    ].join('\n'),
  );
}

function onStop(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(1), 5_000);
    void stop().finally(() => {
      clearTimeout(timer);
      process.exit(0);
    });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm start [-- --config FILE]   (or PROXY_CONFIG_FILE=FILE, or PROXY_TABLE_MAPPING=JSON and other PROXY_* variables)\n',
    );
    return;
  }
  // PROXY_TABLE_MAPPING is the one setting without a default: with it, the variables are a config.
  if (
    values.config !== undefined ||
    process.env.PROXY_CONFIG_FILE !== undefined ||
    process.env.PROXY_TABLE_MAPPING !== undefined
  ) {
    if (process.env.PROXY_CONFIG_FILE !== undefined)
      process.env.PROXY_CONFIG_FILE = configPathAsTyped(process.env.PROXY_CONFIG_FILE, 'start');
    await runWithConfig(values.config === undefined ? undefined : configPathAsTyped(values.config, 'start'));
  } else {
    refuseIgnoredSettings(process.env);
    await runDemo();
  }
}

/** The demo reads PROXY_PORT only: any other setting would be silently ignored, so it stops instead. */
function refuseIgnoredSettings(env: NodeJS.ProcessEnv): void {
  const ignored = Object.keys(env).find((name) => name.startsWith('PROXY_') && name !== 'PROXY_PORT');
  if (ignored)
    throw new ConfigError(
      `${ignored}: the demo (npm start without --config) does not read it; pass --config FILE, set PROXY_CONFIG_FILE, or set PROXY_TABLE_MAPPING to run from PROXY_* variables alone`,
    );
}

main().catch((err) => {
  const message =
    err instanceof ConfigError
      ? `configuration error: ${err.message}`
      : `failed to start: ${(err as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
