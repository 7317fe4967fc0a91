import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { effectivePartitions } from '../../lambda/access/grant-sources';
import { parseConfig } from '../../lambda/config';
import { DynamoAdmin } from '../../lambda/store/dynamo-admin';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { storesFromConfig } from '../../lambda/store/stores-from-config';
import { type DynamoServer, startDynalite, testDynamoClient } from '../helpers/dynamo-servers';

const base = {
  tableMapping: { trades: 's3://bucket/trades', public: 's3://bucket/public' },
  auth: { keys: [{ accessKeyId: 'CONFIGKEY', secretAccessKey: 'config-secret', principal: 'analyst' }] },
  grants: [{ principal: 'analyst', table: 'trades', partitions: [{ region: 'US' }] }],
  allowedPartitions: { public: [{}] },
};

describe('storesFromConfig', () => {
  let server: DynamoServer;
  beforeAll(async () => {
    server = await startDynalite();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('uses only the config when databaseEnabled is false', async () => {
    const stores = storesFromConfig(parseConfig(base));
    expect(stores.dynamo).toBeUndefined();
    expect((await stores.credentials.lookup('CONFIGKEY'))?.principal).toBe('analyst');
    const grants = await stores.grants.grantsFor('analyst');
    expect(effectivePartitions(grants, 'trades')).toEqual([{ region: 'US' }]);
    expect(effectivePartitions(grants, 'public')).toEqual([{}]);
  });

  it('unions config and DynamoDB grants and finds keys in either', async () => {
    const client = testDynamoClient(server.endpoint);
    await createDynamoTable(client, 'wired');
    const admin = new DynamoAdmin(client, 'wired');
    await admin.putKey({
      accessKeyId: 'DLPDYNAMOKEY',
      secretAccessKey: 'd'.repeat(40),
      principal: 'analyst',
    });
    await admin.putGrant({ principal: 'analyst', table: 'trades', partitions: [{ region: 'EU' }] }, 'g1');
    const config = parseConfig({
      ...base,
      databaseEnabled: true,
      database: { type: 'dynamodb', tableName: 'wired', endpoint: server.endpoint, region: 'us-east-1' },
    });
    const stores = storesFromConfig(config, { dynamoClient: client });
    expect((await stores.credentials.lookup('CONFIGKEY'))?.principal).toBe('analyst');
    expect((await stores.credentials.lookup('DLPDYNAMOKEY'))?.secretAccessKey).toBe('d'.repeat(40));
    expect(await stores.credentials.lookup('DLPUNKNOWN')).toBeUndefined();
    const grants = await stores.grants.grantsFor('analyst');
    expect(effectivePartitions(grants, 'trades')).toEqual([{ region: 'US' }, { region: 'EU' }]);
    client.destroy();
  });

  it('refuses databaseEnabled without a database section', () => {
    expect(() => storesFromConfig(parseConfig({ ...base, databaseEnabled: true }))).toThrow(/database/);
  });
});
