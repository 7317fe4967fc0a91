import { describe, expect, it } from 'vitest';
import { LAMBDA_STREAMING_DEFAULTS, loadConfig } from '../../lambda/config';
import { HEAD_ALLOWANCE_BYTES, streamableBytes } from '../../lambda/s3/stream-limit';

describe('Lambda streaming limits', () => {
  it('does not limit a proxy that is not running in Lambda', () => {
    expect(streamableBytes(undefined, 1_000)).toBeUndefined();
  });

  it('keeps a body within the 200 MB response, leaving room for the head', () => {
    expect(streamableBytes(LAMBDA_STREAMING_DEFAULTS)).toBe(200_000_000 - HEAD_ALLOWANCE_BYTES);
    // 15 minutes left: the size cap binds, not the time.
    expect(streamableBytes(LAMBDA_STREAMING_DEFAULTS, 900_000)).toBe(200_000_000 - HEAD_ALLOWANCE_BYTES);
  });

  it('leaves a head larger than the allowance its own size', () => {
    expect(streamableBytes(LAMBDA_STREAMING_DEFAULTS, undefined, 100_000)).toBe(200_000_000 - 100_000);
    expect(streamableBytes(LAMBDA_STREAMING_DEFAULTS, undefined, 1_000)).toBe(
      200_000_000 - HEAD_ALLOWANCE_BYTES,
    );
  });

  it('keeps a body within what 2 MB/s after the first 6 MB can send before the timeout', () => {
    // 10 s left: 6 MB + 2 MB/s × 10 s = 26 MB.
    expect(streamableBytes(LAMBDA_STREAMING_DEFAULTS, 10_000)).toBe(26_000_000 - HEAD_ALLOWANCE_BYTES);
    expect(streamableBytes(LAMBDA_STREAMING_DEFAULTS, -5)).toBe(6_000_000 - HEAD_ALLOWANCE_BYTES);
  });

  it('reads the limits from configuration, AWS documented values by default', () => {
    const env = { PROXY_TABLE_MAPPING: '{"t":"s3://bucket-b/x"}' };
    expect(loadConfig({ env }).lambdaStreaming).toEqual({
      maxResponseBytes: 200_000_000,
      unthrottledBytes: 6_000_000,
      throttledBytesPerSecond: 2_000_000,
    });
    const custom = loadConfig({ env: { ...env, PROXY_LAMBDA_STREAMING: '{"maxResponseBytes":1000000}' } });
    expect(custom.lambdaStreaming.maxResponseBytes).toBe(1_000_000);
    expect(custom.lambdaStreaming.unthrottledBytes).toBe(6_000_000);
    expect(() => loadConfig({ env: { ...env, PROXY_LAMBDA_STREAMING: '{"maxResponseBytes":0}' } })).toThrow(
      /^lambdaStreaming\.maxResponseBytes: /,
    );
  });
});
