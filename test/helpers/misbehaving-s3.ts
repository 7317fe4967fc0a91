/**
 * A backend that misbehaves on purpose: a thin node:http proxy on 127.0.0.1 in front of a real
 * S3-compatible server (s3rver or moto) that records every request (with the SigV4 scope's region)
 * and can answer chosen requests itself (a 503, a 404 for a commit removed by log cleanup, a
 * wrong-region redirect), hold them until the test lets them go, and enforce the proxy
 * stack's IAM policy as S3 would: `s3:GetObject` on `bucket/prefix*` and `s3:ListBucket` with an
 * `s3:prefix` condition. Under that policy S3 answers 403 AccessDenied, not 404, for a missing key
 * (the caller has no ListBucket covering it), and 403 for a listing outside the mapped prefixes.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3Server } from './s3-servers';

export interface BackendRequest {
  method: string;
  bucket: string;
  /** Decoded object key; "" for a bucket request (a listing). */
  key: string;
  query: URLSearchParams;
  /** Path as sent, still percent-encoded. */
  path: string;
  headers: IncomingMessage['headers'];
  /** The region of the SigV4 credential scope (header or presigned query), if signed. */
  signingRegion?: string;
}

/**
 * What to do with a request: answer it here, let it through after a promise settles, send it on
 * with another query (e.g. a smaller max-keys: S3 may return fewer keys than asked), never answer
 * (`hang`: the connection stays open until the client gives up or the server stops), drop the
 * connection without an answer (`reset`), send the real answer but cut the connection after
 * `cutAfter` body bytes (its Content-Length promised more), send a body `rewrite` made of the real
 * one (with a matching Content-Length: a corrupt or truncated object that looks whole), send the
 * real answer chunked without its Content-Length (`unsized`), answer a success made here
 * (`serve`: what S3 sends and the server behind does not, e.g. one part of a multipart object),
 * or pass.
 */
export type Fault =
  | { status: number; code?: string; message?: string; headers?: Record<string, string> }
  | { serve: { status: number; headers: Record<string, string>; body: Buffer } }
  | { after: Promise<unknown> }
  | { query: URLSearchParams }
  | { hang: true }
  | { reset: true }
  | { cutAfter: number }
  | { rewrite: (body: Buffer) => Buffer; query?: URLSearchParams }
  | { unsized: true }
  | undefined;

/** The stack's policy: per bucket, the mapped prefixes ("" = the whole bucket). */
export type PrefixPolicy = Record<string, readonly string[]>;

export interface MisbehavingS3 extends S3Server {
  /** Called for every request; return a Fault to misbehave. Replace it freely between tests. */
  onRequest: (r: BackendRequest) => Fault;
  /** Every request received, in order. */
  readonly seen: BackendRequest[];
}

export function s3ErrorXml(code: string, message = code): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>misbehaving</RequestId></Error>`;
}

/** The region named by `AWS4-HMAC-SHA256 Credential=AKID/date/REGION/s3/aws4_request`. */
export function scopeRegion(credential: string | undefined | null): string | undefined {
  const parts = credential?.split('/');
  return parts && parts.length >= 5 ? parts[parts.length - 3] : undefined;
}

function parse(req: IncomingMessage): BackendRequest {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const raw = req.url ?? '/';
  const credential = /Credential=([^,\s]+)/.exec(req.headers.authorization ?? '')?.[1];
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    bucket: decodeURIComponent(bucket),
    key: decodeURIComponent(rest.join('/')),
    query: url.searchParams,
    path: raw.includes('?') ? raw.slice(0, raw.indexOf('?')) : raw,
    headers: req.headers,
    signingRegion: scopeRegion(credential ?? url.searchParams.get('X-Amz-Credential')),
  };
}

/** Why the stack's policy refuses this request, or undefined when it allows it. */
function policyRefusal(policy: PrefixPolicy, r: BackendRequest): string | undefined {
  const prefixes = policy[r.bucket];
  if (!prefixes) return 'bucket not in the policy';
  if (r.key === '') {
    if (r.method !== 'GET') return 'not a listing';
    const prefix = r.query.get('prefix') ?? '';
    return prefixes.some((p) => prefix.startsWith(p)) ? undefined : 's3:prefix condition not met';
  }
  if (r.method !== 'GET' && r.method !== 'HEAD') return 'not a read';
  return prefixes.some((p) => r.key.startsWith(p)) ? undefined : 'no s3:GetObject on the key';
}

function answer(
  res: ServerResponse,
  method: string,
  status: number,
  code?: string,
  message?: string,
  headers: Record<string, string> = {},
): void {
  const body = method === 'HEAD' || code === undefined ? '' : s3ErrorXml(code, message);
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': 'MISBEHAVING00001',
    ...headers,
  });
  res.end(body);
}

export async function startMisbehavingS3(
  upstream: S3Server | string,
  options: { policy?: PrefixPolicy } = {},
): Promise<MisbehavingS3> {
  const target = new URL(typeof upstream === 'string' ? upstream : upstream.endpoint);
  const seen: BackendRequest[] = [];
  const self: MisbehavingS3 = {
    kind: typeof upstream === 'string' ? 's3rver' : upstream.kind,
    endpoint: '',
    seen,
    onRequest: () => undefined,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    r: BackendRequest,
    query?: URLSearchParams,
    body?: { cutAfter?: number; rewrite?: (body: Buffer) => Buffer; unsized?: true },
  ) => {
    const headers = { ...req.headers, host: target.host };
    const path = query ? `${(req.url ?? '/').split('?')[0]}?${query}` : req.url;
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path, headers },
      (upRes) => {
        // Under the policy, a missing key is 403 (no ListBucket applies to a GET/HEAD of a key).
        if (options.policy && r.key !== '' && upRes.statusCode === 404) {
          upRes.resume();
          answer(res, r.method, 403, 'AccessDenied');
          return;
        }
        const status = upRes.statusCode ?? 502;
        if (body?.rewrite && status < 300) {
          const chunks: Buffer[] = [];
          upRes.on('data', (c: Buffer) => chunks.push(c));
          upRes.on('end', () => {
            const out = body.rewrite!(Buffer.concat(chunks));
            res.writeHead(status, { ...upRes.headers, 'content-length': String(out.length) });
            res.end(out);
          });
          return;
        }
        const { 'content-length': _length, ...unsized } = upRes.headers;
        res.writeHead(status, body?.unsized && status < 300 ? unsized : upRes.headers);
        if (body?.cutAfter !== undefined && status < 300) {
          let left = body.cutAfter;
          upRes.on('data', (c: Buffer) => {
            if (left > 0) res.write(c.subarray(0, left));
            left -= c.length;
            if (left <= 0) {
              upRes.destroy();
              // Flush what was written, then drop the connection mid-body.
              res.socket?.end(() => res.socket?.destroy());
            }
          });
          return;
        }
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) answer(res, r.method, 502, 'BadGateway');
      else res.destroy();
    });
    // The client left before the answer was complete: so does the request upstream (a finished
    // exchange keeps its keep-alive connection).
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  };

  const server = createServer((req, res) => {
    const r = parse(req);
    seen.push(r);
    const refusal = options.policy ? policyRefusal(options.policy, r) : undefined;
    if (refusal) {
      req.resume();
      answer(res, r.method, 403, 'AccessDenied');
      return;
    }
    const fault = self.onRequest(r);
    if (fault && 'hang' in fault) {
      req.resume();
    } else if (fault && 'reset' in fault) {
      req.socket.destroy();
    } else if (fault && ('cutAfter' in fault || 'rewrite' in fault || 'unsized' in fault)) {
      forward(req, res, r, 'query' in fault ? fault.query : undefined, fault);
    } else if (fault && 'serve' in fault) {
      req.resume();
      const { status, headers, body } = fault.serve;
      res.writeHead(status, { 'content-length': body.byteLength, ...headers });
      res.end(r.method === 'HEAD' ? undefined : body);
    } else if (fault && 'status' in fault) {
      req.resume();
      answer(res, r.method, fault.status, fault.code, fault.message, fault.headers);
    } else if (fault && 'after' in fault) {
      const go = () => forward(req, res, r);
      fault.after.then(go, go);
    } else forward(req, res, r, fault && 'query' in fault ? fault.query : undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  self.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return self;
}
