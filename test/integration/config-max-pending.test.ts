/**
 * `s3.maxPendingRequests` bounds the backend calls awaiting an answer across all requests. A
 * value the config accepts must let a lone request on an idle proxy through: a cold snapshot load
 * reads up to 64 log files at once, and below that its own reads were shed, so every request on a
 * table with a longer log got 503 SlowDown, retry after retry.
 */

import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaTableWriter } from '../../lambda/local/delta-writer';
import { parsedUnlessRefused } from '../helpers/config-outcome';
import { ANALYST, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeQuery, signedFetch } from '../helpers/signed-fetch';

const BUCKET = 'pending-lake';
let backend: S3Server;

beforeAll(async () => {
  backend = await startS3rver();
  const s3 = backendClient(backend.endpoint);
  await createBucket(s3, BUCKET);
  const writer = new DeltaTableWriter(
    {
      async put(rel, bytes) {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `long/${rel}`, Body: bytes }));
      },
    },
    {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'region', type: 'string' },
      ],
      partitionColumns: ['region'],
    },
  );
  await writer.create();
  // 100 commits, no checkpoint: the load reads a full window of commits at once.
  for (let i = 0; i < 100; i++)
    await writer.commit({ add: [await writer.writeDataFile({ region: 'EU' }, [{ id: i, region: 'EU' }])] });
  s3.destroy();
}, 120_000);

afterAll(async () => {
  await backend?.stop();
});

describe('s3.maxPendingRequests', () => {
  for (const limit of [1, 8])
    it(`${limit}: refused naming the field, or a lone caller's listing is served`, async () => {
      const settings = {
        getMode: 'proxy' as const,
        tableMapping: { long: `s3://${BUCKET}/long` },
        grants: [{ principal: ANALYST.principal, table: 'long', partitions: [{}] }],
        s3: { maxPendingRequests: limit },
      };
      const accepted = parsedUnlessRefused(
        { ...settings, s3: { ...settings.s3, endpoint: backend.endpoint } },
        /^s3\.maxPendingRequests: /,
      );
      if (!accepted) return;
      expect(accepted.s3.maxPendingRequests).toBe(limit);
      const proxy = await startProxy(backend, settings);
      try {
        for (let i = 0; i < 3; i++) {
          const r = await signedFetch(
            proxy.url,
            'GET',
            '/datalake',
            encodeQuery({ 'list-type': '2', prefix: 'long/' }),
            {},
            ANALYST,
          );
          expect(r.status, r.text.slice(0, 300)).toBe(200);
        }
      } finally {
        await proxy.stop();
      }
    });
});
