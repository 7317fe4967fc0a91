/**
 * The local server's metrics port has no authentication: it warns at start when its host is not
 * loopback (SECURITY.md, gap 13).
 */
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, metricsExposureWarning } from '../../lambda/adapters/metrics-listener';

describe('metricsExposureWarning', () => {
  it('is silent on loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', 'LOCALHOST'])
      expect([host, metricsExposureWarning(host)]).toEqual([host, undefined]);
  });

  it('warns for any other host, naming it', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'proxy.internal', '128.0.0.1', '127.0.0.1.nip.io']) {
      expect(isLoopbackHost(host)).toBe(false);
      expect(metricsExposureWarning(host)).toContain(`answers on ${host} without authentication`);
    }
  });
});
