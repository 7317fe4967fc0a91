/**
 * The set-up of the suites that follow tables over time through the real proxy (authz-refresh,
 * history-rewrite), called in each row of `describe.each(s3rverAndMoto())`: the row's S3 server
 * with a bucket `lake`, started before the suite unless the row is skipped; fresh
 * region-partitioned tables written straight to it; proxies over it for `principals`. The server
 * and every proxy are stopped after the suite.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import type { ConfigInput } from '../../lambda/config';
import type { Clock } from '../../lambda/core/types';
import { DeltaTableWriter, type Protocol } from '../../lambda/local/delta-writer';
import type { StorageBackend } from '../../lambda/storage/storage-backend';
import { type AuthzProxy, startAuthzProxy } from './authz-harness';
import { backendClient, createBucket, type S3Server } from './s3-servers';

export interface LakeSuite {
  /** The running server and a client of it (once the suite's beforeAll has run). */
  readonly backend: S3Server;
  readonly s3: S3Client;
  /** A fresh table `t<n>` under `tables/t<n>/` (schema id, region; partitioned by region). */
  freshTable(options?: { configuration?: Record<string, string>; protocol?: Protocol }): Promise<LakeTable>;
  proxyFor(
    clock: Clock,
    config: Omit<ConfigInput, 's3' | 'auth'>,
    storage?: StorageBackend,
  ): Promise<AuthzProxy>;
}

export interface LakeTable {
  alias: string;
  /** Key prefix in the bucket, ending in `/`. */
  prefix: string;
  uri: string;
  writer: DeltaTableWriter;
  /** Writes one data file of one row in `region` (not committed). */
  file(region: string, id: number): ReturnType<DeltaTableWriter['writeDataFile']>;
}

export function lakeSuite(
  start: () => Promise<S3Server>,
  skipReason: string | undefined,
  principals: readonly string[],
): LakeSuite {
  let backend: S3Server | undefined;
  let s3: S3Client | undefined;
  let n = 0;
  const proxies: AuthzProxy[] = [];
  beforeAll(async () => {
    if (skipReason) return;
    backend = await start();
    s3 = backendClient(backend.endpoint);
    await createBucket(s3, 'lake');
  });
  afterAll(async () => {
    for (const p of proxies) await p.stop();
    s3?.destroy();
    await backend?.stop();
  });
  const started = <T>(x: T | undefined): T => {
    if (x === undefined) throw new Error('the suite backend is not running');
    return x;
  };
  return {
    get backend() {
      return started(backend);
    },
    get s3() {
      return started(s3);
    },
    async freshTable({ configuration, protocol } = {}) {
      const client = started(s3);
      const alias = `t${++n}`;
      const prefix = `tables/${alias}/`;
      const writer = new DeltaTableWriter(
        {
          async put(rel, bytes) {
            await client.send(new PutObjectCommand({ Bucket: 'lake', Key: prefix + rel, Body: bytes }));
          },
        },
        {
          schema: [
            { name: 'id', type: 'long' },
            { name: 'region', type: 'string' },
          ],
          partitionColumns: ['region'],
          ...(configuration ? { configuration } : {}),
          ...(protocol ? { protocol } : {}),
        },
      );
      await writer.create();
      const file = (region: string, id: number) => writer.writeDataFile({ region }, [{ id, region }]);
      return { alias, prefix, uri: `s3://lake/tables/${alias}`, writer, file };
    },
    async proxyFor(clock, config, storage) {
      const p = await startAuthzProxy(started(backend), config, principals, {
        clock,
        ...(storage ? { storage } : {}),
      });
      proxies.push(p);
      return p;
    },
  };
}
