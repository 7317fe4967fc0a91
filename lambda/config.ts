/**
 * Configuration: config.json overridden by PROXY_* environment variables, validated with zod.
 * A bad config stops start-up with one line naming the field and the problem.
 *
 * Environment mapping: each top-level field `camelCase` is `PROXY_CAMEL_CASE`; scalar fields
 * take the plain value (`PROXY_PORT=8080`, `PROXY_READ_ONLY=false`), structured ones take JSON
 * (`PROXY_TABLE_MAPPING='{"trades":"s3://bucket/gold/trades"}'`). `PROXY_CONFIG_FILE` names
 * the JSON file to start from.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
// zod/mini: the same validation as classic zod's chained API at a quarter of the bundle size
// (classic zod is ~100 KB minified in the Lambda bundle, and costs module-init time there).
import { en } from 'zod/locales';
import * as z from 'zod/mini';
import { secretsExposure } from './config-exposure';
import { closestName } from './core/closest-name';
import { duplicateKeyPath } from './core/json-duplicate-key';
import { ANONYMOUS } from './core/principal';
import { matchTableUri } from './core/table-mount';
import { DEFAULT_READ_AHEAD } from './delta/log-read-ahead';
import { DEFAULT_REDIRECT_CLIENTS } from './s3/redirect-policy';
import { assertSafeKey } from './s3/virtual-key';
import { defaultDynamoRegion } from './store/dynamo-region';

export { parseTableUri } from './core/table-mount';

// zod/mini ships no messages by default; the English ones name what was expected.
z.config(en());

const tableUri = z.string().check(
  z.refine((v) => {
    const m = matchTableUri(v);
    if (!m || !bucketNameS3Allows(m.bucket)) return false;
    // The prefix is used verbatim as a key prefix: it obeys the rules of a request's key. The
    // log's paths are URIs, read decoded against it: "%20" would be a space there and "%20" here.
    if (/%[0-9A-Fa-f]{2}/.test(m.rawPrefix)) return false;
    try {
      assertSafeKey(m.rawPrefix, 'prefix');
      return true;
    } catch {
      return false;
    }
  }, 'must be an s3://bucket/prefix URI (a bucket name S3 allows: 3-63 of a-z 0-9 . -, no "..", not an IP address; the prefix as the keys spell it, not percent-encoded; no ".", ".." or empty segments, control characters or backslashes in it)'),
);

/**
 * S3's naming rules beyond the URI's character set: no bucket can have such a name, and the SDK
 * fails on one only at request time (a 500 for every read of the table).
 */
function bucketNameS3Allows(bucket: string): boolean {
  return (
    !bucket.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(bucket) &&
    !/^(?:xn--|sthree-|amzn-s3-demo-)/.test(bucket) &&
    !/(?:-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(bucket)
  );
}

const alias = z.string().check(
  z.regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/,
    'table aliases are letters, digits, "_", "-" and "." (max 128)',
  ),
  z.refine((v) => v !== '.' && v !== '..' && !v.includes('..'), 'table alias must not contain ".."'),
);

const nonEmpty = () => z.string().check(z.minLength(1));

/**
 * The SDK makes a region part of a host name: anything else fails every call it makes, at request
 * time. Lower case, as AWS names every region.
 */
const awsRegion = () =>
  z
    .string()
    .check(
      z.regex(
        /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
        'must be an AWS region name, in lower case (e.g. eu-west-1)',
      ),
    );
const port = (fallback: number) => z._default(z.int().check(z.minimum(0), z.maximum(65535)), fallback);

const redirectPattern = z.string().check(
  z.minLength(1),
  z.maxLength(256),
  z.refine((p) => {
    try {
      new RegExp(p);
      return true;
    } catch {
      return false;
    }
  }, 'must be a JavaScript regular expression (matched against the User-Agent)'),
);

/** The default memory budget of cached snapshots (and what they leave: generated log files). */
export const DEFAULT_SNAPSHOT_CACHE_BYTES = 256 * 1024 * 1024;

const positiveInt = () => z.int().check(z.minimum(1));

/** Twice a snapshot load's log read-ahead: room for it and for another request's calls. */
export const MIN_PENDING_REQUESTS = 2 * DEFAULT_READ_AHEAD.files;

/** A Secrets Manager secret's name or ARN. */
export const SECRET_ID =
  /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}$/;
const secretId = () => z.string().check(z.regex(SECRET_ID, 'must be a Secrets Manager secret name or ARN'));

/** An http(s) endpoint: `localhost:9000` is a URL too (of scheme "localhost:"), which no client can call. */
const endpoint = () =>
  z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL (e.g. http://127.0.0.1:9000)' });

/** Node's timers hold at most 2^31-1 ms (~24.8 days); a longer delay fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const timerMs = (min: number) =>
  z.int().check(z.minimum(min), z.maximum(MAX_TIMER_MS, `at most ${MAX_TIMER_MS} ms (a timer's limit)`));

/** AWS's documented limits of a streamed Lambda response (Lambda developer guide, response streaming). */
export const LAMBDA_STREAMING_DEFAULTS = {
  /** "response streaming functions can return payloads up to 200 MB" (read as decimal: the lower). */
  maxResponseBytes: 200_000_000,
  /** "The streaming rate for the first 6 MB of your function's response is uncapped." */
  unthrottledBytes: 6_000_000,
  /** "After this initial burst, Lambda streams your response at a maximum rate of 2 MBps." */
  throttledBytesPerSecond: 2_000_000,
};

/**
 * The record schema builds its output by assignment, which drops a `__proto__` key that JSON.parse
 * kept, unchecked: {"__proto__": "x"} would become {}, in a partition map a grant of the whole
 * table. A record with such a key is refused.
 */
const withoutProtoKey = (message: string) =>
  z.custom<unknown>((m) => typeof m !== 'object' || m === null || !Object.hasOwn(m, '__proto__'), message);

const partitionMap = z.pipe(
  withoutProtoKey(
    'a partition column named "__proto__" cannot be granted in the config (use DynamoDB grants)',
  ),
  z.record(nonEmpty(), z.nullable(z.string())),
);

/** Table aliases to values; "__proto__" is no alias (it was dropped without a word). */
const byAlias = <T extends z.ZodMiniType>(value: T) =>
  z.pipe(withoutProtoKey('"__proto__" is no table alias'), z.record(alias, value));

const accessKey = z.strictObject({
  accessKeyId: z
    .string()
    .check(z.regex(/^[A-Za-z0-9+/=._-]{3,128}$/, 'access key ids are 3-128 URL-safe characters')),
  secretAccessKey: z.string().check(z.minLength(8, 'secret access keys are at least 8 characters')),
  // A key signing as the name unsigned callers get would blur the two (grant-sources.ts).
  principal: nonEmpty().check(
    z.refine((p) => p !== ANONYMOUS.name, `"${ANONYMOUS.name}" is reserved for unauthenticated callers`),
  ),
});

/** One id, one key: with the same id twice, which secret and principal sign would be a guess. */
const accessKeys = z.array(accessKey).check(
  z.superRefine((keys, ctx) => {
    const first = new Map<string, number>();
    for (const [i, { accessKeyId }] of keys.entries()) {
      const at = first.get(accessKeyId);
      if (at === undefined) first.set(accessKeyId, i);
      else
        ctx.addIssue({
          code: 'custom',
          path: [i, 'accessKeyId'],
          message: `"${accessKeyId}" is already the id of auth.keys[${at}]`,
          input: accessKeyId,
        });
    }
  }),
);

const grant = z.strictObject({
  principal: nonEmpty(),
  table: alias,
  partitions: z.array(partitionMap),
});

const ConfigFields = z.strictObject({
  // Node listens on every interface for an empty host: that must be asked for by name.
  host: z._default(
    z.string().check(z.minLength(1, 'must name an address ("0.0.0.0" or "::" for every interface)')),
    '127.0.0.1',
  ),
  port: port(18080),
  metricsPort: port(9090),
  /**
   * Opens `GET /metrics` on the proxy itself (in Lambda: on the Function URL) to requests with
   * `Authorization: Bearer <metricsToken>`. A secret: never logged. Unset: no such endpoint.
   */
  metricsToken: z.optional(
    z.string().check(z.regex(/^[\x21-\x7e]{16,512}$/, 'must be 16-512 visible ASCII characters (no spaces)')),
  ),
  /**
   * Name or ARN of a Secrets Manager secret holding `metricsToken`, read at start-up
   * (config-secrets.ts): the Lambda environment, readable with lambda:GetFunctionConfiguration,
   * then names the secret instead of holding it.
   */
  metricsTokenSecret: z.optional(secretId()),
  tableMapping: byAlias(tableUri),
  readOnly: z._default(z.boolean(), true),
  getMode: z._default(z.enum(['proxy', 'presignedUrl']), 'presignedUrl'),
  proxyPartial: z._default(z.boolean(), false),
  /**
   * User-Agent patterns of clients that follow a cross-host 307 without re-sending
   * Authorization: in presigned mode they get redirects, and in Lambda they are redirected
   * instead of refused when an object is over the streaming limit.
   */
  redirectClients: z._default(z.array(redirectPattern), [...DEFAULT_REDIRECT_CLIENTS]),
  /** Limits of a streamed response, applied only where the proxy runs inside AWS Lambda. */
  lambdaStreaming: z._default(
    z.strictObject({
      maxResponseBytes: z._default(positiveInt(), LAMBDA_STREAMING_DEFAULTS.maxResponseBytes),
      unthrottledBytes: z._default(positiveInt(), LAMBDA_STREAMING_DEFAULTS.unthrottledBytes),
      throttledBytesPerSecond: z._default(positiveInt(), LAMBDA_STREAMING_DEFAULTS.throttledBytesPerSecond),
    }),
    { ...LAMBDA_STREAMING_DEFAULTS },
  ),
  /** Seconds a presigned URL handed out in presignedUrl mode stays valid. */
  presignExpiresSeconds: z._default(z.int().check(z.minimum(1), z.maximum(3600)), 60),
  allowedPartitions: z._default(byAlias(z.array(partitionMap)), {}),
  database: z.optional(
    z.strictObject({
      type: z.literal('dynamodb'),
      tableName: z
        .string()
        .check(z.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'DynamoDB table names are 3-255 of A-Z a-z 0-9 _ - .')),
      endpoint: z.optional(endpoint()),
      region: z.optional(awsRegion()),
    }),
  ),
  databaseEnabled: z._default(z.boolean(), false),
  s3: z._default(
    z.strictObject({
      endpoint: z.optional(endpoint()),
      /** Region of the mapped buckets; loadConfig defaults it to the function's AWS_REGION. */
      region: z.optional(awsRegion()),
      forcePathStyle: z.optional(z.boolean()),
      /** Backend connections shared by all requests (the SDK's default pool holds 50). */
      maxSockets: z._default(z.int().check(z.minimum(1), z.maximum(4096)), 256),
      /** Backend calls awaiting an answer at once (socket wait included); beyond, 503 SlowDown. */
      maxPendingRequests: z._default(
        z.int().check(
          // A lone request's cold snapshot load reads a window of log files at once: below it, its
          // own reads were shed, and every request on a table with a longer log got 503.
          z.minimum(
            MIN_PENDING_REQUESTS,
            `at least ${MIN_PENDING_REQUESTS} (one snapshot load reads up to ${DEFAULT_READ_AHEAD.files} log files at once)`,
          ),
        ),
        1024,
      ),
      /** Attempts per backend read (retries on throttling, 5xx, timeouts, resets; SDK backoff). */
      maxAttempts: z._default(z.int().check(z.minimum(1), z.maximum(10)), 3),
      /** A backend call with no answer (or a stalled socket) for this long fails and is retried. */
      requestTimeoutMs: z._default(timerMs(100), 30_000),
    }),
    { maxSockets: 256, maxPendingRequests: 1024, maxAttempts: 3, requestTimeoutMs: 30_000 },
  ),
  /** Time to a response; beyond it the request gets 503 ServiceUnavailable (Lambda: also its deadline). */
  requestTimeoutMs: z._default(timerMs(100), 30_000),
  /** Request target (path and query) in bytes; beyond it, 400 InvalidURI. */
  maxUrlBytes: z._default(z.int().check(z.minimum(2048), z.maximum(65_536)), 8192),
  /** Request header section in bytes; beyond it, 400 RequestHeaderSectionTooLarge. */
  maxHeaderBytes: z._default(z.int().check(z.minimum(4096), z.maximum(65_536)), 16_384),
  /**
   * Backend streams one principal's proxied GETs may always hold at once; beyond it only while
   * `s3.maxSockets` keeps this many free for others, else 503 SlowDown.
   */
  streamsPerPrincipal: z._default(z.int().check(z.minimum(1)), 64),
  /** A client that reads nothing of a response for this long is disconnected (local server). */
  clientIdleTimeoutMs: z._default(timerMs(1), 30_000),
  auth: z._default(
    z.strictObject({
      keys: z._default(accessKeys, []),
      allowAnonymous: z._default(z.boolean(), false),
    }),
    { keys: [], allowAnonymous: false },
  ),
  grants: z._default(z.array(grant), []),
  /** "filtered": each caller gets a `_delta_log/` with only its readable files; "raw": the log as stored. */
  logView: z._default(z.enum(['raw', 'filtered']), 'filtered'),
  /** How long a cached Delta snapshot is trusted before the log is checked for new commits. */
  snapshotTtlMs: z._default(z.int().check(z.minimum(0)), 5_000),
  /**
   * How long past `snapshotTtlMs` a snapshot keeps serving while its log cannot be read because
   * storage is throttled or unavailable (stale-if-error); 0: never.
   */
  snapshotStaleIfErrorMs: z._default(z.int().check(z.minimum(0)), 60_000),
  /**
   * Secret that seals listing continuation tokens naming keys a caller may not see. Every instance
   * of a deployment must share it (Lambda: a token may come back to another instance); without it
   * each process draws a random key.
   */
  listingTokenKey: z.optional(z.string().check(z.minLength(32, 'at least 32 characters'))),
  /** Name or ARN of a Secrets Manager secret holding `listingTokenKey`, read at start-up. */
  listingTokenKeySecret: z.optional(secretId()),
  /** Memory budget for cached snapshots across all tables (least recently used evicted). */
  snapshotCacheBytes: z._default(z.int().check(z.minimum(1024 * 1024)), DEFAULT_SNAPSHOT_CACHE_BYTES),
});

/**
 * A config grant on an alias the config does not map reads nothing: most likely a typo that would
 * deny its principal without a word. (DynamoDB grants may wait for their table.)
 */
export const ConfigSchema = ConfigFields.check(
  z.superRefine((config, ctx) => {
    const unmapped = (alias: string, path: PropertyKey[]) => {
      if (Object.hasOwn(config.tableMapping, alias)) return;
      const hint = closestName(alias, Object.keys(config.tableMapping));
      ctx.addIssue({
        code: 'custom',
        path,
        message: `"${alias}" is not in tableMapping${hint ? ` (did you mean "${hint}"?)` : ''}`,
        input: alias,
      });
    };
    // Both listen on `host`: the second listener would fail with EADDRINUSE, naming neither field.
    if (config.port !== 0 && config.metricsPort === config.port)
      ctx.addIssue({
        code: 'custom',
        path: ['metricsPort'],
        message: `the same port as port (${config.port}): the proxy and its metrics listener cannot share it`,
        input: config.metricsPort,
      });
    // Two sources of one secret: which one seals or opens would be a guess.
    for (const field of ['metricsToken', 'listingTokenKey'] as const)
      if (config[field] !== undefined && config[`${field}Secret`] !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [`${field}Secret`],
          message: `set together with ${field}: give one of them`,
          input: config[`${field}Secret`],
        });
    for (const [i, g] of config.grants.entries()) unmapped(g.table, ['grants', i, 'table']);
    for (const alias of Object.keys(config.allowedPartitions)) unmapped(alias, ['allowedPartitions', alias]);
  }),
);

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The error for a config file that could not be read (by the proxy or by the admin CLI). */
export function unreadableConfig(file: string, e: unknown): ConfigError {
  return new ConfigError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
}

const FIELDS = Object.keys(ConfigSchema.shape) as (keyof Config)[];
const SCALAR = new Set<string>([
  'host',
  'port',
  'metricsPort',
  'metricsToken',
  'metricsTokenSecret',
  'readOnly',
  'getMode',
  'proxyPartial',
  'presignExpiresSeconds',
  'databaseEnabled',
  'logView',
  'snapshotTtlMs',
  'snapshotStaleIfErrorMs',
  'snapshotCacheBytes',
  'streamsPerPrincipal',
  'clientIdleTimeoutMs',
  'listingTokenKey',
  'listingTokenKeySecret',
  'requestTimeoutMs',
  'maxUrlBytes',
  'maxHeaderBytes',
]);

export function envName(field: string): string {
  return `PROXY_${field.replace(/([A-Z])/g, '_$1').toUpperCase()}`;
}

function parseEnvValue(field: string, raw: string): unknown {
  const shape = ConfigSchema.shape[field as keyof Config];
  if (SCALAR.has(field)) {
    const probe = z.safeParse(shape, undefined);
    const kind = probe.success ? typeof probe.data : 'string';
    if (kind === 'number') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        throw new ConfigError(`${envName(field)}: expected a number, got "${raw}"`);
      return n;
    }
    if (kind === 'boolean') {
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new ConfigError(`${envName(field)}: expected true or false, got "${raw}"`);
    }
    return raw;
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ConfigError(`${envName(field)}: expected JSON`);
  }
  refuseDuplicateKeys(raw, envName(field));
  return value;
}

/** A key written twice in one object: JSON.parse would silently keep the last (json-duplicate-key.ts). */
function refuseDuplicateKeys(text: string, where: string): void {
  const twice = duplicateKeyPath(text);
  if (twice)
    throw new ConfigError(
      `${where}: ${fieldPath(twice)}: written twice in one object (JSON keeps only the last)`,
    );
}

/** A config file's text as a JSON object: a fault is named by line and column, a key written twice by its path. */
export function parseConfigText(text: string, file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON (${jsonFault(text, e)})`);
  }
  refuseDuplicateKeys(text, file);
  // null, [] or 42 would be no settings at all (spread into what the variables override).
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError(`${file}: expected a JSON object`);
  return raw as Record<string, unknown>;
}

/** Applies PROXY_* overrides to a raw (unvalidated) config object. */
export function applyEnv(
  raw: Record<string, unknown>,
  env: Record<string, string | undefined>,
): Record<string, unknown> {
  const out = { ...raw };
  const known = new Set(FIELDS.map(envName));
  for (const name of Object.keys(env)) {
    if (name.startsWith('PROXY_') && name !== 'PROXY_CONFIG_FILE' && !known.has(name)) {
      const hint = closestName(name, known);
      throw new ConfigError(
        `${name}: unknown setting (${hint ? `did you mean ${hint}?` : `known: ${[...known].join(', ')}`})`,
      );
    }
  }
  for (const field of FIELDS) {
    const value = env[envName(field)];
    if (value !== undefined) out[field] = parseEnvValue(field, value);
  }
  return out;
}

/** Validates a raw config; throws ConfigError with "field.path: problem". */
export function parseConfig(raw: unknown): Config {
  const result = z.safeParse(ConfigSchema, raw);
  if (!result.success) throw new ConfigError(firstIssue(ConfigSchema, result.error.issues, 'unknown field'));
  // Checked here rather than at start-up, so `admin` and config checks refuse it too.
  enabledDatabase(result.data);
  return result.data;
}

/**
 * The DynamoDB table the proxy reads grants and keys from: undefined unless `databaseEnabled`,
 * and then required (parseConfig refuses a config without it; so does a config built by hand).
 */
export function enabledDatabase(config: Config): NonNullable<Config['database']> | undefined {
  if (!config.databaseEnabled) return undefined;
  if (!config.database) throw new ConfigError('database: required when databaseEnabled is true');
  return config.database;
}

/** A field's path as an operator writes it: `auth.keys[2].accessKeyId`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const step of path) out += typeof step === 'number' ? `[${step}]` : `${out ? '.' : ''}${String(step)}`;
  return out || '(root)';
}

/**
 * The first problem of a failed parse as one line, "path: problem". An unknown key is named with
 * its own path and, when one is near, the known key of that object it was probably meant to be.
 */
export function firstIssue(
  schema: z.ZodMiniType,
  issues: readonly z.core.$ZodIssue[],
  unknownKey: string,
): string {
  const issue = issues[0]!;
  if (issue.code !== 'unrecognized_keys') return `${fieldPath(issue.path)}: ${issue.message}`;
  const [key, ...more] = issue.keys as [string, ...string[]];
  const hint = closestName(key, knownKeys(schema, issue.path));
  return `${fieldPath([...issue.path, key])}: ${unknownKey}${hint ? ` (did you mean "${hint}"?)` : ''}${
    more.length ? ` (also ${more.map((k) => `"${k}"`).join(', ')})` : ''
  }`;
}

type Def = { type: string } & Record<string, unknown>;

/** The keys the object schema at `path` of `schema` knows (none when it is not an object). */
function knownKeys(schema: z.ZodMiniType, path: readonly PropertyKey[]): string[] {
  let at: z.ZodMiniType | undefined = schema;
  let i = 0;
  while (at) {
    const def = at._zod.def as unknown as Def;
    if (def.type === 'default' || def.type === 'optional' || def.type === 'nullable') {
      at = def.innerType as z.ZodMiniType;
      continue;
    }
    if (def.type === 'pipe') {
      at = def.out as z.ZodMiniType;
      continue;
    }
    const shape = def.type === 'object' ? (def.shape as Record<string, z.ZodMiniType>) : undefined;
    if (i === path.length) return shape ? Object.keys(shape) : [];
    const step = path[i++]!;
    if (shape) at = Object.hasOwn(shape, step) ? shape[step as string] : undefined;
    else if (def.type === 'array') at = def.element as z.ZodMiniType;
    else if (def.type === 'record') at = def.valueType as z.ZodMiniType;
    else at = undefined;
  }
  return [];
}

/**
 * Where a JSON text fails to parse, without its text: JSON.parse's own message quotes up to ten
 * characters each side of the fault (V8: `Unexpected token '“', ..."ccessKey": “wJalrXUtn"...`),
 * and in a config file those are often a secret pasted with the wrong quotes.
 */
export function jsonFault(text: string, error: unknown): string {
  const at = /at position (\d+)/.exec(error instanceof Error ? error.message : '');
  if (!at) return 'an unexpected character; the text around it is not shown, it may hold a secret';
  const before = text.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  return `line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}

/**
 * A config file named as typed in a shell: `npm start` and `npm run admin` run in the repository's
 * root whatever directory that was, which npm names in INIT_CWD (and the script in
 * npm_lifecycle_event). Anything else names it relative to the process's own directory.
 */
export function configPathAsTyped(
  file: string,
  script: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const typedIn = env.npm_lifecycle_event === script ? env.INIT_CWD : undefined;
  if (!typedIn || file === '' || isAbsolute(file) || resolve(typedIn) === process.cwd()) return file;
  return resolve(typedIn, file);
}

/**
 * Loads config.json (if given) and the environment; the one reader of the process environment.
 * Without an `s3.region`, the backend is in the function's own region: AWS_REGION, which Lambda
 * always sets (AWS_DEFAULT_REGION as the AWS CLI's fallback).
 */
export function loadConfig(
  options: {
    file?: string;
    env?: Record<string, string | undefined>;
    /** Told once when the file holds secrets that its group or others may read (config-exposure.ts). */
    warn?: (message: string, fields: Record<string, unknown>) => void;
  } = {},
): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.PROXY_CONFIG_FILE;
  if (file === '')
    throw new ConfigError(
      `${options.file === undefined ? 'PROXY_CONFIG_FILE' : 'config file'}: empty (unset it to start from PROXY_* variables alone)`,
    );
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw unreadableConfig(file, e);
    }
    raw = parseConfigText(text, file);
    const exposure = options.warn && secretsExposure(file, raw);
    if (exposure) options.warn!(exposure.message, { file, mode: exposure.mode });
  }
  const config = parseConfig(applyEnv(raw, env));
  const ownRegion = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (config.s3.region === undefined && ownRegion) config.s3.region = ownRegion;
  // DynamoDB likewise (its SDK reads AWS_REGION but not AWS_DEFAULT_REGION); a local endpoint
  // without any region is us-east-1, as the admin CLI writes to it: the SDK would otherwise
  // fail every lookup ("Region is missing") and every request signed with a DynamoDB key gets 503.
  const database = config.database;
  if (database && database.region === undefined) {
    const region = defaultDynamoRegion(env, database.endpoint);
    if (region) database.region = region;
  }
  return config;
}
