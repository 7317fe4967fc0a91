/**
 * Requests a transport refused before the core saw them (node:http's parser: a request line or
 * header section it cannot read, CONNECT). The adapter answers them with S3 XML; they are recorded
 * here like any other refusal, so that a flood of them shows in the metrics and the audit line.
 * (Behind a Function URL such requests never reach the function.)
 */
import type { Observer } from '../core/observer';
import { ANONYMOUS } from '../core/principal';
import { type S3ErrorCode, S3ErrorCodes } from '../core/s3-error';
import type { Clock } from '../core/types';

export interface TransportRefusal {
  /** The request id the answer carries. */
  requestId: string;
  code: Extract<
    S3ErrorCode,
    'InvalidRequest' | 'MethodNotAllowed' | 'RequestHeaderSectionTooLarge' | 'RequestTimeout'
  >;
  /** Why, for the audit line (e.g. the parser's error code). */
  reason: string;
  /** The method, when the transport could read it. */
  method?: string;
  sourceIp?: string;
  /** Body bytes of the answer. */
  bytes: number;
}

export function transportRefusals(observer: Observer, clock: Clock): (refusal: TransportRefusal) => void {
  return (r) =>
    observer.record({
      time: new Date(clock.now()).toISOString(),
      requestId: r.requestId,
      principal: ANONYMOUS.name,
      method: (r.method ?? '').slice(0, 16),
      sourceIp: r.sourceIp,
      op: 'Unknown',
      status: S3ErrorCodes[r.code][0],
      code: r.code,
      reason: r.reason.slice(0, 200),
      decision: 'deny',
      reasonClass: 'request',
      backendMs: 0,
      backendCalls: 0,
      bytes: r.bytes,
      durationMs: 0,
      proxied: false,
      redirected: false,
    });
}
