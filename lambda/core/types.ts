/**
 * The transport-agnostic request/response pair. Adapters (node:http, Lambda Function URL)
 * translate to and from these; nothing in the core knows which transport is in use.
 */

/**
 * Header names are lower-case. A repeated header is one value, its values joined with "," (as
 * Function URLs join them; the node:http adapter does the same).
 */
export type Headers = Record<string, string>;

export interface ProxyRequest {
  method: string;
  /** The path exactly as the client sent it (still percent-encoded), without the query. */
  rawPath: string;
  /** The query exactly as the client sent it, without the leading "?" ("" when absent). */
  rawQuery: string;
  headers: Headers;
  /**
   * Lower-case name → each value as received, in order, for the headers sent more than once; left
   * out when none was. SigV4 signs a repeated header from these (node:http's joined form differs).
   */
  repeatedHeaders?: ReadonlyMap<string, readonly string[]>;
  /**
   * Lower-case names of the headers the adapter's front end adds to what the client sent (a
   * Function URL's x-forwarded-*): maxHeaderBytes bounds the client's header section, not them.
   */
  addedHeaders?: readonly string[];
  body?: AsyncIterable<Uint8Array>;
  /**
   * Aborted when the client goes away; passed down to backend requests. An adapter may make it on
   * first read (a getter): pass the request on rather than copying it, and read it only when needed.
   */
  signal?: AbortSignal;
  sourceIp?: string;
  /**
   * When the response must be complete (epoch ms), where the runtime imposes one: the Lambda
   * adapter sets it from the invocation's remaining time.
   */
  deadline?: number;
  /**
   * True once the adapter has answered and recorded the request itself (node's parser refused its
   * body after the headers had reached the core): the core's answer goes nowhere and is not recorded.
   */
  readonly refusedByTransport?: boolean;
}

/** A streamed body, a small buffered body, or none (HEAD, 304, errors written by the adapter). */
export type ResponseBody = Uint8Array | string | AsyncIterable<Uint8Array>;

export interface ProxyResponse {
  status: number;
  headers: Headers;
  body?: ResponseBody;
}

/** Where the core runs, as its adapter declares it: inside Lambda, streamed responses are bounded. */
export type Runtime = 'lambda' | 'node';

/** The core as a single function; every adapter serves one of these. */
export type ProxyHandler = (req: ProxyRequest) => Promise<ProxyResponse>;

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
