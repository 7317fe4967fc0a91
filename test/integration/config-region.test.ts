/**
 * `s3.region` and `database.region` are host labels to the AWS SDK (its endpoint rules): a value
 * that is none ("us-east-1 ", "eu_west_1") was accepted, and then every table request answered
 * 500 InternalError, or every DynamoDB lookup failed (503). Refused naming the field, or served.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { parsedUnlessRefused } from '../helpers/config-outcome';
import { startDynalite, testDynamoClient } from '../helpers/dynamo-servers';
import { writeRegionTable } from '../helpers/fixture-tables';
import { ANALYST, startProxy } from '../helpers/proxy-harness';
import { backendClient, createBucket, type S3Server, startS3rver, uploadDir } from '../helpers/s3-servers';
import { encodeQuery, signedFetch } from '../helpers/signed-fetch';

const BUCKET = 'region-lake';
let backend: S3Server;

beforeAll(async () => {
  backend = await startS3rver();
  const s3 = backendClient(backend.endpoint);
  await createBucket(s3, BUCKET);
  const { dir } = await writeRegionTable(2, []);
  await uploadDir(s3, BUCKET, 't/', dir);
  s3.destroy();
}, 60_000);

afterAll(async () => {
  await backend?.stop();
});

const settings = {
  getMode: 'proxy' as const,
  tableMapping: { t: `s3://${BUCKET}/t` },
  grants: [{ principal: ANALYST.principal, table: 't', partitions: [{}] }],
};

describe('region values', () => {
  for (const region of ['us-east-1', 'us-east-1 ', 'eu_west_1', 'eu.west.1'])
    it(`s3.region ${JSON.stringify(region)}: refused naming the field, or the table is served`, async () => {
      if (!parsedUnlessRefused({ ...settings, s3: { endpoint: backend.endpoint, region } }, /^s3\.region: /))
        return;
      const proxy = await startProxy(backend, { ...settings, s3: { region } });
      try {
        const r = await signedFetch(
          proxy.url,
          'GET',
          '/datalake',
          encodeQuery({ 'list-type': '2', prefix: 't/' }),
          {},
          ANALYST,
        );
        expect(r.status, r.text.slice(0, 300)).toBe(200);
      } finally {
        await proxy.stop();
      }
    });

  it('database.region that is no region: refused naming the field, or an unknown key is told so', async () => {
    const dynalite = await startDynalite();
    const database = { type: 'dynamodb' as const, tableName: 'grants', endpoint: dynalite.endpoint };
    try {
      const ddb = testDynamoClient(dynalite.endpoint);
      await createDynamoTable(ddb, 'grants');
      ddb.destroy();
      for (const region of ['us-east-1', 'us east 1']) {
        const raw = { ...settings, databaseEnabled: true, database: { ...database, region } };
        if (!parsedUnlessRefused(raw, /^database\.region: /)) continue;
        const proxy = await startProxy(backend, {
          ...settings,
          databaseEnabled: true,
          database: { ...database, region },
        });
        try {
          const stranger = { accessKeyId: 'AKIANOSUCHKEY0001', secretAccessKey: 'no-such-secret-0001' };
          const r = await signedFetch(
            proxy.url,
            'GET',
            '/datalake',
            encodeQuery({ 'list-type': '2' }),
            {},
            stranger,
          );
          expect([r.status, /<Code>([^<]*)/.exec(r.text)?.[1]], `${region}: ${r.text.slice(0, 300)}`).toEqual(
            [403, 'InvalidAccessKeyId'],
          );
        } finally {
          await proxy.stop();
        }
      }
    } finally {
      await dynalite.stop();
    }
  });
});
