import { describe, expect, it } from 'vitest';
import type { ProxyRequest, ProxyResponse } from '../../lambda/core/types';
import {
  ADDED_HEADERS_ALLOWANCE,
  checkRequestSize,
  DEADLINE_MARGIN_MS,
  DEFAULT_REQUEST_LIMITS,
  refuseRepeatedHeaders,
  timeBudget,
  withTimeBudget,
} from '../../lambda/pipeline/request-limits';

const request = (over: Partial<ProxyRequest> = {}): ProxyRequest => ({
  method: 'GET',
  rawPath: '/datalake/sales/x.parquet',
  rawQuery: '',
  headers: { host: '127.0.0.1' },
  ...over,
});

describe('request size limits', () => {
  const limits = { ...DEFAULT_REQUEST_LIMITS, maxUrlBytes: 100, maxHeaderBytes: 100 };

  it('counts the URL as path, "?" and query', () => {
    expect(() => checkRequestSize(request({ rawPath: `/${'a'.repeat(99)}` }), limits)).not.toThrow();
    expect(() => checkRequestSize(request({ rawPath: `/${'a'.repeat(98)}`, rawQuery: 'x' }), limits)).toThrow(
      expect.objectContaining({ code: 'InvalidURI', status: 400 }),
    );
  });

  it('counts each header as on the wire: name, ": ", value, CRLF', () => {
    // host (4) + 127.0.0.1 (9) + 4 = 17; x-pad (5) + 4 = 9 + value.
    const at = (n: number) => request({ headers: { host: '127.0.0.1', 'x-pad': 'v'.repeat(n) } });
    expect(() => checkRequestSize(at(100 - 17 - 9), limits)).not.toThrow();
    expect(() => checkRequestSize(at(100 - 17 - 9 + 1), limits)).toThrow(
      expect.objectContaining({ code: 'RequestHeaderSectionTooLarge', status: 400 }),
    );
  });
});

describe('headers the front end adds', () => {
  const limits = { ...DEFAULT_REQUEST_LIMITS, maxHeaderBytes: 1000 };
  const added = ['x-forwarded-for', 'x-amzn-trace-id'];
  const req = (xff: string) =>
    request({
      headers: {
        'x-padding': 'p'.repeat(1000 - 9 - 4),
        'x-forwarded-for': xff,
        'x-amzn-trace-id': 'Root=1-abc',
      },
      addedHeaders: added,
    });

  it("are not counted as the client's: a request at the limit with them is served", () => {
    expect(() => checkRequestSize(req('203.0.113.7'), limits)).not.toThrow();
  });

  it('count beyond a small allowance, so a client cannot inflate one of them for free', () => {
    expect(() => checkRequestSize(req('1'.repeat(ADDED_HEADERS_ALLOWANCE)), limits)).toThrow(
      expect.objectContaining({ code: 'RequestHeaderSectionTooLarge' }),
    );
  });
});

describe('time budget', () => {
  it('is the configured timeout, or less before a runtime deadline (with a margin)', () => {
    expect(timeBudget(request(), 1_000, 30_000)).toBe(30_000);
    expect(timeBudget(request({ deadline: 11_000 }), 1_000, 30_000)).toBe(10_000 - DEADLINE_MARGIN_MS);
    expect(timeBudget(request({ deadline: 1_500 }), 1_000, 30_000)).toBe(0);
  });

  it('answers 503 when the work is late, aborts its signal, and closes a body that comes later', async () => {
    let signal: AbortSignal | undefined;
    let closed = false;
    let finish!: (res: ProxyResponse) => void;
    const late = new Promise<ProxyResponse>((r) => {
      finish = r;
    });
    const answer = withTimeBudget(request(), 20, (timed) => {
      signal = timed.signal;
      return late;
    });
    await expect(answer).rejects.toMatchObject({ code: 'ServiceUnavailable', status: 503 });
    expect(signal?.aborted).toBe(true);
    const body: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ done: false, value: new Uint8Array(1) }),
        return: async () => {
          closed = true;
          return { done: true, value: undefined };
        },
      }),
    };
    finish({ status: 200, headers: {}, body });
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(true);
  });

  it('passes the answer through in time, and a client leaving still aborts the signal afterwards', async () => {
    const client = new AbortController();
    let signal: AbortSignal | undefined;
    const res = await withTimeBudget(request({ signal: client.signal }), 1_000, async (timed) => {
      signal = timed.signal;
      return { status: 200, headers: {} };
    });
    expect(res.status).toBe(200);
    expect(signal?.aborted).toBe(false);
    client.abort();
    expect(signal?.aborted).toBe(true);
  });

  it('a late failure is observed, not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      let fail!: (e: Error) => void;
      const answer = withTimeBudget(
        request(),
        10,
        () =>
          new Promise<ProxyResponse>((_, reject) => {
            fail = reject;
          }),
      );
      await expect(answer).rejects.toMatchObject({ code: 'ServiceUnavailable' });
      fail(new Error('backend gave up later'));
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('repeated headers', () => {
  const repeated = (entries: Array<[string, string[]]>) => request({ repeatedHeaders: new Map(entries) });

  it('refuses a second Host or Authorization header as 400 InvalidArgument naming it', () => {
    expect(() => refuseRepeatedHeaders(repeated([['host', ['a', 'b']]]))).toThrow(
      expect.objectContaining({ code: 'InvalidArgument', status: 400, extra: { ArgumentName: 'Host' } }),
    );
    expect(() => refuseRepeatedHeaders(repeated([['authorization', ['a', 'a']]]))).toThrow(
      expect.objectContaining({ code: 'InvalidArgument', extra: { ArgumentName: 'Authorization' } }),
    );
  });

  it('refuses a Host joined from two lines by a Function URL', () => {
    expect(() => refuseRepeatedHeaders(request({ headers: { host: '127.0.0.1,evil.example' } }))).toThrow(
      expect.objectContaining({ code: 'InvalidArgument', extra: { ArgumentName: 'Host' } }),
    );
  });

  it('lets other headers repeat (SigV4 signs them joined)', () => {
    expect(() => refuseRepeatedHeaders(repeated([['x-amz-meta-a', ['1', '2']]]))).not.toThrow();
    expect(() => refuseRepeatedHeaders(request())).not.toThrow();
  });
});
