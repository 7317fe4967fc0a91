/**
 * The unhandled rejections of each test in a file (an unhandled rejection ends a real process,
 * and in Lambda every request in flight with it). The returned array is emptied before each test.
 */
import { afterEach, beforeEach } from 'vitest';

export function unhandledRejectionsPerTest(): unknown[] {
  const reasons: unknown[] = [];
  const onUnhandled = (reason: unknown) => {
    reasons.push(reason);
  };
  beforeEach(() => {
    reasons.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });
  return reasons;
}
