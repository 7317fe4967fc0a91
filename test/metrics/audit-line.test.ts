import { describe, expect, it } from 'vitest';
import { jsonLogger } from '../../lambda/core/logger';
import type { RequestEvent } from '../../lambda/core/observer';
import { auditLogObserver } from '../../lambda/pipeline/observe';

const event = (userAgent: string, key: string): RequestEvent => ({
  time: '2026-12-06T00:00:00.000Z',
  requestId: 'R1',
  principal: 'analyst',
  method: 'GET',
  userAgent,
  op: 'GetObject',
  key,
  status: 403,
  decision: 'deny',
  reasonClass: 'grant',
  backendMs: 0,
  backendCalls: 0,
  bytes: 0,
  durationMs: 1,
  proxied: false,
  redirected: false,
});

// Python's str.splitlines() breaks at these (and at \n, \r, \v, \f, \x1c-\x1e).
const LINE_BREAKS = /[\n\r\v\f\x1c-\x1e\u0085\u2028\u2029]/;

describe('log lines', () => {
  it('an audit line stays one line for every line splitter, whatever characters a client sent', () => {
    const lines: string[] = [];
    const observer = auditLogObserver((l) => lines.push(l));
    const agent = 'a\u2028b\u2029c\u0085d\ne\rf';
    const key = 't/x\u2028y.parquet';
    observer.record(event(agent, key));
    expect(lines[0]!.split(LINE_BREAKS)).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'audit', userAgent: agent, key });
  });

  it('an operational line too', () => {
    const lines: string[] = [];
    jsonLogger((l) => lines.push(l)).warn('odd key', { key: 'a\u2028b\u0085c' });
    expect(lines[0]!.split(LINE_BREAKS)).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', key: 'a\u2028b\u0085c' });
  });
});
