/**
 * DynamoDB grants on a real local DynamoDB: an item whose partitions write a column twice in one
 * map is refused (JSON would keep the last); init refuses an existing table of another key schema;
 * grants over several 1 MB Query pages are all read; a throttled page fails the lookup and caches
 * nothing; a lookup still in flight after the TTL (a Lambda instance frozen with the call in
 * flight) is not joined by later requests.
 */
import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoGrantStore } from '../../lambda/access/dynamodb-grant-store';
import { effectivePartitions } from '../../lambda/access/grant-sources';
import { DynamoCredentialStore } from '../../lambda/auth/dynamodb-credential-store';
import { jsonLogger } from '../../lambda/core/logger';
import type { S3Error } from '../../lambda/core/s3-error';
import { DynamoAdmin } from '../../lambda/store/dynamo-admin';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { adminInProcess } from '../helpers/admin-cli';
import {
  type DynamoServer,
  startDynalite,
  startMisbehavingDynamo,
  testDynamoClient,
} from '../helpers/dynamo-servers';

describe('DynamoDB grant items and tables', () => {
  let server: DynamoServer;
  let client: ReturnType<typeof testDynamoClient>;
  let n = 0;
  const fresh = async () => {
    n++;
    const name = `grant-items-${n}`;
    await createDynamoTable(client, name);
    return name;
  };
  beforeAll(async () => {
    server = await startDynalite();
    client = testDynamoClient(server.endpoint);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  it('a grant item whose partitions JSON writes one column twice is refused, not read as its last value', async () => {
    const table = await fresh();
    const logs: string[] = [];
    const store = new DynamoGrantStore(client, table, { logger: jsonLogger((l) => logs.push(l)) });
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: 'PRINCIPAL#dup' },
          sk: { S: 'GRANT#trades#g1' },
          table: { S: 'trades' },
          partitions: { S: '[{"region":"EU","region":"US"}]' },
        },
      }),
    );
    const grants = await store.grantsFor('dup');
    const maps = effectivePartitions(grants, 'trades');
    // Which value the writer meant cannot be known (the config refuses the same text at start-up).
    expect(maps ?? []).not.toContainEqual({ region: 'US' });
    expect(maps ?? []).toEqual([]);
    expect(logs.join('\n')).toMatch(/malformed.*column twice/);
    // The admin listing shows it as the proxy reads it: refused.
    const listed = await adminInProcess([
      'grants',
      'list',
      '--json',
      '--principal',
      'dup',
      '--dynamodb',
      table,
      '--endpoint',
      server.endpoint,
    ]);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ partitions: [], refused: expect.stringMatching(/column twice/) }),
    ]);
  });

  // The check compared the pk with `PRINCIPAL#${copy.S}`: for a copy that is not a string, the
  // text "PRINCIPAL#undefined", so the item granted to a principal of that name alone.
  it('a grant item whose principal copy is not a string is refused for every principal, also one named "undefined"', async () => {
    const table = await fresh();
    const item = (principal: string) => ({
      pk: { S: `PRINCIPAL#${principal}` },
      sk: { S: 'GRANT#trades#g1' },
      principal: { N: '1' },
      table: { S: 'trades' },
      partitions: { S: '[{}]' },
    });
    for (const p of ['analyst', 'undefined'])
      await client.send(new PutItemCommand({ TableName: table, Item: item(p) }));
    const store = new DynamoGrantStore(client, table);
    expect(await store.grantsFor('analyst')).toEqual([]);
    expect(await store.grantsFor('undefined')).toEqual([]);
  });

  it('init against an existing table of another key schema fails instead of saying it exists', async () => {
    await client.send(
      new CreateTableCommand({
        TableName: 'other-schema',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    const r = await adminInProcess(['init', '--dynamodb', 'other-schema', '--endpoint', server.endpoint]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*other-schema already exists with another key schema/m);
    // The table of this design is still fine to init again.
    const ok = await adminInProcess(['init', '--dynamodb', await fresh(), '--endpoint', server.endpoint]);
    expect(ok).toMatchObject({ code: 0, stdout: expect.stringMatching(/already exists/) });
  });

  it('follows LastEvaluatedKey past DynamoDB 1 MB pages (no pageSize)', async () => {
    const table = await fresh();
    const admin = new DynamoAdmin(client, table);
    const big = 'x'.repeat(300_000);
    for (let i = 0; i < 6; i++)
      await admin.putGrant({ principal: 'big', table: `t${i}`, partitions: [{ c: big }] }, `g${i}`);
    const store = new DynamoGrantStore(client, table);
    const grants = await store.grantsFor('big');
    expect(grants).toHaveLength(6);
    expect(store.pagesRead).toBeGreaterThan(1);
    const listed = await adminInProcess([
      'grants',
      'list',
      '--json',
      '--dynamodb',
      table,
      '--endpoint',
      server.endpoint,
    ]);
    expect(JSON.parse(listed.stdout)).toHaveLength(6);
  });

  it('a throttled second Query page fails the lookup (SlowDown) and caches nothing', async () => {
    const table = await fresh();
    const admin = new DynamoAdmin(client, table);
    for (let i = 0; i < 5; i++)
      await admin.putGrant({ principal: 'p', table: `t${i}`, partitions: [{}] }, `g${i}`);
    const front = await startMisbehavingDynamo(server);
    const c2 = testDynamoClient(front.endpoint);
    let queries = 0;
    front.onRequest = (op) =>
      op === 'Query' && ++queries === 2
        ? { status: 400, type: 'ProvisionedThroughputExceededException' }
        : undefined;
    const store = new DynamoGrantStore(c2, table, { pageSize: 2 });
    const e = await store.grantsFor('p').catch((x: unknown) => x);
    expect((e as S3Error).code).toBe('SlowDown');
    expect(await store.grantsFor('p')).toHaveLength(5);
    c2.destroy();
    await front.stop();
  });

  describe('a lookup in flight across a freeze', () => {
    // DynamoDB answers a lookup, the instance freezes before the answer is read, a grant or a key
    // is revoked meanwhile, and requests after the thaw must not take the old answer: a load begun
    // longer than the TTL ago is not joined, and its late answer does not replace a newer one.
    const TTL = 30_000;
    const HOURS = 3 * 3_600_000;
    class ManualClock {
      t = 1_000_000;
      now = () => this.t;
    }
    async function frozenFront(operation: string) {
      const front = await startMisbehavingDynamo(server);
      let release!: () => void;
      const thaw = new Promise<void>((r) => {
        release = r;
      });
      let held = false;
      front.onRequest = (op) => {
        if (op !== operation || held) return undefined;
        held = true;
        return { answerAfter: thaw };
      };
      const readByDynamo = async () => {
        for (let i = 0; i < 200 && !front.seen.includes(operation); i++)
          await new Promise((r) => setTimeout(r, 10));
        expect(front.seen).toContain(operation);
      };
      return { front, release, readByDynamo };
    }

    it('grants: a request after the thaw reads DynamoDB again and sees the revocation', async () => {
      const table = await fresh();
      const admin = new DynamoAdmin(client, table);
      await admin.putGrant({ principal: 'p', table: 'trades', partitions: [{ region: 'US' }] }, 'g');
      const { front, release, readByDynamo } = await frozenFront('Query');
      const c2 = testDynamoClient(front.endpoint);
      const clock = new ManualClock();
      const store = new DynamoGrantStore(c2, table, { ttlMs: TTL, clock });
      try {
        const before = store.grantsFor('p');
        await readByDynamo();
        expect(await admin.revokeGrants('p', 'trades')).toBe(1);
        clock.t += HOURS;
        const after = store.grantsFor('p');
        release();
        expect(effectivePartitions(await before, 'trades')).toEqual([{ region: 'US' }]);
        expect(effectivePartitions(await after, 'trades')).toBeUndefined();
        // The frozen lookup's late answer did not replace the newer one.
        expect(effectivePartitions(await store.grantsFor('p'), 'trades')).toBeUndefined();
      } finally {
        release();
        c2.destroy();
        await front.stop();
      }
    });

    it('keys: a request after the thaw reads DynamoDB again and sees the revocation', async () => {
      const table = await fresh();
      const admin = new DynamoAdmin(client, table);
      const id = 'DLPFROZEN00000000000';
      await admin.putKey({ accessKeyId: id, secretAccessKey: 's'.repeat(40), principal: 'p' });
      const { front, release, readByDynamo } = await frozenFront('GetItem');
      const c2 = testDynamoClient(front.endpoint);
      const clock = new ManualClock();
      const store = new DynamoCredentialStore(c2, table, { ttlMs: TTL, clock });
      try {
        const before = store.lookup(id);
        await readByDynamo();
        expect(await admin.revokeKey(id)).toBe(true);
        clock.t += HOURS;
        const after = store.lookup(id);
        release();
        expect((await before)?.principal).toBe('p');
        expect(await after).toBeUndefined();
        expect(await store.lookup(id)).toBeUndefined();
      } finally {
        release();
        c2.destroy();
        await front.stop();
      }
    });

    it('a burst within the TTL still shares one read', async () => {
      const table = await fresh();
      const admin = new DynamoAdmin(client, table);
      await admin.putGrant({ principal: 'p', table: 'trades', partitions: [{}] }, 'g');
      const { front, release, readByDynamo } = await frozenFront('Query');
      const c2 = testDynamoClient(front.endpoint);
      const clock = new ManualClock();
      const store = new DynamoGrantStore(c2, table, { ttlMs: TTL, clock });
      try {
        const first = store.grantsFor('p');
        await readByDynamo();
        clock.t += TTL - 1;
        const joined = store.grantsFor('p');
        release();
        expect(await joined).toBe(await first);
        expect(front.seen.filter((op) => op === 'Query')).toHaveLength(1);
      } finally {
        release();
        c2.destroy();
        await front.stop();
      }
    });
  });
});
