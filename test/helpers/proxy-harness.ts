/**
 * Starts the real proxy (bootstrap + node:http adapter) in front of a real S3-compatible server,
 * with a test access key, and hands back SDK clients signed with it.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { type NodeServer, type NodeServerOptions, startNodeServer } from '../../lambda/adapters/node-server';
import {
  createProxy,
  nodeServerOptions,
  type ProxyInstance,
  type ProxyOverrides,
} from '../../lambda/bootstrap';
import { type ConfigInput, parseConfig } from '../../lambda/config';
import { jsonLogger } from '../../lambda/core/logger';
import type { Observer, RequestEvent } from '../../lambda/core/observer';
import type { ProxyHandler } from '../../lambda/core/types';
import { BACKEND_CREDENTIALS, type S3Server } from './s3-servers';

export interface TestKey {
  accessKeyId: string;
  secretAccessKey: string;
  principal: string;
}

export const ANALYST: TestKey = {
  accessKeyId: 'AKIATESTANALYST0001',
  secretAccessKey: 'analyst-secret-key-0001',
  principal: 'analyst',
};

/** A second and a third caller, for tests that grant one partition each and both. */
export const US_READER: TestKey = {
  accessKeyId: 'AKIATESTUSREADER001',
  secretAccessKey: 'us-secret-0001',
  principal: 'us',
};
export const BOTH_READER: TestKey = {
  accessKeyId: 'AKIATESTBOTHREAD001',
  secretAccessKey: 'both-secret-0001',
  principal: 'both',
};

export interface RunningProxy {
  url: string;
  proxy: ProxyInstance;
  events: RequestEvent[];
  /** Operational log lines the proxy wrote (JSON). */
  logs: string[];
  client(key?: TestKey): S3Client;
  stop(): Promise<void>;
}

export type ServeFn = (
  handler: ProxyHandler,
  options?: NodeServerOptions,
) => Promise<{ url: string; close(): Promise<void> }>;

/** node:http by default; the Lambda suite passes its own transport. */
export const serveWithNode: ServeFn = async (handler, options) => {
  const s: NodeServer = await startNodeServer(handler, '127.0.0.1', 0, options);
  return { url: s.url, close: () => s.close() };
};

export async function startProxy(
  backend: S3Server,
  config: Omit<ConfigInput, 's3'> & { s3?: ConfigInput['s3'] },
  serve: ServeFn = serveWithNode,
  overrides: ProxyOverrides = {},
): Promise<RunningProxy> {
  const events: RequestEvent[] = [];
  const logs: string[] = [];
  const recorder: Observer = { record: (e) => events.push(e) };
  const parsed = parseConfig({
    // The S3 surface suites compare the stored log with moto; the filtered view has its own suites.
    logView: 'raw',
    ...config,
    s3: { endpoint: backend.endpoint, forcePathStyle: true, region: 'us-east-1', ...config.s3 },
    auth: { keys: [ANALYST], ...config.auth },
  });
  const proxy = createProxy(parsed, {
    backendCredentials: BACKEND_CREDENTIALS,
    audit: false,
    observers: [recorder],
    logger: jsonLogger((line) => logs.push(line)),
    ...overrides,
  });
  const server = await serve(proxy.handler, nodeServerOptions(proxy));
  return {
    url: server.url,
    proxy,
    events,
    logs,
    client: (key = ANALYST) =>
      new S3Client({
        endpoint: server.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
        maxAttempts: 1,
      }),
    stop: () => server.close(),
  };
}

export interface RegionReaders {
  /** ANALYST's client (granted region=EU) and US_READER's (region=US). */
  eu: S3Client;
  us: S3Client;
  stop(): Promise<void>;
}

/** A proxy (proxy mode) of table `t` at s3://bucket/t with two readers, one region each. */
export async function startRegionReaders(
  backend: S3Server,
  bucket: string,
  logView: 'raw' | 'filtered',
): Promise<RegionReaders> {
  const proxy = await startProxy(backend, {
    logView,
    getMode: 'proxy',
    tableMapping: { t: `s3://${bucket}/t` },
    auth: { keys: [ANALYST, US_READER] },
    grants: [
      { principal: ANALYST.principal, table: 't', partitions: [{ region: 'EU' }] },
      { principal: US_READER.principal, table: 't', partitions: [{ region: 'US' }] },
    ],
  });
  const eu = proxy.client(ANALYST);
  const us = proxy.client(US_READER);
  return {
    eu,
    us,
    async stop() {
      eu.destroy();
      us.destroy();
      await proxy.stop();
    },
  };
}
