import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Authenticator } from '../../../lambda/auth/authenticator';
import type { Principal } from '../../../lambda/core/principal';
import { isS3Error } from '../../../lambda/core/s3-error';
import type { ProxyRequest } from '../../../lambda/core/types';

export interface Seen {
  request: ProxyRequest;
  principal?: Principal;
  error?: { status: number; code: string; message: string; extra: Record<string, string> };
}

export interface AuthServer {
  endpoint: string;
  seen: Seen[];
  close(): Promise<void>;
}

const xmlEscape = (s: string) =>
  s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  );

/** The request exactly as an adapter must hand it to the core: raw path and query, lower-case headers. */
export function toProxyRequest(req: IncomingMessage): ProxyRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return {
    method: req.method ?? 'GET',
    rawPath: q < 0 ? url : url.slice(0, q),
    rawQuery: q < 0 ? '' : url.slice(q + 1),
    headers,
  };
}

const OBJECT_BODY = 'hello';

/** Just enough of S3 for real SDKs to parse a success: bucket list, a one-object listing, a 5-byte object. */
function answer(req: ProxyRequest, res: ServerResponse, principal: Principal): void {
  res.setHeader('x-amz-request-id', 'auth-test');
  res.setHeader('x-auth-principal', principal.name);
  const segments = req.rawPath.split('/').filter((s) => s !== '');
  const xml = (body: string) => {
    res.writeHead(200, { 'content-type': 'application/xml' });
    res.end(req.method === 'HEAD' ? undefined : `<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  };
  if (segments.length === 0) {
    xml(
      '<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>proxy</ID></Owner>' +
        '<Buckets><Bucket><Name>datalake</Name><CreationDate>2024-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>',
    );
  } else if (segments.length === 1) {
    xml(
      `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xmlEscape(decodeURIComponent(segments[0]!))}</Name>` +
        '<KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>' +
        '<Contents><Key>listed.parquet</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>' +
        '<ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>' +
        '</ListBucketResult>',
    );
  } else {
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': String(OBJECT_BODY.length),
      etag: '"5d41402abc4b2a76b9719d911017c592"',
      'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT',
    });
    res.end(req.method === 'HEAD' ? undefined : OBJECT_BODY);
  }
}

/** A node:http server on 127.0.0.1 that runs every request through `authenticator` first. */
export async function startAuthServer(authenticator: Authenticator): Promise<AuthServer> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const request = toProxyRequest(req);
    const entry: Seen = { request };
    seen.push(entry);
    req.resume();
    authenticator.authenticate(request).then(
      (principal) => {
        entry.principal = principal;
        answer(request, res, principal);
      },
      (e: unknown) => {
        const status = isS3Error(e) ? e.status : 500;
        const code = isS3Error(e) ? e.code : 'InternalError';
        const message = isS3Error(e) ? e.message : 'We encountered an internal error. Please try again.';
        const extra = isS3Error(e) ? e.extra : {};
        entry.error = { status, code, message, extra };
        const extras = Object.entries(extra)
          .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
          .join('');
        res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': 'auth-test' });
        res.end(
          request.method === 'HEAD'
            ? undefined
            : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${extras}<RequestId>auth-test</RequestId></Error>`,
        );
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
