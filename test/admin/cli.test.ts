import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AttributeValue, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoGrantStore } from '../../lambda/access/dynamodb-grant-store';
import { ConfigGrantStore, effectivePartitions } from '../../lambda/access/grant-sources';
import { main } from '../../lambda/admin/cli';
import { ConfigFileTarget } from '../../lambda/admin/config-target';
import { DynamoTarget } from '../../lambda/admin/dynamo-target';
import { DynamoCredentialStore } from '../../lambda/auth/dynamodb-credential-store';
import { ConfigError, parseConfig } from '../../lambda/config';
import { DynamoAdmin } from '../../lambda/store/dynamo-admin';
import { createDynamoTable } from '../../lambda/store/dynamo-schema';
import { adminInProcess as inProcess } from '../helpers/admin-cli';
import {
  type DynamoServer,
  startDynalite,
  startMisbehavingDynamo,
  testDynamoClient,
} from '../helpers/dynamo-servers';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with no AWS credentials in its environment: its main in this process (as both entry
 * points call it), or as a user would, a process of its own (`npm run admin`'s command or
 * bin/admin.mjs), for the cases that check the entry points themselves (a process costs ~1.5 s).
 */
function admin(args: string[], entry: 'in-process' | 'npm-script' | 'bin' = 'in-process'): Promise<Result> {
  if (entry === 'in-process') return inProcess(args);
  const argv =
    entry === 'bin'
      ? [path.join(repoRoot, 'bin/admin.mjs'), ...args]
      : ['--import', 'tsx', 'lambda/admin/cli.ts', ...args];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      argv,
      {
        cwd: repoRoot,
        timeout: 30_000,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true' },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const KEY_LINE = /^accessKeyId: (DLP[A-Z0-9]{17})$/m;
const SECRET_LINE = /^secretAccessKey: ([A-Za-z0-9_-]{40})$/m;

describe('admin CLI against DynamoDB (dynalite)', () => {
  let server: DynamoServer;
  let target: string[];
  const table = 'delta-proxy-admin-test';

  beforeAll(async () => {
    server = await startDynalite();
    target = ['--dynamodb', table, '--endpoint', server.endpoint];
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('creates the table once, then says it exists', async () => {
    const first = await admin(['init', ...target], 'npm-script');
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout).toContain(`created table ${table}`);
    // Nothing else: on Node 20 the SDK's 9-line notice about its 2027 releases buried every answer.
    expect(first.stderr).toBe('');
    const again = await admin(['init', ...target]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already exists');
  });

  it('takes an empty AWS_REGION as unset, as the proxy does (the key it writes is the one the proxy reads)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (l: string) => out.push(l), stderr: (l: string) => err.push(l) };
    const own = ['--dynamodb', `${table}-region`, '--endpoint', server.endpoint];
    expect(await main(['init', ...own], { ...io, env: {} })).toBe(0);
    const args = ['keys', 'create', '--principal', 'empty-region', ...own];
    expect(await main(args, { ...io, env: { AWS_REGION: '', AWS_DEFAULT_REGION: 'eu-west-1' } })).toBe(0);
    expect(await main(args, { ...io, env: { AWS_REGION: '' } })).toBe(0);
    expect(err.join('\n')).not.toContain('--region is required');
    expect(out.join('\n').match(/^accessKeyId: /gm)).toHaveLength(2);
  });

  it('creates a key whose secret is printed once and authenticates, lists it without the secret, revokes it', async () => {
    const created = await admin(['keys', 'create', '--principal', 'analyst-eu', ...target]);
    expect(created.code).toBe(0);
    const id = KEY_LINE.exec(created.stdout)?.[1];
    const secret = SECRET_LINE.exec(created.stdout)?.[1];
    expect(id).toBeDefined();
    expect(secret).toBeDefined();
    expect(created.stderr).toContain('only this once');

    const client = testDynamoClient(server.endpoint);
    expect(await new DynamoCredentialStore(client, table).lookup(id!)).toMatchObject({
      principal: 'analyst-eu',
      secretAccessKey: secret,
    });

    const listed = await admin(['keys', 'list', ...target]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(id!);
    expect(listed.stdout).toContain('analyst-eu');
    expect(listed.stdout).not.toContain(secret!);
    const asJson = await admin(['keys', 'list', '--json', ...target]);
    expect(asJson.stdout).not.toContain(secret!);
    expect(JSON.parse(asJson.stdout)).toEqual([
      expect.objectContaining({ accessKeyId: id, status: 'active' }),
    ]);

    expect((await admin(['keys', 'revoke', id!, ...target])).code).toBe(0);
    expect(await new DynamoCredentialStore(client, table).lookup(id!)).toBeUndefined();
    expect((await admin(['keys', 'list', ...target])).stdout).toMatch(
      new RegExp(`${id}\\s+analyst-eu\\s+revoked`),
    );
    const unknown = await admin(['keys', 'revoke', 'DLPNOSUCHKEY00000000', ...target]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no such access key');
    client.destroy();
  });

  it('revoking a revoked key again keeps the time it was revoked (audit) and says it already was', async () => {
    const created = await admin(['keys', 'create', '--principal', 'auditor', ...target]);
    const id = KEY_LINE.exec(created.stdout)![1]!;
    const client = testDynamoClient(server.endpoint);
    const revokedAt = '2020-01-02T03:04:05.000Z';
    expect(await new DynamoAdmin(client, table).revokeKey(id, new Date(revokedAt))).toBe(true);
    const again = await admin(['keys', 'revoke', id, ...target]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`${id} was already revoked (at ${revokedAt})`);
    const listed = JSON.parse((await admin(['keys', 'list', '--json', ...target])).stdout);
    expect(listed.find((k: { accessKeyId: string }) => k.accessKeyId === id)).toMatchObject({
      status: 'revoked',
      revokedAt,
    });
    expect(await new DynamoCredentialStore(client, table).lookup(id)).toBeUndefined();
    client.destroy();
  });

  it('adds, lists and revokes grants that the proxy store then reads', async () => {
    const add = (...a: string[]) =>
      admin(['grants', 'add', '--principal', 'analyst', '--table', 'trades', ...a, ...target]);
    expect((await add('--partition', 'region=US,date=2024-01-01', '--partition', 'region=EU')).code).toBe(0);
    expect((await add('--partition-null', 'region')).code).toBe(0);
    // The same grant again, its maps and keys in another order: nothing stored, the grant named.
    const again = await add('--partition', 'region=EU', '--partition', 'date=2024-01-01,region=US');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^already granted \S+: analyst on trades /);
    const whole = await admin([
      'grants',
      'add',
      '--principal',
      'analyst',
      '--table',
      'public',
      '--all',
      '--json',
      ...target,
    ]);
    const wholeId = JSON.parse(whole.stdout).id as string;

    const client = testDynamoClient(server.endpoint);
    const grants = await new DynamoGrantStore(client, table).grantsFor('analyst');
    expect(effectivePartitions(grants, 'trades')).toEqual(
      expect.arrayContaining([{ region: 'US', date: '2024-01-01' }, { region: 'EU' }, { region: null }]),
    );
    expect(effectivePartitions(grants, 'public')).toEqual([{}]);

    const listed = await admin(['grants', 'list', '--principal', 'analyst', ...target]);
    expect(listed.stdout.trim().split('\n')).toHaveLength(4); // header + 3 grants
    expect(listed.stdout).toContain(wholeId);

    expect(
      (
        await admin([
          'grants',
          'revoke',
          '--principal',
          'analyst',
          '--table',
          'public',
          '--id',
          wholeId,
          ...target,
        ])
      ).code,
    ).toBe(0);
    expect(
      (await admin(['grants', 'revoke', '--principal', 'analyst', '--table', 'trades', ...target])).stdout,
    ).toContain('removed 2');
    const none = await admin(['grants', 'revoke', '--principal', 'analyst', '--table', 'trades', ...target]);
    expect(none.code).toBe(1);
    expect(await new DynamoGrantStore(client, table).grantsFor('analyst')).toEqual([]);
    client.destroy();
  });

  it('refuses hand-written items whose copies disagree with their keys, lists them as refused and revokes them by their keys', async () => {
    // Items written by another tool, whose attributes disagree with their keys: which one the
    // writer meant cannot be known, so the proxy reads neither (it granted alice bob's grant).
    const client = testDynamoClient(server.endpoint);
    const put = (item: Record<string, string>) =>
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: Object.fromEntries(Object.entries(item).map(([k, v]) => [k, { S: v }])),
        }),
      );
    await put({
      pk: 'PRINCIPAL#alice',
      sk: 'GRANT#trades#a1',
      principal: 'bob',
      table: 'trades',
      grantId: 'a1',
      partitions: '[{}]',
    });
    await put({ pk: 'PRINCIPAL#carol', sk: 'GRANT#public#c1', table: 'trades', partitions: '[{}]' });
    await put({
      pk: 'PRINCIPAL#frank',
      sk: 'GRANT#trades#f1',
      grantId: 'f2',
      table: 'trades',
      partitions: '[{}]',
    });
    // The copies may be left out: an item without them is read by its keys.
    await put({ pk: 'PRINCIPAL#gina', sk: 'GRANT#trades#g1', table: 'trades', partitions: '[{}]' });
    const keyId = 'DLPHANDWRITTEN000001';
    await put({
      pk: `KEY#${keyId}`,
      sk: 'KEY',
      accessKeyId: 'DLPSOMEOTHERKEY00001',
      principal: 'dave',
      secret: 'hand-written-secret',
      status: 'active',
    });
    const store = () => new DynamoGrantStore(client, table);
    for (const who of ['alice', 'bob', 'carol', 'frank']) expect(await store().grantsFor(who)).toEqual([]);
    expect(effectivePartitions(await store().grantsFor('gina'), 'trades')).toEqual([{}]);
    expect(await new DynamoCredentialStore(client, table).lookup(keyId)).toBeUndefined();
    expect(await new DynamoCredentialStore(client, table).lookup('DLPSOMEOTHERKEY00001')).toBeUndefined();

    const json = async (args: string[]) =>
      JSON.parse((await inProcess([...args, '--json', ...target])).stdout);
    const everyone = (await json(['grants', 'list'])) as {
      principal: string;
      table: string;
      id: string;
      refused?: string;
    }[];
    const refusal = (who: string) => everyone.find((g) => g.principal === who)?.refused;
    expect(refusal('alice')).toBe('`principal` disagrees with the pk');
    expect(refusal('carol')).toMatch(/the sk is not GRANT#<table>#<grantId>/);
    expect(refusal('frank')).toBe('`grantId` disagrees with the sk');
    expect(refusal('gina')).toBeUndefined();
    expect(everyone.some((g) => g.principal === 'bob')).toBe(false);
    expect(
      (await json(['keys', 'list'])).find((k: { principal: string }) => k.principal === 'dave'),
    ).toMatchObject({
      accessKeyId: keyId,
      status: 'refused',
      refused: '`accessKeyId` disagrees with the pk',
    });

    const revoke = (principal: string) =>
      inProcess(['grants', 'revoke', '--principal', principal, '--table', 'trades', ...target]);
    for (const who of ['alice', 'carol', 'frank', 'gina'])
      expect((await revoke(who)).stdout).toContain('removed 1');
    expect(
      (await json(['grants', 'list'])).filter((g: { principal: string }) =>
        ['alice', 'carol', 'frank', 'gina'].includes(g.principal),
      ),
    ).toEqual([]);
    expect((await inProcess(['keys', 'revoke', keyId, ...target])).code).toBe(0);
    expect(
      (await json(['keys', 'list'])).find((k: { principal: string }) => k.principal === 'dave'),
    ).toMatchObject({ accessKeyId: keyId, status: 'revoked' });
    // A key for the name unsigned callers get would sign as them: never a key.
    await put({
      pk: 'KEY#DLPANONYMOUS0000001',
      sk: 'KEY',
      principal: 'anonymous',
      secret: 's',
      status: 'active',
    });
    expect(await new DynamoCredentialStore(client, table).lookup('DLPANONYMOUS0000001')).toBeUndefined();
    client.destroy();
  });

  it('lists a grant item the proxy refuses as refused, with the reason, not as the maps it names', async () => {
    const client = testDynamoClient(server.endpoint);
    const put = (sk: string, item: Record<string, string>) =>
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: Object.fromEntries(
            Object.entries({ pk: 'PRINCIPAL#erin', sk, ...item }).map(([k, v]) => [k, { S: v }]),
          ),
        }),
      );
    await put('GRANT#trades#e1', { table: 'trades', partitions: '[{}]', expiresAt: '2020-01-01' });
    await put('GRANT#trades#e2', { table: 'trades', partitions: '[{"year":2024}]' });
    await put('GRANT#trades#e3', { table: 'trades', partitions: '[{"region":"EU"}]' });
    expect(await new DynamoGrantStore(client, table).grantsFor('erin')).toEqual([
      { principal: 'erin', table: 'trades', partitions: [{ region: 'EU' }] },
    ]);
    const listed = JSON.parse(
      (await inProcess(['grants', 'list', '--principal', 'erin', '--json', ...target])).stdout,
    );
    expect(listed).toEqual([
      expect.objectContaining({ id: 'e1', partitions: [], refused: expect.stringContaining('expiresAt') }),
      expect.objectContaining({ id: 'e2', partitions: [], refused: expect.stringContaining('partitions') }),
      expect.objectContaining({ id: 'e3', partitions: [{ region: 'EU' }] }),
    ]);
    expect(listed[2].refused).toBeUndefined();
    const text = (await inProcess(['grants', 'list', '--principal', 'erin', ...target])).stdout.split('\n');
    expect(text.find((l) => l.startsWith('e1'))).toMatch(/refused: unknown attribute\(s\): expiresAt/);
    expect(text.find((l) => l.startsWith('e3'))).toMatch(/\[\{"region":"EU"\}\]$/);
    client.destroy();
  });

  it('lists a key item the proxy refuses as refused, with the reason, never reading its secret', async () => {
    const client = testDynamoClient(server.endpoint);
    const SECRET = 'frank-secret-0123456789';
    const put = (id: string, item: Record<string, AttributeValue>) =>
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            pk: { S: `KEY#${id}` },
            sk: { S: 'KEY' },
            accessKeyId: { S: id },
            principal: { S: 'frank' },
            secret: { S: SECRET },
            status: { S: 'active' },
            ...item,
          },
        }),
      );
    await put('DLPFRANK00000000001', { status: { S: 'disabled' } });
    await put('DLPFRANK00000000002', { secret: { N: '12345678' } });
    await put('DLPFRANK00000000003', { secret: { S: 'short' } });
    await put('DLPFRANK00000000004', { principal: { S: '' } });
    await put('DLPFRANK00000000005', {});
    const listed = JSON.parse((await inProcess(['keys', 'list', '--json', ...target])).stdout)
      .filter((k: { accessKeyId: string }) => k.accessKeyId.startsWith('DLPFRANK'))
      .sort((a: { accessKeyId: string }, b: { accessKeyId: string }) =>
        a.accessKeyId.localeCompare(b.accessKeyId),
      );
    expect(listed).toEqual([
      expect.objectContaining({
        accessKeyId: 'DLPFRANK00000000001',
        status: 'refused',
        refused: expect.stringContaining('disabled'),
      }),
      expect.objectContaining({
        accessKeyId: 'DLPFRANK00000000002',
        status: 'refused',
        refused: expect.stringContaining('secret'),
      }),
      expect.objectContaining({
        accessKeyId: 'DLPFRANK00000000003',
        status: 'refused',
        refused: expect.stringContaining('secret'),
      }),
      expect.objectContaining({
        accessKeyId: 'DLPFRANK00000000004',
        status: 'refused',
        refused: expect.stringContaining('principal'),
      }),
      expect.objectContaining({ accessKeyId: 'DLPFRANK00000000005', status: 'active' }),
    ]);
    expect(listed[4].refused).toBeUndefined();
    const text = (await inProcess(['keys', 'list', ...target])).stdout;
    expect(text).toMatch(/DLPFRANK00000000001\s+frank\s+refused: `status` is "disabled"/);
    expect(text).toMatch(
      /DLPFRANK00000000003\s+frank\s+refused: no `secret` string of at least 8 characters/,
    );
    expect(text).not.toContain(SECRET);
    for (const id of [
      'DLPFRANK00000000001',
      'DLPFRANK00000000002',
      'DLPFRANK00000000003',
      'DLPFRANK00000000004',
    ])
      expect(await new DynamoCredentialStore(client, table).lookup(id)).toBeUndefined();
    client.destroy();
  });

  it('fails with exit code 1 and a clear message when the table or the server is missing', async () => {
    const missing = await admin([
      'keys',
      'list',
      '--dynamodb',
      'no-such-table',
      '--endpoint',
      server.endpoint,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: ResourceNotFoundException/m);
    const down = await admin(['keys', 'list', '--dynamodb', table, '--endpoint', 'http://127.0.0.1:9']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error: /m);
  });
});

describe.concurrent('admin CLI usage errors', () => {
  it.each([
    [['keys', 'list'], 'choose exactly one target'],
    [['keys', 'list', '--config', 'a.json', '--dynamodb', 't'], 'choose exactly one target'],
    [['keys', 'list', '--config', 'a.json', '--bogus'], "Unknown option '--bogus'"],
    [['keys', 'create', '--config', 'a.json'], '--principal is required'],
    [['keys', 'create', '--principal', 'anonymous', '--config', 'a.json'], 'reserved'],
    [['keys', 'revoke', '--config', 'a.json'], 'takes 1 argument'],
    // DynamoDB holds a partition key of at most 2,048 bytes: the proxy's Query for the grants of a
    // longer name (`PRINCIPAL#<name>`) fails, so every request signed by such a key would be a 503.
    [['keys', 'create', '--principal', 'é'.repeat(1020), '--config', 'a.json'], 'at most 2038 bytes'],
    [
      ['grants', 'add', '--principal', 'p'.repeat(2039), '--table', 't', '--all', '--config', 'a.json'],
      'at most 2038 bytes',
    ],
    // Nor can such a name own a grant to list or revoke (real DynamoDB refuses the Query).
    [['grants', 'list', '--principal', 'p'.repeat(2039), '--config', 'a.json'], 'at most 2038 bytes'],
    [
      ['grants', 'revoke', '--principal', 'p'.repeat(2039), '--table', 't', '--config', 'a.json'],
      'at most 2038 bytes',
    ],
    [
      [
        'grants',
        'add',
        '--principal',
        'p',
        '--table',
        't',
        '--all',
        '--partition',
        'a=1',
        '--config',
        'a.json',
      ],
      '--all cannot',
    ],
    [['grants', 'add', '--principal', 'p', '--table', 't', '--config', 'a.json'], 'say which partitions'],
    [
      ['grants', 'add', '--principal', 'p', '--table', 't', '--partition', 'a=', '--config', 'a.json'],
      '--partition-null a',
    ],
    [
      ['grants', 'add', '--principal', 'p', '--table', 'x#y', '--all', '--config', 'a.json'],
      'not a table alias',
    ],
    [['grants', 'list', '--table', 't', '--config', 'a.json'], '--table does not apply'],
    [['frobnicate'], 'unknown command'],
    [[], 'Usage:'],
  ])('exits 2 for %j', async (args, message) => {
    // In process (main is what both entry points run): starting a process per case adds nothing
    // that the spawned case below does not check.
    const r = await inProcess(args);
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toContain(message);
  });

  it('exits 2 for a usage error as a process too', async () => {
    const r = await admin(['frobnicate'], 'npm-script');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command');
  });

  it('prints help with exit code 0, also through bin/admin.mjs', async () => {
    const r = await admin(['--help'], 'bin');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('keys create --principal P');
  });
});

describe('admin CLI against a config file', () => {
  let dir: string;
  let file: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'admin-cli-'));
    file = path.join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        port: 8080,
        tableMapping: { trades: 's3://bucket/gold/trades' },
        logView: 'filtered',
      }),
      { mode: 0o600 },
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds a key and grants in place, keeping the other fields, and the proxy config accepts them', async () => {
    const created = await admin(['keys', 'create', '--principal', 'analyst', '--config', file], 'bin');
    expect(created.code).toBe(0);
    const secret = SECRET_LINE.exec(created.stdout)![1]!;
    const id = KEY_LINE.exec(created.stdout)![1]!;
    const addGrant = (...extra: string[]) =>
      admin([
        'grants',
        'add',
        '--principal',
        'analyst',
        '--table',
        'trades',
        '--partition',
        'region=US\\,West,date=2024-01-01',
        '--partition-null',
        'desk',
        ...extra,
        '--config',
        file,
      ]);
    const grant = await addGrant();
    expect(grant.code).toBe(0);
    const before = readFileSync(file, 'utf8');
    const again = await addGrant('--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ already: true, principal: 'analyst', table: 'trades' });
    expect(readFileSync(file, 'utf8')).toBe(before);
    const config = parseConfig(JSON.parse(readFileSync(file, 'utf8')));
    expect(config).toMatchObject({ port: 8080, logView: 'filtered' });
    expect(config.auth.keys).toEqual([{ accessKeyId: id, secretAccessKey: secret, principal: 'analyst' }]);
    const grants = await new ConfigGrantStore(config).grantsFor('analyst');
    expect(effectivePartitions(grants, 'trades')).toEqual([
      { region: 'US,West', date: '2024-01-01', desk: null },
    ]);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const listed = await admin(['keys', 'list', '--config', file]);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(secret);
  });

  it('refuses a grant on a table the config does not map (the proxy would refuse it), and revokes grants and keys', async () => {
    const before = readFileSync(file, 'utf8');
    const refused = await admin([
      'grants',
      'add',
      '--principal',
      'bob',
      '--table',
      'trade',
      '--all',
      '--config',
      file,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'error: grants[1].table: "trade" is not in tableMapping (did you mean "trades"?)',
    );
    expect(readFileSync(file, 'utf8')).toBe(before);

    const list = JSON.parse(
      (await admin(['grants', 'list', '--principal', 'analyst', '--json', '--config', file])).stdout,
    );
    expect(list).toEqual([expect.objectContaining({ principal: 'analyst', table: 'trades' })]);
    expect(
      (
        await admin([
          'grants',
          'revoke',
          '--principal',
          'analyst',
          '--table',
          'trades',
          '--id',
          list[0].id,
          '--config',
          file,
        ])
      ).code,
    ).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).grants).toHaveLength(0);

    const id = JSON.parse(readFileSync(file, 'utf8')).auth.keys[0].accessKeyId as string;
    expect((await admin(['keys', 'revoke', id, '--config', file])).code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).auth.keys).toEqual([]);
    expect((await admin(['keys', 'revoke', id, '--config', file])).code).toBe(1);
  });

  it('grants columns named like Object members, refuses such a table, and refuses "__proto__"', async () => {
    const own = path.join(dir, 'own-names.json');
    writeFileSync(own, JSON.stringify({ tableMapping: { trades: 's3://bucket/gold/trades' } }));
    const grant = (...a: string[]) => inProcess(['grants', 'add', '--principal', 'p', ...a, '--config', own]);
    const named = await grant(
      '--table',
      'trades',
      '--partition',
      'constructor=x',
      '--partition-null',
      'toString',
    );
    expect(named.code).toBe(0);
    const config = parseConfig(JSON.parse(readFileSync(own, 'utf8')));
    const grants = await new ConfigGrantStore(config).grantsFor('p');
    expect(effectivePartitions(grants, 'trades')).toEqual([{ constructor: 'x', toString: null }]);

    expect((await grant('--table', 'constructor', '--all')).stderr).toContain('not in tableMapping');

    for (const spec of [
      ['--partition', '__proto__=x'],
      ['--partition-null', '__proto__'],
    ]) {
      const refused = await grant('--table', 'trades', ...spec);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('"__proto__" cannot be granted');
    }
  });

  it('warns when a value spells the null partition as text: stored as written, it never matches null', async () => {
    const own = path.join(dir, 'null-texts.json');
    writeFileSync(own, JSON.stringify({ tableMapping: { trades: 's3://bucket/gold/trades' } }));
    const grant = (...a: string[]) =>
      inProcess(['grants', 'add', '--principal', 'p', '--table', 'trades', ...a, '--config', own]);
    const plain = await grant('--partition', 'region=EU', '--partition-null', 'desk');
    expect(plain.code).toBe(0);
    // Only the note that a running proxy needs a restart (the test above): no warning.
    const withoutNotes = (r: Result) =>
      r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('note: '));
    expect(withoutNotes(plain)).toEqual([]);
    const texts = await grant('--partition', 'region=__HIVE_DEFAULT_PARTITION__,date=null,desk=nullable');
    expect(texts.code).toBe(0);
    const warnings = withoutNotes(texts);
    expect(warnings).toEqual([
      expect.stringMatching(/^warning: region=__HIVE_DEFAULT_PARTITION__ .*--partition-null region/),
      expect.stringMatching(/^warning: date=null .*--partition-null date/),
    ]);
    const config = parseConfig(JSON.parse(readFileSync(own, 'utf8')));
    expect(effectivePartitions(await new ConfigGrantStore(config).grantsFor('p'), 'trades')).toEqual([
      { region: 'EU', desk: null },
      { region: '__HIVE_DEFAULT_PARTITION__', date: 'null', desk: 'nullable' },
    ]);
  });

  it('warns about a value with spaces at its ends (column names are trimmed, values never are)', async () => {
    const own = path.join(dir, 'spaced.json');
    writeFileSync(own, JSON.stringify({ tableMapping: { trades: 's3://bucket/gold/trades' } }));
    const r = await inProcess([
      'grants',
      'add',
      '--principal',
      'p',
      '--table',
      'trades',
      '--partition',
      'region = EU, desk=fx',
      '--config',
      own,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n')).toContain(
      'warning: region=" EU" has spaces at its ends: stored as written, it matches only a value with them',
    );
    expect(r.stderr).not.toContain('desk');
    const config = parseConfig(JSON.parse(readFileSync(own, 'utf8')));
    expect(config.grants[0]?.partitions).toEqual([{ region: ' EU', desk: 'fx' }]);
  });

  it('says that a running proxy sees an edit of its config file only once restarted (it reads the file at start-up)', async () => {
    const own = path.join(dir, 'restart.json');
    writeFileSync(own, JSON.stringify({ tableMapping: { trades: 's3://bucket/gold/trades' } }));
    const run = (...a: string[]) => inProcess([...a, '--config', own]);
    const restart = `note: a running proxy reads ${own} only when it starts: restart it for this change to take effect`;
    const created = await run('keys', 'create', '--principal', 'p');
    const id = KEY_LINE.exec(created.stdout)![1]!;
    const edits = [
      created,
      await run('grants', 'add', '--principal', 'p', '--table', 'trades', '--all'),
      await run('grants', 'revoke', '--principal', 'p', '--table', 'trades'),
      await run('keys', 'revoke', id),
    ];
    for (const edit of edits) {
      expect(edit.code).toBe(0);
      expect(edit.stderr.split('\n')).toContain(restart);
    }
    // Reading changes nothing, and a refused edit edits nothing: no note.
    expect((await run('keys', 'list')).stderr).toBe('');
    const refused = await run('keys', 'revoke', id);
    expect(refused.code).toBe(1);
    expect(refused.stderr).not.toContain('restart');
  });

  it('edits the file a symlink names, keeping the link: a revocation reaches the file the proxy reads', async () => {
    const real = path.join(dir, 'real-config.json');
    const id = 'DLPLINKED00000000001';
    writeFileSync(
      real,
      JSON.stringify({
        tableMapping: { trades: 's3://bucket/gold/trades' },
        auth: { keys: [{ accessKeyId: id, secretAccessKey: 's'.repeat(40), principal: 'p' }] },
      }),
      { mode: 0o600 },
    );
    const link = path.join(dir, 'linked-config.json');
    symlinkSync(real, link);
    const revoked = await inProcess(['keys', 'revoke', id, '--config', link]);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(readFileSync(real, 'utf8')).auth.keys).toEqual([]);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(statSync(real).mode & 0o777).toBe(0o600);
  });

  it('fails with exit code 1 for a missing or broken file, leaving it untouched', async () => {
    const missing = await admin(['keys', 'list', '--config', path.join(dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read');
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ not json');
    const r = await admin(['keys', 'create', '--principal', 'p', '--config', broken]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not valid JSON');
    expect(r.stdout).not.toContain('secretAccessKey');
    expect(readFileSync(broken, 'utf8')).toBe('{ not json');
    // A secret pasted with the wrong quotes: the error says the file is broken, not what it holds.
    const pasted = path.join(dir, 'pasted.json');
    writeFileSync(
      pasted,
      `{"auth": {"keys": [{"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": 'wJalrXUtnFEMI'}]}}`,
    );
    const quoted = await inProcess(['keys', 'list', '--config', pasted]);
    expect(quoted.code).toBe(1);
    expect(quoted.stderr).toContain('not valid JSON');
    expect(quoted.stderr.slice(quoted.stderr.indexOf('not valid JSON'))).not.toContain('wJal');
  });
});

describe('a key whose id is already stored (no command replaces a key)', () => {
  let server: DynamoServer;
  let dir: string;
  const stored = {
    accessKeyId: 'DLPEXISTING000000001',
    secretAccessKey: 's'.repeat(40),
    principal: 'analyst',
  };
  const again = { ...stored, secretAccessKey: 't'.repeat(40), principal: 'admin' };

  beforeAll(async () => {
    server = await startDynalite();
    dir = mkdtempSync(path.join(tmpdir(), 'admin-dup-'));
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is refused by the DynamoDB target, naming the id; the stored secret and principal stay', async () => {
    const client = testDynamoClient(server.endpoint);
    await createDynamoTable(client, 'dup-keys');
    const target = new DynamoTarget(client, 'dup-keys');
    await target.createKey(stored);
    const refused = await target.createKey(again).catch((e: unknown) => e as Error);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toBe(
      'access key DLPEXISTING000000001 already exists in dup-keys: a key is never replaced (revoke it and create a new one)',
    );
    expect(await new DynamoCredentialStore(client, 'dup-keys').lookup(stored.accessKeyId)).toMatchObject({
      secretAccessKey: stored.secretAccessKey,
      principal: 'analyst',
    });
    target.close();
  });

  it('is refused by the config target, naming the id; the file stays as it was', async () => {
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ tableMapping: { t: 's3://bucket/t' }, auth: { keys: [stored] } }));
    const before = readFileSync(file, 'utf8');
    const refused = await new ConfigFileTarget(file).createKey(again).catch((e: unknown) => e as Error);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toBe(
      `access key DLPEXISTING000000001 already exists in ${file}: a key is never replaced (revoke it and create a new one)`,
    );
    expect(readFileSync(file, 'utf8')).toBe(before);
  });
});

describe('a new key whose write reached DynamoDB but whose answer was lost', () => {
  it('is created once and its secret printed: the SDK retry meets its own write, not another key', async () => {
    const upstream = await startDynalite();
    const front = await startMisbehavingDynamo(upstream);
    const client = testDynamoClient(upstream.endpoint);
    try {
      await createDynamoTable(client, 'lost-answers');
      let puts = 0;
      front.onRequest = (operation) =>
        operation === 'PutItem' && ++puts === 1
          ? { status: 500, type: 'InternalServerError', afterForwarding: true }
          : undefined;
      const created = await inProcess([
        'keys',
        'create',
        '--principal',
        'analyst',
        '--dynamodb',
        'lost-answers',
        '--endpoint',
        front.endpoint,
      ]);
      expect(created.stderr).not.toContain('already exists');
      expect(created.code).toBe(0);
      expect(puts).toBe(2);
      const id = KEY_LINE.exec(created.stdout)?.[1];
      const secret = SECRET_LINE.exec(created.stdout)?.[1];
      expect(await new DynamoCredentialStore(client, 'lost-answers').lookup(id!)).toMatchObject({
        principal: 'analyst',
        secretAccessKey: secret,
      });
    } finally {
      client.destroy();
      await front.stop();
      await upstream.stop();
    }
  });
});

describe('a new grant whose write reached DynamoDB but whose answer was lost', () => {
  it('is reported granted, as the proxy reads it, not as a failure', async () => {
    const upstream = await startDynalite();
    const front = await startMisbehavingDynamo(upstream);
    const client = testDynamoClient(upstream.endpoint);
    try {
      await createDynamoTable(client, 'lost-grants');
      let puts = 0;
      front.onRequest = (operation) =>
        operation === 'PutItem' && ++puts === 1
          ? { status: 500, type: 'InternalServerError', afterForwarding: true }
          : undefined;
      const granted = await inProcess([
        'grants',
        'add',
        '--principal',
        'analyst',
        '--table',
        'trades',
        '--partition',
        'region=EU',
        '--json',
        '--dynamodb',
        'lost-grants',
        '--endpoint',
        front.endpoint,
      ]);
      expect(granted.stderr).toBe('');
      expect(granted.code).toBe(0);
      expect(puts).toBe(2);
      const grants = await new DynamoGrantStore(client, 'lost-grants').grantsFor('analyst');
      expect(effectivePartitions(grants, 'trades')).toEqual([{ region: 'EU' }]);
      expect(JSON.parse(granted.stdout)).toMatchObject({ principal: 'analyst', table: 'trades' });
    } finally {
      client.destroy();
      await front.stop();
      await upstream.stop();
    }
  });
});

describe('a grant revocation whose delete reached DynamoDB but whose answer was lost', () => {
  it('is reported removed, not "no matching grant"', async () => {
    const upstream = await startDynalite();
    const front = await startMisbehavingDynamo(upstream);
    const client = testDynamoClient(upstream.endpoint);
    try {
      await createDynamoTable(client, 'lost-deletes');
      const target = ['--dynamodb', 'lost-deletes', '--endpoint', front.endpoint];
      const grant = ['--principal', 'analyst', '--table', 'trades'];
      expect((await inProcess(['grants', 'add', ...grant, '--all', ...target])).code).toBe(0);
      let deletes = 0;
      front.onRequest = (operation) =>
        operation === 'DeleteItem' && ++deletes === 1
          ? { status: 500, type: 'InternalServerError', afterForwarding: true }
          : undefined;
      const revoked = await inProcess(['grants', 'revoke', ...grant, ...target]);
      expect(revoked.stderr).toBe('');
      expect(revoked).toMatchObject({ code: 0, stdout: 'removed 1 grant(s)' });
      expect(deletes).toBe(2);
      expect(await new DynamoGrantStore(client, 'lost-deletes').grantsFor('analyst')).toEqual([]);
    } finally {
      client.destroy();
      await front.stop();
      await upstream.stop();
    }
  });
});

describe('a key revocation whose update reached DynamoDB but whose answer was lost', () => {
  it('is reported revoked, not "already revoked" at its own time', async () => {
    const upstream = await startDynalite();
    const front = await startMisbehavingDynamo(upstream);
    const client = testDynamoClient(upstream.endpoint);
    try {
      await createDynamoTable(client, 'lost-revokes');
      const target = ['--dynamodb', 'lost-revokes', '--endpoint', front.endpoint];
      const created = await inProcess(['keys', 'create', '--principal', 'analyst', ...target]);
      const id = KEY_LINE.exec(created.stdout)![1]!;
      let updates = 0;
      front.onRequest = (operation) =>
        operation === 'UpdateItem' && ++updates === 1
          ? { status: 500, type: 'InternalServerError', afterForwarding: true }
          : undefined;
      const revoked = await inProcess(['keys', 'revoke', id, ...target]);
      expect(revoked.stderr).toBe('');
      expect(revoked).toMatchObject({ code: 0, stdout: `revoked ${id}` });
      expect(updates).toBe(2);
      expect(await new DynamoCredentialStore(client, 'lost-revokes').lookup(id)).toBeUndefined();
      // A second run finds it revoked before, at the time the first one stored.
      const again = await inProcess(['keys', 'revoke', id, ...target]);
      expect(again.stdout).toMatch(new RegExp(`^${id} was already revoked \\(at \\d{4}-`));
    } finally {
      client.destroy();
      await front.stop();
      await upstream.stop();
    }
  });
});

describe('a config file with a key written twice in one object', () => {
  it('is not edited: the rewrite would drop one of them', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'admin-twice-'));
    try {
      const file = path.join(dir, 'config.json');
      const text =
        '{"tableMapping":{"trades":"s3://bucket/gold/trades"},"grants":[],"grants":[{"principal":"p","table":"trades","partitions":[{}]}]}';
      writeFileSync(file, text);
      const r = await inProcess(['keys', 'create', '--principal', 'p', '--config', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`error: ${file}: grants: written twice in one object (JSON keeps only the last)`);
      expect(r.stdout).not.toContain('secretAccessKey');
      expect(readFileSync(file, 'utf8')).toBe(text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
