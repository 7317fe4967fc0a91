/**
 * Function URL payload v2 → ProxyRequest. The raw path and raw query are passed through
 * untouched, so SigV4 canonical requests built from them still match the client's signature.
 *
 * Function URLs hand over `rawPath` exactly as the client sent it, percent-encoding intact
 * (%20, %2F, %3D, %25, UTF-8 escapes), and put the decoded path in `requestContext.http.path`,
 * which is never used here. Evidence: live captures by hotsock/voker
 * (vokerhttp/testdata/functionurl-request.json: `"rawPath": "/capture/space%20value"` beside
 * `"path": "/capture/space value"`; vokerhttp/testdata/ingress-paths.json: %2F, %3F, %23, %25,
 * %252F and unicode preserved by Function URLs, REST APIs and ALB). So lambda/auth's
 * reencodeDecodedPath() must not be applied: re-encoding an encoded path would double it.
 *
 * Remaining ambiguity: an API Gateway HTTP API (payload 2.0 too) delivers `rawPath` decoded
 * (fastify/aws-lambda-fastify#169: `/a%2Fb` as `/a/b`; voker: `%252F` even as `/`). From a
 * decoded path neither `%2F` vs `/` nor `%25xx` vs `%xx` can be recovered, so this adapter
 * supports Function URLs only (the stack deploys nothing else); behind an HTTP API, requests
 * whose path holds such characters fail SigV4 (403), the safe direction, never another key.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import type { Headers, ProxyRequest } from '../core/types';

/**
 * Whether an invocation's event is an HTTP request from a Function URL (payload 2.0). Anyone with
 * lambda:InvokeFunction may send anything else (a console test event, a queue's batch).
 */
export function isFunctionUrlEvent(event: unknown): event is LambdaFunctionURLEvent {
  const e = event as Partial<LambdaFunctionURLEvent> | null | undefined;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.requestContext?.http?.method === 'string' &&
    (e.rawPath === undefined || typeof e.rawPath === 'string') &&
    (e.headers === undefined || (typeof e.headers === 'object' && e.headers !== null))
  );
}

/**
 * Headers a Function URL adds to every event (AWS's payload examples; live captures): the same
 * request must meet maxHeaderBytes here as it does through node:http.
 */
const FUNCTION_URL_HEADERS: readonly string[] = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-amzn-trace-id',
];

/**
 * A header sent more than once arrives joined with "," (no `repeatedHeaders`): with values trimmed
 * by the front end, that is already the form SigV4 signs it in.
 */
export function toProxyRequest(event: LambdaFunctionURLEvent, signal?: AbortSignal): ProxyRequest {
  const headers: Headers = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  // Function URLs list cookies in `cookies` and (seen live) keep the header too; rebuild it only
  // where an event carries the list alone.
  if (headers.cookie === undefined && event.cookies?.length) headers.cookie = event.cookies.join('; ');

  const request: ProxyRequest = {
    method: event.requestContext.http.method.toUpperCase(),
    rawPath: event.rawPath || '/',
    rawQuery: event.rawQueryString ?? '',
    headers,
    addedHeaders: FUNCTION_URL_HEADERS,
    sourceIp: event.requestContext.http.sourceIp,
  };
  if (signal) request.signal = signal;
  if (event.body !== undefined && event.body !== null && event.body !== '') {
    const bytes = Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
    request.body = oneChunk(bytes);
  }
  return request;
}

async function* oneChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
