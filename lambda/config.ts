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
import { z } from 'zod';

const S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/;

const tableUri = z.string().refine((v) => {
  const m = S3_URI.exec(v);
  if (!m) return false;
  const prefix = m[2] ?? '';
  // The prefix is used verbatim as a key prefix: refuse anything that could escape or alias.
  return !prefix
    .split('/')
    .some((seg, i, all) => seg === '..' || seg === '.' || (seg === '' && i < all.length - 1));
}, 'must be an s3://bucket/prefix URI (lower-case bucket name, no "." or ".." or empty segments)');

const alias = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/,
    'table aliases are letters, digits, "_", "-" and "." (max 128)',
  )
  .refine((v) => v !== '.' && v !== '..' && !v.includes('..'), 'table alias must not contain ".."');

const partitionMap = z.record(z.string().min(1), z.string().nullable());

const accessKey = z.strictObject({
  accessKeyId: z.string().regex(/^[A-Za-z0-9+/=._-]{3,128}$/, 'access key ids are 3-128 URL-safe characters'),
  secretAccessKey: z.string().min(8, 'secret access keys are at least 8 characters'),
  principal: z.string().min(1),
});

const grant = z.strictObject({
  principal: z.string().min(1),
  table: alias,
  partitions: z.array(partitionMap),
});

export const ConfigSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(18080),
  metricsPort: z.number().int().min(0).max(65535).default(9090),
  tableMapping: z.record(alias, tableUri),
  readOnly: z.boolean().default(true),
  getMode: z.enum(['proxy', 'presignedUrl']).default('presignedUrl'),
  proxyPartial: z.boolean().default(false),
  /** Seconds a presigned URL handed out in presignedUrl mode stays valid. */
  presignExpiresSeconds: z.number().int().min(1).max(3600).default(60),
  allowedPartitions: z.record(alias, z.array(partitionMap)).default({}),
  database: z
    .strictObject({
      type: z.literal('dynamodb'),
      tableName: z.string().min(3).max(255),
      endpoint: z.url().optional(),
      region: z.string().min(1).optional(),
    })
    .optional(),
  databaseEnabled: z.boolean().default(false),
  s3: z
    .strictObject({
      endpoint: z.url().optional(),
      region: z.string().min(1).optional(),
      forcePathStyle: z.boolean().optional(),
    })
    .default({}),
  auth: z
    .strictObject({
      keys: z.array(accessKey).default([]),
      allowAnonymous: z.boolean().default(false),
    })
    .default({ keys: [], allowAnonymous: false }),
  grants: z.array(grant).default([]),
  logView: z.enum(['raw', 'filtered']).default('raw'),
  /** How long a cached Delta snapshot is trusted before the log is checked for new commits. */
  snapshotTtlMs: z.number().int().min(0).default(5_000),
  /** Memory budget for cached snapshots across all tables (least recently used evicted). */
  snapshotCacheBytes: z
    .number()
    .int()
    .min(1024 * 1024)
    .default(256 * 1024 * 1024),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const FIELDS = Object.keys(ConfigSchema.shape) as (keyof Config)[];
const SCALAR = new Set<string>([
  'host',
  'port',
  'metricsPort',
  'readOnly',
  'getMode',
  'proxyPartial',
  'presignExpiresSeconds',
  'databaseEnabled',
  'logView',
  'snapshotTtlMs',
  'snapshotCacheBytes',
]);

export function envName(field: string): string {
  return `PROXY_${field.replace(/([A-Z])/g, '_$1').toUpperCase()}`;
}

function parseEnvValue(field: string, raw: string): unknown {
  const shape = ConfigSchema.shape[field as keyof Config];
  if (SCALAR.has(field)) {
    const probe = shape.safeParse(undefined);
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
  try {
    return JSON.parse(raw);
  } catch {
    throw new ConfigError(`${envName(field)}: expected JSON`);
  }
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
      throw new ConfigError(`${name}: unknown setting (known: ${[...known].join(', ')})`);
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
  const result = ConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  let message = issue.message;
  if (issue.code === 'unrecognized_keys')
    message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  throw new ConfigError(`${path}: ${message}`);
}

/** Loads config.json (if given) and the environment; the one reader of the process environment. */
export function loadConfig(
  options: { file?: string; env?: Record<string, string | undefined> } = {},
): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.PROXY_CONFIG_FILE;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
    }
  }
  return parseConfig(applyEnv(raw, env));
}

/** Splits `s3://bucket/prefix` into bucket and a prefix that is "" or ends in "/". */
export function parseTableUri(uri: string): { bucket: string; prefix: string } {
  const m = S3_URI.exec(uri);
  if (!m) throw new ConfigError(`not an s3:// URI: ${uri}`);
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  return { bucket: m[1]!, prefix: prefix ? `${prefix}/` : '' };
}
