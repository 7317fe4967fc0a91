/**
 * A small S3 front on 127.0.0.1 that forwards every request to a real S3-compatible server
 * (s3rver, moto) byte for byte, records what it saw (method, path, query, headers, the SigV4
 * credential scope), and answers S3-style XML errors instead wherever a test's fault rule says
 * so: a backend that misbehaves on purpose (throttling, outages, refusals, wrong-region
 * redirects), with everything else served by the real server behind it.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SeenRequest {
  method: string;
  /** Path as sent, still percent-encoded. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The region of the SigV4 credential scope (header or presigned query), if signed. */
  signingRegion?: string;
}

export interface Fault {
  /** 0: the connection is dropped without an answer. */
  status: number;
  /** S3 error code for the XML body; no body when undefined (e.g. a HEAD). */
  code?: string;
  message?: string;
  headers?: Record<string, string>;
}

/** Returns the fault to answer with, or undefined to forward the request. */
export type FaultRule = (req: SeenRequest) => Fault | undefined;

export interface S3Front {
  endpoint: string;
  seen: SeenRequest[];
  /** Fault rules, first match wins; edit freely between requests. */
  rules: FaultRule[];
  stop(): Promise<void>;
}

/** The region named by `AWS4-HMAC-SHA256 Credential=AKID/date/REGION/s3/aws4_request`. */
export function scopeRegion(credential: string | undefined | null): string | undefined {
  const parts = credential?.split('/');
  return parts && parts.length >= 5 ? parts[parts.length - 3] : undefined;
}

function seenOf(req: IncomingMessage): SeenRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const auth = /Credential=([^,\s]+)/.exec(req.headers.authorization ?? '')?.[1];
  return {
    method: req.method ?? 'GET',
    path: q < 0 ? url : url.slice(0, q),
    query,
    headers: req.headers,
    signingRegion: scopeRegion(auth ?? query.get('X-Amz-Credential')),
  };
}

function errorXml(fault: Fault): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${fault.code}</Code><Message>${fault.message ?? fault.code}</Message>` +
    '<RequestId>FRONTFAULT000001</RequestId><HostId>front</HostId></Error>'
  );
}

export async function startS3Front(target: string): Promise<S3Front> {
  const upstream = new URL(target);
  const seen: SeenRequest[] = [];
  const rules: FaultRule[] = [];
  const server = createServer((req, res) => {
    const info = seenOf(req);
    seen.push(info);
    const fault = rules.map((rule) => rule(info)).find((f) => f !== undefined);
    if (fault?.status === 0) {
      req.socket.destroy();
      return;
    }
    if (fault) {
      req.resume();
      const body = fault.code && req.method !== 'HEAD' ? errorXml(fault) : '';
      res.writeHead(fault.status, {
        'content-type': 'application/xml',
        'content-length': String(Buffer.byteLength(body)),
        'x-amz-request-id': 'FRONTFAULT000001',
        ...fault.headers,
      });
      res.end(body);
      return;
    }
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    rules,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** S3's answer to a request signed for the wrong region: 301 naming the bucket's region. */
export function wrongRegion(bucketRegion: string): Fault {
  return {
    status: 301,
    code: 'PermanentRedirect',
    message:
      'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
    headers: { 'x-amz-bucket-region': bucketRegion },
  };
}
