/**
 * A loopback HTTP relay in front of an S3-compatible backend that records what reaches "S3":
 * who asked (User-Agent), with which credentials (an Authorization header, a presigned query, or
 * both) and how many body bytes went back. The proxy's `s3.endpoint` points here, so presigned
 * URLs do too, and a client that follows a 307 shows up with everything it sent.
 *
 * S3 refuses a request that carries both a presigned query and an Authorization header ("Only one
 * auth mechanism allowed"); moto and s3rver accept it, so the relay answers as S3 does.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';

export interface RelayedRequest {
  method: string;
  /** Path without the query (a presigned query is a credential: never kept). */
  path: string;
  presigned: boolean;
  authorization: boolean;
  userAgent: string;
  range?: string;
  status?: number;
  /** Body bytes relayed back to the caller. */
  bytes: number;
}

export interface RecordingRelay {
  endpoint: string;
  requests: RelayedRequest[];
  /** Presigned requests only: what clients sent after following a redirect. */
  presignedRequests(): RelayedRequest[];
  stop(): Promise<void>;
}

const ONE_MECHANISM = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified</Message><ArgumentName>Authorization</ArgumentName></Error>`;

export async function startRecordingRelay(backend: string): Promise<RecordingRelay> {
  const target = new URL(backend);
  const requests: RelayedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const record: RelayedRequest = {
      method: req.method ?? 'GET',
      path: q < 0 ? url : url.slice(0, q),
      presigned: query.has('X-Amz-Signature') || query.has('Signature'),
      authorization: req.headers.authorization !== undefined,
      userAgent: req.headers['user-agent'] ?? '',
      range: req.headers.range,
      bytes: 0,
    };
    requests.push(record);
    if (record.presigned && record.authorization) {
      record.status = 400;
      req.resume();
      res.writeHead(400, { 'content-type': 'application/xml' }).end(ONE_MECHANISM);
      return;
    }
    const upstream = request(
      { hostname: target.hostname, port: target.port, method: req.method, path: url, headers: req.headers },
      (answer) => {
        record.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.on('data', (chunk: Buffer) => {
          record.bytes += chunk.length;
        });
        pipeline(answer, res).catch(() => answer.destroy());
      },
    );
    upstream.on('error', () => res.destroy());
    pipeline(req, upstream).catch(() => upstream.destroy());
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    presignedRequests: () => requests.filter((r) => r.presigned),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
