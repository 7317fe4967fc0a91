/**
 * Unknown access key ids against DynamoDB (dynalite, reads counted at its side): each costs a
 * read, so they must not cost the keys that exist. A flood of unknown ids never evicts a known
 * key (nor a config key DynamoDB does not hold): it still answers without a read. An unknown id
 * is remembered for 5 s only (README), so a key created after a client tried its id signs within
 * that time, and lookups of one unknown id meanwhile cost one read. Revocation is unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCredentialStore } from '../../lambda/auth/dynamodb-credential-store';
import { KeySources } from '../../lambda/auth/key-sources';
import { silentLogger } from '../../lambda/core/logger';
import { DynamoAdmin } from '../../lambda/store/dynamo-admin';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import {
  type DynamoServer,
  type MisbehavingDynamo,
  startDynalite,
  startMisbehavingDynamo,
  testDynamoClient,
} from '../helpers/dynamo-servers';

/** The documented times: known keys (and revocations) 30 s, unknown ids 5 s. */
const KEY_TTL = 30_000;
const UNKNOWN_TTL = 5_000;
const TABLE = 'unknown-key-ids';
const REAL = { accessKeyId: 'DLPREALKEY0000000001', secretAccessKey: 'r'.repeat(40), principal: 'analyst' };
const REVOKED = {
  accessKeyId: 'DLPREVOKED0000000001',
  secretAccessKey: 'v'.repeat(40),
  principal: 'analyst',
};
const CONFIG_ONLY = {
  accessKeyId: 'DLPCONFIGONLY0000001',
  secretAccessKey: 'c'.repeat(40),
  principal: 'ops',
};

class ManualClock {
  t = 1_000_000;
  now = () => this.t;
  advance(ms: number) {
    this.t += ms;
  }
}

let dynalite: DynamoServer;
let front: MisbehavingDynamo;
let client: ReturnType<typeof testDynamoClient>;
let admin: DynamoAdmin;
const reads = () => front.seen.filter((op) => op === 'GetItem').length;

beforeAll(async () => {
  dynalite = await startDynalite();
  front = await startMisbehavingDynamo(dynalite);
  client = testDynamoClient(front.endpoint);
  await createDynamoTable(client, TABLE);
  admin = new DynamoAdmin(client, TABLE);
  await admin.putKey(REAL);
  await admin.putKey(REVOKED);
  await admin.revokeKey(REVOKED.accessKeyId);
});
afterAll(async () => {
  client?.destroy();
  await front?.stop();
  await dynalite?.stop();
});

/** `count` unknown ids, ten lookups at a time. */
async function flood(lookup: (id: string) => Promise<unknown>, tag: string, count: number) {
  for (let i = 0; i < count; i += 10) {
    const ids = Array.from({ length: 10 }, (_, j) => `DLPFLOOD${tag}${String(i + j).padStart(6, '0')}`);
    expect(await Promise.all(ids.map(lookup))).toEqual(ids.map(() => undefined));
  }
}

describe('unknown access key ids (DynamoDB on dynalite)', () => {
  it('a flood of unknown ids leaves known keys cached: they answer without a read, revoked ones still fail', async () => {
    const clock = new ManualClock();
    const store = new DynamoCredentialStore(client, TABLE, { maxEntries: 4, clock });
    expect((await store.lookup(REAL.accessKeyId))?.principal).toBe('analyst');
    expect(await store.lookup(REVOKED.accessKeyId)).toBeUndefined();

    const before = reads();
    await flood((id) => store.lookup(id), 'A', 100);
    expect(reads()).toBe(before + 100);

    expect((await store.lookup(REAL.accessKeyId))?.principal).toBe('analyst');
    expect(await store.lookup(REVOKED.accessKeyId)).toBeUndefined();
    expect(reads()).toBe(before + 100);

    // Revocation: refused once the key TTL has passed, as before.
    await admin.revokeKey(REAL.accessKeyId);
    clock.advance(KEY_TTL - 1);
    expect(await store.lookup(REAL.accessKeyId)).toBeDefined();
    clock.advance(1);
    expect(await store.lookup(REAL.accessKeyId)).toBeUndefined();
  });

  it('a config key DynamoDB does not hold stays cached through a flood (no read for it)', async () => {
    const store = new DynamoCredentialStore(client, TABLE, { maxEntries: 4, clock: new ManualClock() });
    const keys = new KeySources([CONFIG_ONLY], store, TABLE, silentLogger);
    expect((await keys.lookup(CONFIG_ONLY.accessKeyId))?.principal).toBe('ops');
    await flood((id) => keys.lookup(id), 'B', 100);
    const before = reads();
    expect((await keys.lookup(CONFIG_ONLY.accessKeyId))?.principal).toBe('ops');
    expect(reads()).toBe(before);
  });

  it('a key created after its id was tried as unknown signs within 5 s; until then the id costs one read', async () => {
    const clock = new ManualClock();
    const store = new DynamoCredentialStore(client, TABLE, { clock });
    const late = { accessKeyId: 'DLPCREATEDLATER00001', secretAccessKey: 'l'.repeat(40), principal: 'late' };
    const before = reads();
    // A burst of lookups of one unknown id: one read.
    expect(await Promise.all(Array.from({ length: 20 }, () => store.lookup(late.accessKeyId)))).toEqual(
      Array.from({ length: 20 }, () => undefined),
    );
    expect(reads()).toBe(before + 1);
    await admin.putKey(late);
    clock.advance(UNKNOWN_TTL - 1);
    expect(await store.lookup(late.accessKeyId)).toBeUndefined();
    expect(reads()).toBe(before + 1);
    clock.advance(1);
    expect((await store.lookup(late.accessKeyId))?.principal).toBe('late');
    expect(reads()).toBe(before + 2);
    // Known now: held for the key TTL.
    clock.advance(KEY_TTL - 1);
    expect((await store.lookup(late.accessKeyId))?.principal).toBe('late');
    expect(reads()).toBe(before + 2);
  });
});
