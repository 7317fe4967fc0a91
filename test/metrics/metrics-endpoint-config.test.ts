/** metricsToken: validated like every setting, and never echoed back in an error. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lambda/config';

const base = { PROXY_TABLE_MAPPING: '{"t":"s3://bucket/t"}' };

describe('metricsToken', () => {
  it('is read from PROXY_METRICS_TOKEN and absent by default', () => {
    expect(loadConfig({ env: base }).metricsToken).toBeUndefined();
    const token = 'a-long-enough-token-0123';
    expect(loadConfig({ env: { ...base, PROXY_METRICS_TOKEN: token } }).metricsToken).toBe(token);
  });

  it('refuses a short or spaced token naming the field, without repeating the value', () => {
    for (const bad of ['short-tok', 'has spaces in the token value']) {
      let error: unknown;
      try {
        loadConfig({ env: { ...base, PROXY_METRICS_TOKEN: bad } });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/^metricsToken: /);
      expect((error as Error).message).not.toContain(bad);
    }
  });
});
