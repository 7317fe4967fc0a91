import { type AttributeValue, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoGrantStore } from '../../lambda/access/dynamodb-grant-store';
import { effectivePartitions } from '../../lambda/access/grant-sources';
import { DLP_KEY_ID, DynamoCredentialStore } from '../../lambda/auth/dynamodb-credential-store';
import { jsonLogger } from '../../lambda/core/logger';
import { S3Error } from '../../lambda/core/s3-error';
import { DynamoAdmin } from '../../lambda/store/dynamo-admin';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import {
  type DynamoServer,
  motoUnavailable,
  startDynalite,
  startMoto,
  startRefusingDynamo,
  testDynamoClient,
} from '../helpers/dynamo-servers';
import { withReason } from '../helpers/skips';

class ManualClock {
  t = 1_000_000;
  now = () => this.t;
  advance(ms: number) {
    this.t += ms;
  }
}

const TTL = 30_000;
const motoReason = motoUnavailable();

const backends: [string, () => Promise<DynamoServer>, string | undefined][] = [
  ['dynalite', startDynalite, undefined],
  [withReason('moto', motoReason), () => startMoto(), motoReason],
];

describe.each(backends)('DynamoDB stores on %s', (_name, start, skipReason) => {
  let server: DynamoServer;
  let admin: DynamoAdmin;
  let client: ReturnType<typeof testDynamoClient>;
  let n = 0;
  const table = () => `access-test-${n}`;

  beforeAll(async () => {
    if (skipReason) return;
    server = await start();
    client = testDynamoClient(server.endpoint);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  async function freshTable() {
    n++;
    expect(await createDynamoTable(client, table())).toBe('created');
    admin = new DynamoAdmin(client, table());
  }

  it.skipIf(skipReason)('authenticates an active key and stops within the TTL after revocation', async () => {
    await freshTable();
    const clock = new ManualClock();
    const store = new DynamoCredentialStore(client, table(), { ttlMs: TTL, clock });
    await admin.putKey({
      accessKeyId: 'DLPAAAAAAAAAAAAAAAAA',
      secretAccessKey: 's'.repeat(40),
      principal: 'analyst',
    });
    expect(await store.lookup('DLPAAAAAAAAAAAAAAAAA')).toEqual({
      accessKeyId: 'DLPAAAAAAAAAAAAAAAAA',
      secretAccessKey: 's'.repeat(40),
      principal: 'analyst',
      status: 'active',
    });
    expect(await admin.revokeKey('DLPAAAAAAAAAAAAAAAAA')).toBe(true);
    clock.advance(TTL - 1);
    expect(await store.lookup('DLPAAAAAAAAAAAAAAAAA')).toBeDefined(); // still within the documented TTL
    clock.advance(1);
    expect(await store.lookup('DLPAAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(await admin.revokeKey('DLPNOSUCHKEY')).toBe(false);
  });

  it.skipIf(skipReason)('caches unknown key ids so random ids cannot hammer the table', async () => {
    await freshTable();
    const clock = new ManualClock();
    const store = new DynamoCredentialStore(client, table(), { ttlMs: TTL, clock });
    expect(await store.lookup('DLPRANDOM00000000000')).toBeUndefined();
    expect(await store.lookup('DLPRANDOM00000000000')).toBeUndefined();
    expect(store.reads).toBe(1);
    // A key created meanwhile appears once the negative answer expires.
    await admin.putKey({
      accessKeyId: 'DLPRANDOM00000000000',
      secretAccessKey: 'x'.repeat(40),
      principal: 'p',
    });
    expect(await store.lookup('DLPRANDOM00000000000')).toBeUndefined();
    clock.advance(TTL);
    expect((await store.lookup('DLPRANDOM00000000000'))?.principal).toBe('p');
    expect(store.reads).toBe(2);
    // Ids that cannot exist are unknown without a read.
    expect(await store.lookup('A'.repeat(500))).toBeUndefined();
    expect(await store.lookup('has spaces')).toBeUndefined();
    expect(store.reads).toBe(2);
    const strict = new DynamoCredentialStore(client, table(), { accessKeyIdPattern: DLP_KEY_ID });
    expect(await strict.lookup('AKIAIOSFODNN7EXAMPLE')).toBeUndefined();
    expect(strict.reads).toBe(0);
  });

  it.skipIf(skipReason)(
    'reads once for a burst of lookups of the same key, and keeps its cache bounded',
    async () => {
      await freshTable();
      const store = new DynamoCredentialStore(client, table(), {
        ttlMs: TTL,
        maxEntries: 2,
        maxUnknownEntries: 2,
        clock: new ManualClock(),
      });
      await Promise.all(Array.from({ length: 20 }, () => store.lookup('DLPBURST')));
      expect(store.reads).toBe(1);
      await store.lookup('DLPOTHER1');
      await store.lookup('DLPOTHER2'); // evicts DLPBURST
      await store.lookup('DLPBURST');
      expect(store.reads).toBe(4);
    },
  );

  it.skipIf(skipReason)('follows LastEvaluatedKey across pages of grants', async () => {
    await freshTable();
    for (let i = 0; i < 60; i++) {
      await admin.putGrant(
        { principal: 'many', table: `t${i % 3}`, partitions: [{ day: `2024-01-${i}` }] },
        `g${i}`,
      );
    }
    await admin.putGrant({ principal: 'other', table: 't0', partitions: [{}] }, 'x');
    const store = new DynamoGrantStore(client, table(), { pageSize: 7, clock: new ManualClock() });
    const grants = await store.grantsFor('many');
    expect(grants).toHaveLength(60);
    expect(store.pagesRead).toBeGreaterThan(8);
    expect(effectivePartitions(grants, 't0')).toHaveLength(20);
    expect((await admin.listGrants({ principal: 'many', table: 't1' })).length).toBe(20);
    expect((await admin.listGrants()).length).toBe(61);
  });

  it.skipIf(skipReason)(
    'shows new grants and revocations within the TTL, and keeps null and {} exact',
    async () => {
      await freshTable();
      const clock = new ManualClock();
      const store = new DynamoGrantStore(client, table(), { ttlMs: TTL, clock });
      expect(await store.grantsFor('analyst')).toEqual([]);
      await admin.putGrant(
        { principal: 'analyst', table: 'trades', partitions: [{ region: 'US', date: null }] },
        'a',
      );
      await admin.putGrant({ principal: 'analyst', table: 'public', partitions: [{}] }, 'b');
      expect(await store.grantsFor('analyst')).toEqual([]); // negative answer cached
      clock.advance(TTL);
      const grants = await store.grantsFor('analyst');
      expect(effectivePartitions(grants, 'trades')).toEqual([{ region: 'US', date: null }]);
      expect(effectivePartitions(grants, 'public')).toEqual([{}]);
      expect(await store.grantsFor('analyst')).toBe(grants); // same array while cached
      expect(await admin.revokeGrants('analyst', 'trades')).toBe(1);
      clock.advance(TTL - 1);
      expect(effectivePartitions(await store.grantsFor('analyst'), 'trades')).toBeDefined();
      clock.advance(1);
      expect(effectivePartitions(await store.grantsFor('analyst'), 'trades')).toBeUndefined();
      expect(effectivePartitions(await store.grantsFor('analyst'), 'public')).toEqual([{}]);
    },
  );

  it.skipIf(skipReason)(
    'refuses a malformed grant item with a warning, once, instead of allowing anything',
    async () => {
      await freshTable();
      await admin.putGrant({ principal: 'p', table: 'good', partitions: [{ a: '1' }] }, 'ok');
      await admin.putGrant(
        { principal: 'p', table: 'bad', partitions: [{ a: 1 as unknown as string }] },
        'number',
      );
      const put = (sk: string, attributes: Record<string, AttributeValue>) =>
        client.send(
          new PutItemCommand({
            TableName: table(),
            Item: { pk: { S: 'PRINCIPAL#p' }, sk: { S: sk }, ...attributes },
          }),
        );
      const whole = { S: '[{}]' };
      // Each of these would read the whole table if the store took what it could from it.
      await put('GRANT#t1#no-table', { partitions: whole });
      await put('GRANT#t2#table-number', { table: { N: '2' }, partitions: whole });
      await put('GRANT#t3#bad-alias', { table: { S: 't3#x' }, partitions: whole });
      await put('GRANT#t4#no-partitions', { table: { S: 't4' } });
      await put('GRANT#t5#partitions-list', { table: { S: 't5' }, partitions: { L: [{ M: {} }] } });
      await put('GRANT#t6#not-json', { table: { S: 't6' }, partitions: { S: '[{}' } });
      await put('GRANT#t7#not-a-list', { table: { S: 't7' }, partitions: { S: '{}' } });
      await put('GRANT#t8#empty-column', { table: { S: 't8' }, partitions: { S: '[{"":"x"}]' } });
      // An attribute the proxy does not know (an expiry, a condition) may restrict what its writer
      // meant: the item is refused rather than read as more than it says.
      await put('GRANT#t9#unknown', {
        table: { S: 't9' },
        partitions: whole,
        expiresAt: { S: '2020-01-01' },
      });
      const logs: string[] = [];
      const clock = new ManualClock();
      const store = new DynamoGrantStore(client, table(), {
        ttlMs: TTL,
        clock,
        logger: jsonLogger((l) => logs.push(l)),
      });
      const grants = await store.grantsFor('p');
      expect(grants.map((g) => g.table)).toEqual(['good']);
      const warned = () => logs.map((l) => JSON.parse(l));
      const ids = ['number', 'no-table', 'table-number', 'bad-alias', 'no-partitions', 'partitions-list'];
      ids.push('not-json', 'not-a-list', 'empty-column', 'unknown');
      expect(
        warned()
          .map((w) => w.grantId)
          .sort(),
      ).toEqual(ids.sort());
      for (const w of warned()) {
        expect(w).toMatchObject({ level: 'warn', principal: 'p', reason: expect.any(String) });
        expect(w.message).toMatch(/grant item .*refused/);
      }
      expect(warned().find((w) => w.grantId === 'unknown').reason).toContain('expiresAt');
      // Reloaded after the TTL: the same items are not reported again.
      clock.advance(TTL);
      expect((await store.grantsFor('p')).map((g) => g.table)).toEqual(['good']);
      expect(logs).toHaveLength(ids.length);
    },
  );

  it.skipIf(skipReason)(
    'refuses an access key item it cannot read as written, with a warning naming the id, once, never the secret',
    async () => {
      await freshTable();
      const SECRET = 'item-secret-0123456789abcdef';
      const put = (id: string, attributes: Record<string, AttributeValue>) =>
        client.send(
          new PutItemCommand({
            TableName: table(),
            Item: { pk: { S: `KEY#${id}` }, sk: { S: 'KEY' }, ...attributes },
          }),
        );
      const good = {
        accessKeyId: { S: '' },
        principal: { S: 'p' },
        secret: { S: SECRET },
        status: { S: 'active' },
      };
      const item = (id: string, changes: Record<string, AttributeValue | undefined>) => {
        const attributes: Record<string, AttributeValue> = { ...good, accessKeyId: { S: id } };
        for (const [name, value] of Object.entries(changes)) {
          if (value === undefined) delete attributes[name];
          else attributes[name] = value;
        }
        return put(id, attributes);
      };
      await item('DLPGOOD', {});
      await item('DLPREVOKED', { status: { S: 'revoked' }, revokedAt: { S: '2024-01-01T00:00:00Z' } });
      // A restriction the proxy would not apply: the key must not sign at all.
      await item('DLPEXPIRES', { expiresAt: { S: '2020-01-01' } });
      await item('DLPALLOWEDIPS', { allowedIps: { SS: ['10.0.0.1'] } });
      await item('DLPNOSECRET', { secret: undefined });
      await item('DLPSECRETBINARY', { secret: { B: new TextEncoder().encode(SECRET) } });
      await item('DLPSHORTSECRET', { secret: { S: 'short' } });
      await item('DLPNOPRINCIPAL', { principal: undefined });
      await item('DLPPRINCIPALLIST', { principal: { L: [{ S: 'p' }] } });
      await item('DLPEMPTYPRINCIPAL', { principal: { S: '' } });
      await item('DLPANONYMOUS', { principal: { S: 'anonymous' } });
      await item('DLPNOSTATUS', { status: undefined });
      await item('DLPSTATUSBOOL', { status: { BOOL: true } });
      await item('DLPSTATUSUPPER', { status: { S: 'ACTIVE' } });
      await item('DLPDISABLED', { status: { S: 'disabled' } });
      await item('DLPREVOKEDAT', { revokedAt: { S: '2024-01-01T00:00:00Z' } });
      const logs: string[] = [];
      const clock = new ManualClock();
      const store = new DynamoCredentialStore(client, table(), {
        ttlMs: TTL,
        clock,
        logger: jsonLogger((l) => logs.push(l)),
      });
      expect((await store.lookup('DLPGOOD'))?.principal).toBe('p');
      const refused = ['DLPEXPIRES', 'DLPALLOWEDIPS', 'DLPNOSECRET', 'DLPSECRETBINARY', 'DLPSHORTSECRET'];
      refused.push('DLPNOPRINCIPAL', 'DLPPRINCIPALLIST', 'DLPEMPTYPRINCIPAL', 'DLPANONYMOUS');
      refused.push('DLPNOSTATUS', 'DLPSTATUSBOOL', 'DLPSTATUSUPPER', 'DLPDISABLED', 'DLPREVOKEDAT');
      for (const id of [...refused, 'DLPREVOKED']) {
        expect([id, await store.lookup(id)]).toEqual([id, undefined]);
        expect([id, await store.held(id)]).toEqual([id, 'inactive']);
      }
      const warned = () => logs.map((l) => JSON.parse(l));
      // A revoked key is not malformed: no warning for it.
      expect(
        warned()
          .map((w) => w.accessKeyId)
          .sort(),
      ).toEqual([...refused].sort());
      for (const w of warned()) {
        expect(w).toMatchObject({ level: 'warn', reason: expect.any(String) });
        expect(w.message).toMatch(/access key item .*refused/);
      }
      const reason = (id: string) => warned().find((w) => w.accessKeyId === id).reason;
      expect(reason('DLPEXPIRES')).toContain('expiresAt');
      expect(reason('DLPALLOWEDIPS')).toContain('allowedIps');
      expect(reason('DLPDISABLED')).toContain('disabled');
      for (const l of logs) expect(l).not.toContain(SECRET);
      // Reloaded after the TTL: the same items are not reported again.
      clock.advance(TTL);
      for (const id of refused) expect(await store.lookup(id)).toBeUndefined();
      expect(logs).toHaveLength(refused.length);
    },
  );
});

describe('DynamoDB stores fail closed', () => {
  it('answers ServiceUnavailable when DynamoDB is unreachable, and caches nothing', async () => {
    const server = await startDynalite();
    const client = testDynamoClient(server.endpoint);
    await createDynamoTable(client, 'gone');
    const keys = new DynamoCredentialStore(client, 'gone');
    const grants = new DynamoGrantStore(client, 'gone');
    await server.stop();
    for (let i = 0; i < 2; i++) {
      const e1 = await keys.lookup('DLPANY').catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(S3Error);
      expect((e1 as S3Error).code).toBe('ServiceUnavailable');
      const e2 = await grants.grantsFor('p').catch((e: unknown) => e);
      expect((e2 as S3Error).code).toBe('ServiceUnavailable');
    }
    expect(keys.reads).toBe(0);
    client.destroy();
  });

  it('answers ServiceUnavailable when the table does not exist', async () => {
    const server = await startDynalite();
    const client = testDynamoClient(server.endpoint);
    const e = await new DynamoCredentialStore(client, 'missing').lookup('DLPANY').catch((x: unknown) => x);
    expect((e as S3Error).code).toBe('ServiceUnavailable');
    client.destroy();
    await server.stop();
  });

  it.each(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'])(
    'answers SlowDown when DynamoDB throttles (%s)',
    async (errorType) => {
      const server = await startRefusingDynamo(errorType);
      const client = testDynamoClient(server.endpoint, 2);
      const keys = new DynamoCredentialStore(client, 'any');
      const grants = new DynamoGrantStore(client, 'any');
      expect(((await keys.lookup('DLPANY').catch((e: unknown) => e)) as S3Error).code).toBe('SlowDown');
      expect(((await grants.grantsFor('p').catch((e: unknown) => e)) as S3Error).code).toBe('SlowDown');
      // Not cached: the next lookup asks again.
      const before = server.calls();
      await keys.lookup('DLPANY').catch(() => undefined);
      expect(server.calls()).toBeGreaterThan(before);
      client.destroy();
      await server.stop();
    },
  );
});
