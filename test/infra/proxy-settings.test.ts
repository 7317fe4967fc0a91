import { describe, expect, it } from 'vitest';
import {
  appContext,
  mappedPrefixes,
  proxyEnvironment,
  settingsFromContext,
} from '../../infra/proxy-settings';
import { loadConfig } from '../../lambda/config';
import { DEFAULT_REDIRECT_CLIENTS } from '../../lambda/s3/redirect-policy';

const tableMapping = { trades: 's3://lake-bucket/gold/trades' };

describe('stack settings for the function memory', () => {
  const MiB = 1024 * 1024;
  const budget = (memorySize?: number) =>
    loadConfig({
      env: proxyEnvironment({ tableMapping, ...(memorySize ? { memorySize } : {}) }, 'grants'),
    }).snapshotCacheBytes;

  it('gives the snapshot cache a quarter of a small function, not a 256 MiB budget it cannot hold', () => {
    expect(budget(128)).toBe(32 * MiB);
    expect(budget(512)).toBe(128 * MiB);
    // The default function (1,024 MB) and bigger ones keep the proxy's default.
    expect(budget()).toBe(256 * MiB);
    expect(budget(4096)).toBe(256 * MiB);
  });
});

describe('stack settings for big reads', () => {
  it('passes redirectClients and the Lambda streaming limits to the function', () => {
    const env = proxyEnvironment(
      {
        tableMapping,
        redirectClients: ['^polars/', '^MyReader/'],
        lambdaStreaming: { maxResponseBytes: 100_000_000 },
      },
      'grants',
    );
    const config = loadConfig({ env });
    expect(config.redirectClients).toEqual(['^polars/', '^MyReader/']);
    expect(config.lambdaStreaming).toEqual({
      maxResponseBytes: 100_000_000,
      unthrottledBytes: 6_000_000,
      throttledBytesPerSecond: 2_000_000,
    });
  });

  it('deploys the measured redirect list and AWS limits when the settings say nothing', () => {
    const config = loadConfig({ env: proxyEnvironment({ tableMapping }, 'grants') });
    expect(config.redirectClients).toEqual(DEFAULT_REDIRECT_CLIENTS);
    expect(config.lambdaStreaming.maxResponseBytes).toBe(200_000_000);
  });

  it('passes the snapshot ttl and stale-if-error window, and fails synth on a negative one', () => {
    const env = proxyEnvironment({ tableMapping, snapshotTtlMs: 2_000, snapshotStaleIfErrorMs: 0 }, 'grants');
    const config = loadConfig({ env });
    expect([config.snapshotTtlMs, config.snapshotStaleIfErrorMs]).toEqual([2_000, 0]);
    const defaults = loadConfig({ env: proxyEnvironment({ tableMapping }, 'grants') });
    expect([defaults.snapshotTtlMs, defaults.snapshotStaleIfErrorMs]).toEqual([5_000, 60_000]);
    expect(() => proxyEnvironment({ tableMapping, snapshotStaleIfErrorMs: -1 }, 'grants')).toThrow(
      /deltaProxy settings: snapshotStaleIfErrorMs/,
    );
  });

  it('fails synth on a pattern the proxy would refuse, naming the field', () => {
    expect(() => proxyEnvironment({ tableMapping, redirectClients: ['[unclosed'] }, 'grants')).toThrow(
      /deltaProxy settings: redirectClients\[0\]: /,
    );
  });

  it('fails synth on a mapped prefix with characters IAM reads as wildcards or variables', () => {
    // Legal in S3 keys, but `gold/t*/*` in the role's policy would read every `gold/t…` prefix.
    for (const uri of ['s3://lake-bucket/gold/t*', 's3://lake-bucket/gold/t?', 's3://lake-bucket/a/$x']) {
      expect(() => proxyEnvironment({ tableMapping: { trades: uri } }, 'grants')).toThrow(
        /^deltaProxy settings: tableMapping\.trades: .*IAM/,
      );
    }
    expect(mappedPrefixes({ trades: 's3://lake-bucket/gold/t-1.x' })).toEqual(
      new Map([['lake-bucket', ['gold/t-1.x/']]]),
    );
  });
});

describe('the deltaProxy context object', () => {
  it('fails synth on an unknown setting, naming it and the known one it is closest to', () => {
    // A typo must not deploy the default: `getmode` left getMode at presignedUrl.
    expect(() => settingsFromContext({ tableMapping, getmode: 'proxy' })).toThrow(
      /^deltaProxy settings: getmode: unknown setting \(did you mean "getMode"\?\)$/,
    );
    expect(() => settingsFromContext({ tableMapping, redirectClient: ['^polars/'] })).toThrow(
      /^deltaProxy settings: redirectClient: unknown setting \(did you mean "redirectClients"\?\)$/,
    );
    expect(() => settingsFromContext({ tableMapping, colour: 'red' })).toThrow(
      /^deltaProxy settings: colour: unknown setting$/,
    );
  });

  it('fails synth on an unknown key inside a nested setting', () => {
    expect(() =>
      settingsFromContext({ tableMapping, lambdaStreaming: { maxResponseByte: 100_000_000 } }),
    ).toThrow(
      /^deltaProxy settings: lambdaStreaming\.maxResponseByte: unknown setting \(did you mean "maxResponseBytes"\?\)$/,
    );
  });

  it('fails synth on a stack setting of the wrong type or out of range, naming it', () => {
    for (const [bad, path] of [
      [{ memorySize: '1024' }, /^deltaProxy settings: memorySize: /],
      [{ memorySize: 64 }, /^deltaProxy settings: memorySize: /],
      [{ timeoutSeconds: 0 }, /^deltaProxy settings: timeoutSeconds: /],
      [{ logRetentionDays: 31 }, /^deltaProxy settings: logRetentionDays: /],
      [{ alarmEmails: 'ops@example.com' }, /^deltaProxy settings: alarmEmails: /],
      [{ enableSourceMaps: 'yes' }, /^deltaProxy settings: enableSourceMaps: /],
      [{ proxyPartial: 'yes' }, /^deltaProxy settings: proxyPartial: /],
      [{ grantsTableName: 'no spaces' }, /^deltaProxy settings: grantsTableName: /],
    ] as const) {
      expect(() => settingsFromContext({ tableMapping, ...bad })).toThrow(path);
    }
  });

  it('fails synth on more provisioned than reserved concurrency (Lambda refuses it at deploy)', () => {
    expect(() =>
      settingsFromContext({ tableMapping, reservedConcurrency: 5, provisionedConcurrency: 10 }),
    ).toThrow(/^deltaProxy settings: provisionedConcurrency: 10 is more than reservedConcurrency \(5\)$/);
    expect(() =>
      settingsFromContext({ tableMapping, reservedConcurrency: 10, provisionedConcurrency: 10 }),
    ).not.toThrow();
  });

  it("fails synth on a context key one typo away from deltaProxy or stackName (cdk.json's would be used)", () => {
    // `-c deltaproxy=…` left cdk.json's deltaProxy in force: the stack deployed other settings.
    const fromCdkJson = { tableMapping };
    expect(() => appContext({ deltaProxy: fromCdkJson, deltaproxy: { tableMapping: {} } })).toThrow(
      /^context deltaproxy: unknown \(did you mean "deltaProxy"\?\)$/,
    );
    expect(() => appContext({ deltaProxy: fromCdkJson, stackname: 'Other' })).toThrow(
      /^context stackname: unknown \(did you mean "stackName"\?\)$/,
    );
    // CDK's own keys and feature flags pass.
    const context = {
      deltaProxy: fromCdkJson,
      stackName: 'Other',
      'cli-telemetry': false,
      '@aws-cdk/core:checkSecretUsage': true,
      'aws:cdk:enable-path-metadata': true,
    };
    expect(appContext(context)).toEqual({ settings: fromCdkJson, stackName: 'Other' });
  });

  it('accepts the settings of cdk.json as they are', () => {
    const settings = {
      tableMapping,
      getMode: 'presignedUrl',
      proxyPartial: true,
      logView: 'filtered',
      grantsTableName: 'delta-proxy-grants',
      memorySize: 1024,
      timeoutSeconds: 120,
      logRetentionDays: 30,
      alarmEmails: [],
    };
    expect(settingsFromContext(settings)).toEqual(settings);
    expect(settingsFromContext(JSON.stringify(settings))).toEqual(settings);
  });
});
