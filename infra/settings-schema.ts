/**
 * The rules a `deltaProxy` settings object follows, checked before the stack is built: an unknown
 * key (`getmode`, `lambdaStreaming.maxResponseByte`) or a value of the wrong type fails synth
 * naming it, instead of deploying the default. The settings that become the proxy's own config
 * reuse its schema; proxyEnvironment then checks them together (loadConfig).
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as z from 'zod/mini';
import { ConfigError, ConfigSchema, firstIssue } from '../lambda/config';
import type { ProxySettings } from './proxy-settings';

export const REGION = /^[a-z]{2,8}(-[a-z]+)+-\d{1,2}$/;
const RETENTION_DAYS = Object.values(RetentionDays).filter((d): d is number => typeof d === 'number');

const proxy = ConfigSchema.shape;
const int = (min: number, max: number, what: string) =>
  z.int().check(z.minimum(min, what), z.maximum(max, what));

// Every key of ProxySettings, and no other (tsc checks both ways).
const SETTINGS = {
  tableMapping: proxy.tableMapping,
  getMode: z.optional(proxy.getMode),
  proxyPartial: z.optional(proxy.proxyPartial),
  logView: z.optional(proxy.logView),
  presignExpiresSeconds: z.optional(proxy.presignExpiresSeconds),
  redirectClients: z.optional(proxy.redirectClients),
  lambdaStreaming: z.optional(proxy.lambdaStreaming),
  snapshotTtlMs: z.optional(proxy.snapshotTtlMs),
  snapshotStaleIfErrorMs: z.optional(proxy.snapshotStaleIfErrorMs),
  allowedPartitions: z.optional(proxy.allowedPartitions),
  backendRegion: z.optional(z.string().check(z.regex(REGION, 'must be an AWS region, e.g. "us-west-2"'))),
  // The format of each ARN is checked (and its region read) by kmsKeysByRegion.
  kmsKeyArns: z.optional(z.array(z.string())),
  grantsTableName: z.optional(
    z
      .string()
      .check(z.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'DynamoDB table names are 3-255 of A-Z a-z 0-9 _ - .')),
  ),
  memorySize: z.optional(int(128, 10_240, 'Lambda memory is 128-10240 MB')),
  timeoutSeconds: z.optional(int(1, 900, 'a Lambda function runs 1-900 seconds')),
  reservedConcurrency: z.optional(int(0, 1_000_000, 'must be a count, 0 or more')),
  provisionedConcurrency: z.optional(int(1, 1_000_000, 'must be a count, 1 or more')),
  logRetentionDays: z.optional(
    z
      .number()
      .check(
        z.refine(
          (d) => RETENTION_DAYS.includes(d),
          `CloudWatch Logs keeps logs one of ${RETENTION_DAYS.join(', ')} days`,
        ),
      ),
  ),
  enableSourceMaps: z.optional(z.boolean()),
  alarmEmails: z.optional(z.array(z.email())),
  metricsTokenSecret: proxy.metricsTokenSecret,
} satisfies Record<keyof ProxySettings, z.ZodMiniType>;
const SettingsSchema = z.strictObject(SETTINGS).check(
  // Lambda refuses provisioned concurrency beyond the function's reserved concurrency, at deploy.
  z.superRefine((settings, ctx) => {
    const { reservedConcurrency: reserved, provisionedConcurrency: provisioned } = settings;
    if (reserved !== undefined && provisioned !== undefined && provisioned > reserved)
      ctx.addIssue({
        code: 'custom',
        path: ['provisionedConcurrency'],
        message: `${provisioned} is more than reservedConcurrency (${reserved})`,
        input: provisioned,
      });
  }),
);

/** Throws ConfigError "deltaProxy settings: path: problem" unless `raw` is a settings object. */
export function checkSettings(raw: unknown): ProxySettings {
  const result = z.safeParse(SettingsSchema, raw);
  if (!result.success)
    throw new ConfigError(
      `deltaProxy settings: ${firstIssue(SettingsSchema, result.error.issues, 'unknown setting')}`,
    );
  // The input, not the parse: defaults are filled in later, by the proxy's own config.
  return raw as ProxySettings;
}
