/** The EMF recorder on its own: what one flush writes, and that it never reaches for the network. */
import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RequestEvent } from '../../lambda/core/observer';
import { EmfMetrics } from '../../lambda/metrics/emf-metrics';
import { emfValues, parseEmfLines } from '../helpers/emf';

const event = (e: Partial<RequestEvent>) =>
  ({ op: 'GetObject', status: 200, bytes: 0, reasonClass: 'granted', ...e }) as RequestEvent;

describe('EmfMetrics', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes nothing for an invocation without requests or loads (a /metrics scrape)', () => {
    const writes: string[] = [];
    const emf = new EmfMetrics({ write: (l) => writes.push(l) });
    emf.flush();
    emf.backendCall({ operation: 'head', result: 'ok', ms: 1 });
    emf.flush();
    expect(writes).toEqual([]);
  });

  it('writes one batch per flush, groups requests by operation and status class, and starts afresh', () => {
    const writes: string[] = [];
    const emf = new EmfMetrics({ write: (l) => writes.push(l) });
    emf.request(event({ op: 'HeadObject', status: 200 }));
    emf.request(event({ op: 'HeadObject', status: 204 }));
    emf.request(event({ op: 'GetObject', status: 403, reasonClass: 'grant' }));
    emf.backendCall({ operation: 'head', result: 'ok', ms: 2.5 });
    emf.backendCall({ operation: 'get', result: 'Aborted', ms: 900 });
    emf.flush();
    expect(writes).toHaveLength(1);
    const data = parseEmfLines(writes);
    expect(emfValues(data, 'Requests', { Operation: 'HeadObject', StatusClass: '2xx' })).toEqual([2]);
    expect(emfValues(data, 'Requests', { Operation: 'GetObject', StatusClass: '4xx' })).toEqual([1]);
    expect(emfValues(data, 'Requests')).toEqual([3]);
    expect(emfValues(data, 'Denied')).toEqual([1]);
    // A call the client abandoned says nothing about the backend's latency.
    expect(emfValues(data, 'BackendLatency')).toEqual([2.5]);
    // Zero counts are left out.
    expect(data.some((d) => d.metric === 'Proxied' || d.metric === 'ServerErrors')).toBe(false);

    emf.request(event({ status: 500, reasonClass: 'internal' }));
    emf.flush();
    const second = parseEmfLines(writes.slice(1));
    expect(emfValues(second, 'Requests')).toEqual([1]);
    expect(emfValues(second, 'ServerErrors')).toEqual([1]);
  });

  it('splits an invocation of many backend calls into valid documents, counting each figure once', () => {
    const writes: string[] = [];
    const emf = new EmfMetrics({ write: (l) => writes.push(l) });
    // A cold load of a long Delta log: hundreds of backend calls in one invocation.
    for (let i = 0; i < 250; i++) emf.backendCall({ operation: 'get', result: 'ok', ms: i });
    for (let i = 0; i < 130; i++) emf.snapshotLoad({ kind: 'load', ok: true, ms: i });
    emf.request(event({ status: 200 }));
    emf.flush();
    // parseEmfLines refuses a document over 100 values per metric or 30 dimensions.
    const data = parseEmfLines(writes);
    expect(emfValues(data, 'Requests')).toEqual([1]);
    expect(emfValues(data, 'Requests', { Operation: 'GetObject', StatusClass: '2xx' })).toEqual([1]);
    expect(emfValues(data, 'BackendLatency')).toHaveLength(250);
    expect(emfValues(data, 'SnapshotLoadTime')).toHaveLength(130);
    expect(emfValues(data, 'SnapshotLoads')).toEqual([130]);
  });

  it('counts snapshot loads, cold loads, failures and failed refreshes served stale', () => {
    const writes: string[] = [];
    const emf = new EmfMetrics({ write: (l) => writes.push(l) });
    emf.snapshotLoad({ kind: 'load', ok: true, ms: 40 });
    emf.snapshotLoad({ kind: 'refresh', ok: false, ms: 7, stale: true });
    emf.snapshotLoad({ kind: 'refresh', ok: false, ms: 9 });
    emf.flush();
    const data = parseEmfLines(writes);
    expect(emfValues(data, 'SnapshotLoads')).toEqual([3]);
    expect(emfValues(data, 'SnapshotColdLoads')).toEqual([1]);
    expect(emfValues(data, 'SnapshotLoadFailures')).toEqual([2]);
    expect(emfValues(data, 'SnapshotStaleServed')).toEqual([1]);
    expect(emfValues(data, 'SnapshotLoadTime')).toEqual([40]);
  });

  it('never opens a connection, even with no EMF environment configured', async () => {
    const saved = process.env.AWS_EMF_ENVIRONMENT;
    delete process.env.AWS_EMF_ENVIRONMENT;
    const connect = vi.spyOn(Socket.prototype, 'connect');
    try {
      const emf = new EmfMetrics({ write: () => {} });
      emf.request(event({}));
      emf.snapshotLoad({ kind: 'load', ok: false, ms: 3 });
      emf.flush();
      // The library's own environment detection would probe asynchronously: give it time.
      await new Promise((r) => setTimeout(r, 100));
      expect(connect).not.toHaveBeenCalled();
    } finally {
      process.env.AWS_EMF_ENVIRONMENT = saved;
    }
  });
});
