import { describe, expect, it } from 'vitest';
import { createProxy } from '../../lambda/bootstrap';
import { loadConfig } from '../../lambda/config';
import { jsonLogger } from '../../lambda/core/logger';
import {
  compileRedirectClients,
  DEFAULT_REDIRECT_CLIENTS,
  followsRedirects,
  shouldRedirect,
} from '../../lambda/s3/redirect-policy';

const defaults = compileRedirectClients(DEFAULT_REDIRECT_CLIENTS);
const presigned = { getMode: 'presignedUrl' as const, proxyPartial: false, redirectClients: defaults };

// User-Agents as these clients sent them to the proxy (test/integration/redirect-compatibility.test.ts).
const BOTO3 =
  'Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.18.44 md/arch#x86_64 lang/python#3.11.7 cfg/retry-mode#legacy Botocore/1.43.11';
const POLARS = 'polars/1.44.2';

describe('redirect policy', () => {
  it('redirects the client helper by default and proxies everyone else', () => {
    expect(shouldRedirect({ 'user-agent': `delta-proxy-client/0.1.0 ${BOTO3}` }, presigned)).toBe(true);
    // polars and object_store follow a 307 but keep their x-amz-date: S3 refuses the URL.
    expect(shouldRedirect({ 'user-agent': POLARS }, presigned)).toBe(false);
    expect(shouldRedirect({ 'user-agent': 'object_store/0.12.3' }, presigned)).toBe(false);
    expect(shouldRedirect({ 'user-agent': BOTO3 }, presigned)).toBe(false);
    expect(shouldRedirect({ 'user-agent': 'aws-sdk-js/3.1175.0' }, presigned)).toBe(false);
    expect(shouldRedirect({}, presigned)).toBe(false);
  });

  it('never redirects in proxy mode, nor Range requests with proxyPartial', () => {
    const HELPER = `delta-proxy-client/0.1.0 ${BOTO3}`;
    expect(shouldRedirect({ 'user-agent': HELPER }, { ...presigned, getMode: 'proxy' })).toBe(false);
    const ranged = { 'user-agent': HELPER, range: 'bytes=0-3' };
    expect(shouldRedirect(ranged, { ...presigned, proxyPartial: true })).toBe(false);
    expect(shouldRedirect(ranged, presigned)).toBe(true);
    // A Range the proxy would serve whole (several ranges, another unit, empty) is no partial read.
    for (const range of ['bytes=0-1,4-5', 'items=0-3', '', 'bytes=9-5'])
      expect([range, shouldRedirect({ ...ranged, range }, { ...presigned, proxyPartial: true })]).toEqual([
        range,
        true,
      ]);
    expect(shouldRedirect({ ...ranged, range: 'bytes=-0' }, { ...presigned, proxyPartial: true })).toBe(
      false,
    );
  });

  it('uses the configured patterns instead of the defaults', () => {
    const config = loadConfig({
      env: {
        PROXY_TABLE_MAPPING: '{"t":"s3://bucket-b/x"}',
        PROXY_REDIRECT_CLIENTS: '["^curl/", "MyReader"]',
      },
    });
    const own = compileRedirectClients(config.redirectClients);
    expect(followsRedirects({ 'user-agent': 'curl/7.88.1' }, own)).toBe(true);
    expect(followsRedirects({ 'user-agent': 'x MyReader/2' }, own)).toBe(true);
    expect(followsRedirects({ 'user-agent': POLARS }, own)).toBe(false);
    expect(followsRedirects({ 'user-agent': POLARS }, [])).toBe(false);
  });

  it('matches only the first 512 characters of a User-Agent', () => {
    const tail = compileRedirectClients(['Follower/']);
    expect(followsRedirects({ 'user-agent': `${'x'.repeat(600)} Follower/1` }, tail)).toBe(false);
    expect(followsRedirects({ 'user-agent': `${'x'.repeat(400)} Follower/1` }, tail)).toBe(true);
  });

  it('defaults to the measured list and refuses a pattern that is not a regular expression', () => {
    const base = { PROXY_TABLE_MAPPING: '{"t":"s3://bucket-b/x"}' };
    expect(loadConfig({ env: base }).redirectClients).toEqual(DEFAULT_REDIRECT_CLIENTS);
    expect(() => loadConfig({ env: { ...base, PROXY_REDIRECT_CLIENTS: '["^ok/", "(unclosed"]' } })).toThrow(
      /^redirectClients\[1\]: must be a JavaScript regular expression/,
    );
    expect(() => loadConfig({ env: { ...base, PROXY_REDIRECT_CLIENTS: '["^ok/", ""]' } })).toThrow(
      /^redirectClients\[1\]: /,
    );
  });

  it('warns at start-up about a pattern that matches every User-Agent, even none (a stray "|" or "*")', () => {
    const base = { PROXY_TABLE_MAPPING: '{"t":"s3://bucket-b/x"}', PROXY_S3: '{"region":"us-east-1"}' };
    const started = (patterns: string[]) => {
      const lines: string[] = [];
      const env = { ...base, PROXY_REDIRECT_CLIENTS: JSON.stringify(patterns) };
      createProxy(loadConfig({ env }), { logger: jsonLogger((l) => lines.push(l)), processMetrics: false });
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    expect(started(['^delta-proxy-client/|^MyReader/', '^polars/|', 'x*'])).toEqual([
      expect.objectContaining({ level: 'warn', field: 'redirectClients[1]', pattern: '^polars/|' }),
      expect.objectContaining({ level: 'warn', field: 'redirectClients[2]', pattern: 'x*' }),
    ]);
    // "." (every client that names itself, as the compatibility measurement uses) is deliberate.
    expect(started(['^delta-proxy-client/', '.'])).toEqual([]);
  });
});
