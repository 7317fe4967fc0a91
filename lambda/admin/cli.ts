/**
 * The admin CLI: access keys and grants, in the JSON config file or in DynamoDB.
 *   npm run admin -- keys create --principal analyst --dynamodb delta-proxy
 * Exit codes: 0 done, 1 failed, 2 usage error. Errors go to stderr. Secrets are printed once, by
 * `keys create`, and never again (`keys list` never reads them).
 *
 * This is the only module of the access area that reads process.env: the AWS SDK's default
 * credential chain and region for --dynamodb. With --endpoint (a local DynamoDB) the EC2 metadata
 * probe is switched off and, unless AWS credentials are set, dummy ones are used.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { mapsFingerprint } from '../access/allowed-set-cache';
import type { PartitionMap } from '../access/grant';
import { ANONYMOUS_PRINCIPAL } from '../access/grant-sources';
import { ConfigError, configPathAsTyped } from '../config';
import { createDynamoClient } from '../store/dynamo-client';
import { defaultDynamoRegion } from '../store/dynamo-region';
import { MAX_PRINCIPAL_BYTES } from '../store/dynamo-schema';
import { isTableAlias } from '../store/grant-item';
import type { AdminTarget } from './admin-target';
import { ConfigFileTarget, LOCK_WAIT_MS } from './config-target';
import { DynamoTarget } from './dynamo-target';
import { newAccessKeyId, newSecretAccessKey } from './key-material';
import { partitionsFromArgs, partitionWarnings, UsageError } from './partition-args';

export interface Io {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  env: Record<string, string | undefined>;
}

const TARGET_HELP = `Target (exactly one):
  --config FILE            edit auth.keys / grants of this JSON config file in place (a running
                           proxy reads it only at start-up: restart it after an edit); runs
                           take turns under FILE.lock, waiting up to ${LOCK_WAIT_MS / 1000} s
  --dynamodb TABLE         use this DynamoDB table
    --endpoint URL         DynamoDB endpoint (e.g. http://127.0.0.1:8000 for a local one)
    --region REGION        AWS region (default: AWS_REGION, or us-east-1 with --endpoint)
  --json                   machine-readable output`;

const HELP = `Usage: delta-proxy-admin <command> [options]

Commands:
  init                                   create the DynamoDB table (pk/sk, on-demand)
  keys create --principal P              create an access key; prints the secret ONCE
  keys list                              list keys (never shows secrets)
  keys revoke ACCESS_KEY_ID              revoke a key (DynamoDB: marked revoked; config: removed)
  grants add --principal P --table T (--partition k=v[,k=v] | --partition-null COL | --all)
                                         grant partitions of a table (options explained below)
  grants list [--principal P]            list grants with their ids
  grants revoke --principal P --table T [--id ID]
                                         remove P's grants on T (only grant ID if given)

${TARGET_HELP}

Partitions (grants add):
  --partition k=v[,k=v]    one partition map: every column must equal its value; repeat for more
                           maps (a file is readable if any map matches). \\, \\= \\\\ escape , = \\
  --partition-null COL     COL must be null: added to every --partition map, or a map of its own
  --all                    the whole table ([{}])
Values are compared as the column's Delta type: dates 2024-01-01, timestamps
"2024-01-01 10:00:00" (UTC), numbers by value; strings exactly. The CLI does not read the
table, so it cannot check a value's type: the proxy warns about a value that is none of its
column's values (e.g. date=2024-13-45) when a request first meets it.

Exit codes: 0 ok, 1 failure, 2 usage error.`;

const OPTIONS = {
  config: { type: 'string' },
  dynamodb: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  principal: { type: 'string' },
  table: { type: 'string' },
  partition: { type: 'string', multiple: true },
  'partition-null': { type: 'string', multiple: true },
  all: { type: 'boolean' },
  id: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Values = {
  [K in OptionName]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : string | boolean;
};

const COMMON: OptionName[] = ['config', 'dynamodb', 'endpoint', 'region', 'json', 'help'];
const COMMANDS: Record<string, { positionals: number; options: OptionName[] }> = {
  init: { positionals: 0, options: [] },
  'keys create': { positionals: 0, options: ['principal'] },
  'keys list': { positionals: 0, options: [] },
  'keys revoke': { positionals: 1, options: [] },
  'grants add': { positionals: 0, options: ['principal', 'table', 'partition', 'partition-null', 'all'] },
  'grants list': { positionals: 0, options: ['principal'] },
  'grants revoke': { positionals: 0, options: ['principal', 'table', 'id'] },
};

function required(values: Values, name: 'principal' | 'table'): string {
  const v = values[name];
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} is required`);
  return v;
}

/**
 * The principal a key is created for, or whose grants are written, listed or revoked. A longer
 * name than DynamoDB's key limit allows could never hold a grant, and a Query for its grants
 * fails on real DynamoDB.
 */
function principalArg(values: Values): string {
  const principal = required(values, 'principal');
  if (Buffer.byteLength(principal) > MAX_PRINCIPAL_BYTES)
    throw new UsageError(
      `--principal: at most ${MAX_PRINCIPAL_BYTES} bytes (UTF-8), DynamoDB's limit on the key of its grants`,
    );
  return principal;
}

function openTarget(values: Values, io: Io): AdminTarget {
  const env = io.env;
  const config = values.config as string | undefined;
  const table = values.dynamodb as string | undefined;
  if ((config === undefined) === (table === undefined)) {
    throw new UsageError('choose exactly one target: --config FILE or --dynamodb TABLE');
  }
  if (config !== undefined) {
    if (values.endpoint !== undefined || values.region !== undefined) {
      throw new UsageError('--endpoint and --region go with --dynamodb');
    }
    return new ConfigFileTarget(configPathAsTyped(config, 'admin', env), { say: io.stderr });
  }
  const endpoint = values.endpoint as string | undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint))
    throw new UsageError(`--endpoint: not a URL: ${endpoint}`);
  const region = (values.region as string | undefined) || defaultDynamoRegion(env, endpoint);
  if (!region) throw new UsageError('--region is required (or set AWS_REGION)');
  let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  if (endpoint !== undefined) {
    // A local DynamoDB: never probe the EC2 metadata address, and any credentials will do.
    process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
    if (!env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE)
      credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  }
  const client = createDynamoClient(
    { tableName: table!, region, ...(endpoint ? { endpoint } : {}) },
    { ...(credentials ? { credentials } : {}), maxAttempts: 3, requestTimeoutMs: 10_000 },
  );
  return new DynamoTarget(client, table!);
}

function printTable(io: Io, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  io.stdout(line(header));
  for (const r of rows) io.stdout(line(r));
}

async function run(command: string, positionals: string[], values: Values, io: Io): Promise<number> {
  const json = values.json === true;
  const target = openTarget(values, io);
  const edited = () => {
    if (target.editNote) io.stderr(`note: ${target.editNote}`);
  };
  try {
    switch (command) {
      case 'init': {
        const outcome = await target.init();
        io.stdout(json ? JSON.stringify({ outcome }) : outcome);
        return 0;
      }
      case 'keys create': {
        const principal = principalArg(values);
        if (principal === ANONYMOUS_PRINCIPAL) {
          throw new UsageError(`"${ANONYMOUS_PRINCIPAL}" is reserved for unauthenticated callers`);
        }
        const key = { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey(), principal };
        await target.createKey(key);
        if (json) io.stdout(JSON.stringify(key));
        else {
          io.stdout(`accessKeyId: ${key.accessKeyId}`);
          io.stdout(`secretAccessKey: ${key.secretAccessKey}`);
          io.stdout(`principal: ${principal}`);
          io.stderr('The secret is shown only this once: store it now.');
        }
        edited();
        return 0;
      }
      case 'keys list': {
        const keys = await target.listKeys();
        if (json) io.stdout(JSON.stringify(keys));
        else
          printTable(
            io,
            ['ACCESS_KEY_ID', 'PRINCIPAL', 'STATUS', 'CREATED'],
            keys.map((k) => [
              k.accessKeyId,
              k.principal,
              k.refused ? `refused: ${k.refused}` : k.status,
              k.createdAt ?? '-',
            ]),
          );
        return 0;
      }
      case 'keys revoke': {
        const id = positionals[0]!;
        const revocation = await target.revokeKey(id);
        if (!revocation) {
          io.stderr(`error: no such access key: ${id}`);
          return 1;
        }
        if (revocation.already) {
          const at = revocation.revokedAt;
          io.stdout(
            json
              ? JSON.stringify({ revoked: id, already: true, ...(at ? { revokedAt: at } : {}) })
              : `${id} was already revoked${at ? ` (at ${at})` : ''}`,
          );
          return 0;
        }
        io.stdout(json ? JSON.stringify({ revoked: id }) : `revoked ${id}`);
        edited();
        return 0;
      }
      case 'grants add': {
        const principal = principalArg(values);
        const table = required(values, 'table');
        if (!isTableAlias(table)) throw new UsageError(`--table: not a table alias: ${table}`);
        const partitions = partitionsFromArgs({
          partition: values.partition as string[] | undefined,
          partitionNull: values['partition-null'] as string[] | undefined,
          all: values.all === true,
        });
        const grant = { principal, table, partitions };
        // The same grant again is a no-op, as attaching an attached policy is: a second copy would
        // only be one more line in `grants list` and one more item to revoke.
        const same = (await target.listGrants(principal)).find(
          (g) =>
            !g.refused &&
            g.principal === principal &&
            g.table === table &&
            partitionSetKey(g.partitions) === partitionSetKey(partitions),
        );
        if (same) {
          io.stdout(
            json
              ? JSON.stringify({ id: same.id, ...grant, already: true })
              : `already granted ${same.id}: ${principal} on ${table} ${JSON.stringify(partitions)}`,
          );
          return 0;
        }
        const id = await target.addGrant(grant);
        for (const warning of partitionWarnings(partitions)) io.stderr(warning);
        io.stdout(
          json
            ? JSON.stringify({ id, ...grant })
            : `granted ${id}: ${principal} on ${table} ${JSON.stringify(partitions)}`,
        );
        edited();
        return 0;
      }
      case 'grants list': {
        const grants = await target.listGrants(
          values.principal === undefined ? undefined : principalArg(values),
        );
        if (json) io.stdout(JSON.stringify(grants));
        else
          printTable(
            io,
            ['ID', 'PRINCIPAL', 'TABLE', 'PARTITIONS'],
            grants.map((g) => [
              g.id,
              g.principal,
              g.table,
              g.refused ? `refused: ${g.refused}` : JSON.stringify(g.partitions),
            ]),
          );
        return 0;
      }
      case 'grants revoke': {
        const principal = principalArg(values);
        const table = required(values, 'table');
        const removed = await target.revokeGrants(principal, table, values.id as string | undefined);
        if (removed === 0) {
          io.stderr(
            `error: no matching grant for ${principal} on ${table}${values.id ? ` with id ${values.id}` : ''}`,
          );
          return 1;
        }
        io.stdout(json ? JSON.stringify({ removed }) : `removed ${removed} grant(s)`);
        edited();
        return 0;
      }
      default:
        throw new UsageError(`unknown command: ${command}`);
    }
  } finally {
    target.close();
  }
}

export async function main(argv: string[], io: Io): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    io.stderr(`usage error: ${(e as Error).message}`);
    io.stderr('Run with --help for usage.');
    return 2;
  }
  const values = parsed.values as Values;
  const [group, sub, ...rest] = parsed.positionals;
  const command = group === 'init' ? 'init' : `${group ?? ''} ${sub ?? ''}`.trim();
  const positionals = group === 'init' ? parsed.positionals.slice(1) : rest;
  if (values.help || group === undefined || group === 'help') {
    io.stdout(HELP);
    return values.help || group === 'help' ? 0 : 2;
  }
  try {
    const spec = COMMANDS[command];
    if (!spec) throw new UsageError(`unknown command: ${command}`);
    if (positionals.length !== spec.positionals) {
      throw new UsageError(
        spec.positionals
          ? `${command} takes ${spec.positionals} argument(s)`
          : `unexpected argument: ${positionals[0]}`,
      );
    }
    const allowed = new Set<string>([...COMMON, ...spec.options]);
    for (const name of Object.keys(values)) {
      if (!allowed.has(name)) throw new UsageError(`--${name} does not apply to ${command}`);
    }
    return await run(command, positionals, values, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`usage error: ${e.message}`);
      io.stderr('Run with --help for usage.');
      return 2;
    }
    if (e instanceof ConfigError) {
      io.stderr(`error: ${e.message}`);
      return 1;
    }
    const err = e as Error;
    // SDK errors carry a name (ResourceNotFoundException, ...) and never a secret.
    io.stderr(`error: ${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}`);
    return 1;
  }
}

// The pinned SDK warns on Node 20 (9 lines on stderr) at every client it builds, so every DynamoDB
// command's answer came buried under it; as in `npm start`, unless the caller set it otherwise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const processIo: Io = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), processIo);
}

/**
 * A list of partition maps as a set: the same maps in any order are one key, each map in the
 * allowed-set cache's canonical form (keys in any order).
 */
function partitionSetKey(maps: readonly PartitionMap[]): string {
  return JSON.stringify([...new Set(maps.map((m) => mapsFingerprint([m])))].sort());
}
