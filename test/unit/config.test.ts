import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envName, loadConfig, parseTableUri } from '../../lambda/config';
import { tempDir } from '../helpers/temp-dir';

const minimal = { tableMapping: { trades: 's3://my-data-bucket/gold/trades' } };

function fileWith(content: unknown): string {
  const dir = tempDir('cfg-');
  const file = join(dir, 'config.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('configuration', () => {
  it('fills the documented defaults', () => {
    const c = loadConfig({ file: fileWith(minimal), env: {} });
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 18080,
      metricsPort: 9090,
      readOnly: true,
      getMode: 'presignedUrl',
      proxyPartial: false,
      logView: 'filtered',
      allowedPartitions: {},
      grants: [],
      auth: { keys: [], allowAnonymous: false },
    });
  });

  it('lets PROXY_* variables override scalar and JSON fields', () => {
    const c = loadConfig({
      file: fileWith(minimal),
      env: {
        PROXY_PORT: '8081',
        PROXY_READ_ONLY: 'false',
        PROXY_GET_MODE: 'proxy',
        PROXY_TABLE_MAPPING: '{"b":"s3://bucket-b/x"}',
        PROXY_S3: '{"endpoint":"http://127.0.0.1:9000","forcePathStyle":true}',
      },
    });
    expect(c.port).toBe(8081);
    expect(c.readOnly).toBe(false);
    expect(c.getMode).toBe('proxy');
    expect(c.tableMapping).toEqual({ b: 's3://bucket-b/x' });
    expect(c.s3).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      maxSockets: 256,
      maxPendingRequests: 1024,
      maxAttempts: 3,
      requestTimeoutMs: 30_000,
    });
  });

  it("puts the backend in the function's region (AWS_REGION) unless s3.region says otherwise", () => {
    const inLambda = { AWS_REGION: 'eu-west-1' };
    expect(loadConfig({ file: fileWith(minimal), env: inLambda }).s3.region).toBe('eu-west-1');
    const elsewhere = { ...inLambda, PROXY_S3: '{"region":"us-west-2"}' };
    expect(loadConfig({ file: fileWith(minimal), env: elsewhere }).s3.region).toBe('us-west-2');
    expect(loadConfig({ file: fileWith(minimal), env: {} }).s3.region).toBeUndefined();
  });

  it.each([
    [{ ...minimal, colour: 'red' }, /^colour: unknown field$/],
    [{ ...minimal, gETMode: 'proxy' }, /^gETMode: unknown field \(did you mean "getMode"\?\)$/],
    [
      { ...minimal, s3: { endpont: 'http://127.0.0.1:9000' } },
      /^s3\.endpont: unknown field \(did you mean "endpoint"\?\)$/,
    ],
    [{ ...minimal, port: 'eighty' }, /^port: /],
    [{ tableMapping: { t: 'https://bucket/x' } }, /^tableMapping\.t: must be an s3:\/\/bucket\/prefix URI/],
    [{ tableMapping: { t: 's3://bucket/a/../b' } }, /^tableMapping\.t: /],
    // The rules of request keys (SECURITY.md, "Keys cannot leave their table") hold for prefixes.
    [{ tableMapping: { t: 's3://bucket/a/%2e%2e/b' } }, /^tableMapping\.t: /],
    [{ tableMapping: { t: 's3://bucket/a\\..\\b' } }, /^tableMapping\.t: /],
    [{ tableMapping: { t: 's3://bucket/a\u0000b' } }, /^tableMapping\.t: /],
    // Percent-encoded: the log's URIs decode "%20" to a space, the keys would keep "%20".
    [{ tableMapping: { t: 's3://bucket/gold/my%20table' } }, /^tableMapping\.t: .*not percent-encoded/],
    [{ tableMapping: { '../t': 's3://bucket/a' } }, /^tableMapping\.\.\.\/t: /],
    [{}, /^tableMapping: /],
    [
      { ...minimal, auth: { keys: [{ accessKeyId: 'AK1', secretAccessKey: 'short', principal: 'p' }] } },
      /^auth\.keys\[0\]\.secretAccessKey: /,
    ],
    [
      { ...minimal, grants: [{ principal: 'p', table: 't', partitions: [{ region: 3 }] }] },
      /^grants\[0\]\.partitions\[0\]\.region: /,
    ],
    [{ ...minimal, logView: 'partial' }, /^logView: /],
    // Names no S3 bucket can have: the table would answer 500 to every read instead.
    [{ tableMapping: { t: 's3://a..b/t' } }, /^tableMapping\.t: .*a bucket name S3 allows/],
    [{ tableMapping: { t: 's3://192.168.10.1/t' } }, /^tableMapping\.t: /],
    [{ tableMapping: { t: 's3://xn--bucket/t' } }, /^tableMapping\.t: /],
    [{ tableMapping: { t: 's3://data--x-s3/t' } }, /^tableMapping\.t: /],
    // S3 refuses a credential scope in upper case; AWS names every region in lower case.
    [{ ...minimal, s3: { region: 'EU-WEST-1' } }, /^s3\.region: .*lower case/],
    [
      { ...minimal, database: { type: 'dynamodb', tableName: 'grants', region: 'Eu-west-1' } },
      /^database\.region: /,
    ],
    [{ ...minimal, databaseEnabled: true }, /^database: required when databaseEnabled is true$/],
    [
      {
        ...minimal,
        auth: { keys: [{ accessKeyId: 'AK1', secretAccessKey: 'a-long-secret', principal: 'anonymous' }] },
      },
      /^auth\.keys\[0\]\.principal: "anonymous" is reserved/,
    ],
  ])('refuses %j with one line naming the field', (raw, message) => {
    expect(() => loadConfig({ file: fileWith(raw), env: {} })).toThrowError(message);
  });

  it('refuses an access key id listed twice, naming where (never a secret); the last one no longer wins', () => {
    const key = (accessKeyId: string, secretAccessKey: string, principal: string) => ({
      accessKeyId,
      secretAccessKey,
      principal,
    });
    const keys = [
      key('AKIADUPLICATE', 'first-secret-0001', 'analyst'),
      key('AKIAOTHER', 'other-secret-0002', 'other'),
      key('AKIADUPLICATE', 'second-secret-0003', 'admin'),
    ];
    let message = '';
    try {
      loadConfig({ file: fileWith({ ...minimal, auth: { keys } }), env: {} });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe('auth.keys[2].accessKeyId: "AKIADUPLICATE" is already the id of auth.keys[0]');
    // Through the environment too.
    expect(() =>
      loadConfig({ file: fileWith(minimal), env: { PROXY_AUTH: JSON.stringify({ keys }) } }),
    ).toThrowError(/^auth\.keys\[2\]\.accessKeyId: "AKIADUPLICATE"/);
  });

  it.each([
    ['requestTimeoutMs', { requestTimeoutMs: 2 ** 31 }, /^requestTimeoutMs: /],
    ['clientIdleTimeoutMs', { clientIdleTimeoutMs: 3_000_000_000 }, /^clientIdleTimeoutMs: /],
    ['s3.requestTimeoutMs', { s3: { requestTimeoutMs: 2 ** 31 } }, /^s3\.requestTimeoutMs: /],
  ])('refuses a %s beyond what a timer holds (node would fire it after 1 ms)', (_, fields, message) => {
    // setTimeout clamps a delay over 2^31-1 ms to 1 ms: every request would time out at once.
    expect(() => loadConfig({ file: fileWith({ ...minimal, ...fields }), env: {} })).toThrowError(message);
    const longest = JSON.parse(JSON.stringify(fields).replace(/:\d+/, `:${2 ** 31 - 1}`));
    expect(() => loadConfig({ file: fileWith({ ...minimal, ...longest }), env: {} })).not.toThrow();
  });

  it.each([
    [
      'grants',
      '"grants":[{"principal":"p","table":"trades","partitions":[{"region":"EU"},{"__proto__":"x"}]}]',
    ],
    ['allowedPartitions', '"allowedPartitions":{"trades":[{"__proto__":null}]}'],
  ])(
    'refuses a partition column named __proto__ in %s (it would otherwise grant the whole table)',
    (_, field) => {
      // JSON.parse keeps "__proto__" as a key, but the schema builds the map by assignment, which
      // drops it: {"__proto__": "x"} became {}, a grant of every file.
      const raw = `{"tableMapping":{"trades":"s3://my-data-bucket/gold/trades"},${field}}`;
      expect(() => loadConfig({ file: fileWith(raw), env: {} })).toThrowError(
        /partitions\[\d+\]: .*__proto__|trades\[0\]: .*__proto__/,
      );
    },
  );

  it('refuses a grant or allowedPartitions entry on a table tableMapping does not have', () => {
    // Such a grant reads nothing: a typo in an alias denied the principal without a word.
    const grants = [
      { principal: 'p', table: 'trades', partitions: [{}] },
      { principal: 'p', table: 'trade', partitions: [{ region: 'EU' }] },
    ];
    expect(() => loadConfig({ file: fileWith({ ...minimal, grants }), env: {} })).toThrowError(
      /^grants\[1\]\.table: "trade" is not in tableMapping \(did you mean "trades"\?\)$/,
    );
    expect(() =>
      loadConfig({ file: fileWith({ ...minimal, allowedPartitions: { customers: [{}] } }), env: {} }),
    ).toThrowError(/^allowedPartitions\.customers: "customers" is not in tableMapping$/);
    // The mapping that counts is the one after the environment's overrides.
    expect(() =>
      loadConfig({
        file: fileWith({ ...minimal, grants: [grants[0]] }),
        env: { PROXY_TABLE_MAPPING: '{"orders":"s3://bucket/orders"}' },
      }),
    ).toThrowError(/^grants\[0\]\.table: "trades" is not in tableMapping$/);
  });

  it('refuses a key written twice in one JSON object, naming where (JSON.parse keeps the last one)', () => {
    // {"region":"EU","region":"US"} parsed as a grant of US only; two "auth" blocks, the second only.
    const grant =
      '{"principal":"p","table":"trades","partitions":[{"region":"EU","date":"2024-01-01","region":"US"}]}';
    const text = `{"tableMapping":{"trades":"s3://my-data-bucket/gold/trades"},"grants":[${grant}]}`;
    expect(() => loadConfig({ file: fileWith(text), env: {} })).toThrowError(
      /config\.json: grants\[0\]\.partitions\[0\]\.region: written twice in one object \(JSON keeps only the last\)$/,
    );
    const twoAuth = `{"tableMapping":{"trades":"s3://b/t"},"auth":{"keys":[]},"port":1,"auth":{"allowAnonymous":true}}`;
    expect(() => loadConfig({ file: fileWith(twoAuth), env: {} })).toThrowError(
      /config\.json: auth: written twice/,
    );
    expect(() =>
      loadConfig({
        file: fileWith(minimal),
        env: { PROXY_TABLE_MAPPING: '{"a":"s3://b/x","a":"s3://b/y"}' },
      }),
    ).toThrowError(/^PROXY_TABLE_MAPPING: a: written twice in one object/);
    // The same name in different objects, or as a value, is no duplicate.
    const fine = `{"tableMapping":{"region":"s3://bucket-b/region"},"grants":[{"principal":"region","table":"region","partitions":[{"region":"EU"},{"region":"US"}]}]}`;
    expect(loadConfig({ file: fileWith(fine), env: {} }).grants[0]!.partitions).toHaveLength(2);
  });

  it.each([
    ['s3.endpoint', { s3: { endpoint: 'localhost:9000' } }],
    ['s3.endpoint', { s3: { endpoint: 'ftp://127.0.0.1:9000' } }],
    [
      'database.endpoint',
      { database: { type: 'dynamodb', tableName: 'grants', endpoint: 'localhost:8000' } },
    ],
    ['database.tableName', { database: { type: 'dynamodb', tableName: 'my grants' } }],
  ])('refuses a %s no request could use (%j)', (field, fields) => {
    // `localhost:9000` parses as a URL of scheme "localhost:": every backend call failed instead.
    expect(() => loadConfig({ file: fileWith({ ...minimal, ...fields }), env: {} })).toThrowError(
      new RegExp(`^${field.replace('.', '\\.')}: `),
    );
  });

  it('refuses an empty host: node would listen on every interface, not on 127.0.0.1', () => {
    expect(() => loadConfig({ file: fileWith({ ...minimal, host: '' }), env: {} })).toThrowError(/^host: /);
    // An env file's `PROXY_HOST=` line is the usual way to get one.
    expect(() => loadConfig({ file: fileWith(minimal), env: { PROXY_HOST: '' } })).toThrowError(/^host: /);
    expect(loadConfig({ file: fileWith(minimal), env: { PROXY_HOST: '0.0.0.0' } }).host).toBe('0.0.0.0');
  });

  it('names the variable for a bad environment override', () => {
    expect(() => loadConfig({ file: fileWith(minimal), env: { PROXY_PORT: 'x' } })).toThrowError(
      /^PROXY_PORT: expected a number/,
    );
    expect(() => loadConfig({ file: fileWith(minimal), env: { PROXY_GRANTS: '[' } })).toThrowError(
      /^PROXY_GRANTS: expected JSON/,
    );
    expect(() => loadConfig({ file: fileWith(minimal), env: { PROXY_PORTT: '1' } })).toThrowError(
      /^PROXY_PORTT: unknown setting \(did you mean PROXY_PORT\?\)$/,
    );
  });

  it('refuses an empty PROXY_CONFIG_FILE instead of starting without the file', () => {
    // `PROXY_CONFIG_FILE=` (an env file's blanked line) ran on the other variables alone: no keys, no grants.
    const env = { PROXY_CONFIG_FILE: '', PROXY_TABLE_MAPPING: '{"t":"s3://bucket-b/x"}' };
    expect(() => loadConfig({ env })).toThrowError(/^PROXY_CONFIG_FILE: empty/);
    expect(loadConfig({ env: { PROXY_TABLE_MAPPING: env.PROXY_TABLE_MAPPING } }).tableMapping).toEqual({
      t: 's3://bucket-b/x',
    });
  });

  it('reports an unreadable or invalid file', () => {
    expect(() => loadConfig({ file: '/nonexistent/config.json', env: {} })).toThrowError(ConfigError);
    expect(() => loadConfig({ file: fileWith('{nope'), env: {} })).toThrowError(/not valid JSON/);
  });

  it('never quotes the text around a JSON syntax error: it may be a secret', () => {
    // JSON.parse's own message shows ten characters each side of the fault (V8:
    // `..."ccessKey":“wJalrXUtn"...`): a value pasted with curly or single quotes is such a fault.
    const secret = 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY';
    const broken = [
      `{\n "auth": {"keys": [{"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": \u201c${secret}\u201d}]}}`,
      `{"metricsToken": '${secret}'}`,
      `{"listingTokenKey": ${secret}}`,
      `{"listingTokenKey": "${secret}" "x": 1}`,
    ];
    for (const text of broken) {
      let message = '';
      try {
        loadConfig({ file: fileWith(text), env: {} });
      } catch (e) {
        message = (e as Error).message.replace(/^.*config\.json: /, '');
      }
      expect(message).toMatch(/^not valid JSON/);
      for (let i = 0; i + 4 <= secret.length; i++) expect(message).not.toContain(secret.slice(i, i + 4));
    }
    // Where the parser says where the fault is, the message says it as a line and column.
    expect(() => loadConfig({ file: fileWith('{\n  "port": 1,\n  "host" "x"\n}'), env: {} })).toThrowError(
      /not valid JSON \(line 3, column 10\)/,
    );
  });

  it('maps field names to environment names', () => {
    expect(envName('metricsPort')).toBe('PROXY_METRICS_PORT');
    expect(envName('tableMapping')).toBe('PROXY_TABLE_MAPPING');
  });

  it('splits table URIs into bucket and a slash-terminated prefix', () => {
    expect(parseTableUri('s3://bkt/gold/trades')).toEqual({ bucket: 'bkt', prefix: 'gold/trades/' });
    expect(parseTableUri('s3://bkt/gold/trades/')).toEqual({ bucket: 'bkt', prefix: 'gold/trades/' });
    expect(parseTableUri('s3://bkt')).toEqual({ bucket: 'bkt', prefix: '' });
  });
});
