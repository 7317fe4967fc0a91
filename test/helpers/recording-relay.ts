/**
 * A loopback HTTP relay in front of an S3-compatible backend that records what reaches "S3":
 * who asked (User-Agent), with which credentials (an Authorization header, a presigned query, or
 * both) and how many body bytes went back. The proxy's `s3.endpoint` points here, so presigned
 * URLs do too, and a client that follows a 307 shows up with everything it sent.
 *
 * Rules of S3 that moto and s3rver do not enforce, so the relay answers as S3 does:
 * - a request may not carry both a presigned query and an Authorization header: 400
 *   InvalidArgument "Only one auth mechanism allowed" (DESIGN §6);
 * - an `x-amz-date` header on a presigned request makes S3 compute another string to sign: 403
 *   SignatureDoesNotMatch, "If I delete the x-amz-date header and follow the redirect [...] I get
 *   a proper response" (aws/aws-sdk-js#1908, a 303 to a presigned GetObject URL);
 * - any other x-amz-* header must be among X-Amz-SignedHeaders: 403 AccessDenied "There were
 *   headers present in the request which were not signed" (S3's query-string authentication;
 *   reported for x-amz-acl and the SSE headers: ex-aws/ex_aws#335, soto-project/soto#374), except
 *   x-amz-content-sha256, which S3 tolerates unsigned (demarche-numerique/ds_proxy#164).
 * - with `verifyPresigned` (the backend's keys), a presigned request's signature must verify, as
 *   S3 checks it and s3rver does not (it accepts any SigV4 signature): 403
 *   SignatureDoesNotMatch otherwise. The proxy's own SigV4 verifier recomputes it.
 * - with `sseCustomer`, objects stored with a customer-provided key (SSE-C), which neither s3rver
 *   nor moto implements: a GET or HEAD of one needs the x-amz-server-side-encryption-customer-*
 *   headers with that key (400 InvalidRequest without them, 403 AccessDenied with another key,
 *   400 InvalidArgument when the key's MD5 is not the one sent), and any other object refuses
 *   them (400 InvalidRequest), as S3 answers (AWS: "Specifying server-side encryption with
 *   customer-provided keys").
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { StaticCredentialStore } from '../../lambda/auth/credential-store';
import { SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { isS3Error } from '../../lambda/core/s3-error';
import type { Headers } from '../../lambda/core/types';

export interface RelayedRequest {
  method: string;
  /** Path without the query (a presigned query is a credential: never kept). */
  path: string;
  presigned: boolean;
  /** Names of the query parameters (never their values: a presigned query is a credential). */
  params: string[];
  authorization: boolean;
  /** Names of the x-amz-* headers sent. */
  amzHeaders: string[];
  /** Of those, on a presigned request, the ones S3 refuses because they are not signed. */
  unsignedAmzHeaders: string[];
  userAgent: string;
  range?: string;
  status?: number;
  /** With `verifyPresigned`: the S3 error code a presigned request's signature check gave. */
  signatureRefused?: string;
  /** Body bytes relayed back to the caller. */
  bytes: number;
  /** The SSE-C algorithm and key MD5 sent (never the key). */
  sseCustomer?: { algorithm?: string; keyMd5?: string };
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

const SIGNATURE_MISMATCH = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message></Error>`;

// S3 requires x-amz-content-sha256 on header-signed requests and tolerates it unsigned on
// presigned ones (curl users add it by hand; it then travels with curl -L).
const TOLERATED = new Set(['x-amz-content-sha256']);

const headersNotSigned = (names: string[]) => `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>There were headers present in the request which were not signed</Message><HeadersNotSigned>${names.join(', ')}</HeadersNotSigned></Error>`;

export interface RelayOptions {
  /** The backend's access key: presigned requests must carry a signature it verifies. */
  verifyPresigned?: { accessKeyId: string; secretAccessKey: string };
  /** Objects (backend paths, `/bucket/key`) stored with SSE-C, and the MD5 of their key (base64). */
  sseCustomer?: { paths: Set<string>; keyMd5: string };
}

const SSE_ALGORITHM = 'x-amz-server-side-encryption-customer-algorithm';
const SSE_KEY = 'x-amz-server-side-encryption-customer-key';
const SSE_KEY_MD5 = 'x-amz-server-side-encryption-customer-key-md5';

const s3Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

/** S3's SSE-C answer for a GET or HEAD of `path`, or undefined when it serves the object. */
function sseCustomerRefusal(
  req: IncomingMessage,
  path: string,
  options: RelayOptions['sseCustomer'],
): { status: number; body: string } | undefined {
  if (!options || (req.method !== 'GET' && req.method !== 'HEAD')) return undefined;
  const key = req.headers[SSE_KEY];
  const md5 = req.headers[SSE_KEY_MD5];
  const sent = req.headers[SSE_ALGORITHM] !== undefined || key !== undefined || md5 !== undefined;
  if (!options.paths.has(path)) {
    return sent
      ? {
          status: 400,
          body: s3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.'),
        }
      : undefined;
  }
  if (!sent)
    return {
      status: 400,
      body: s3Error(
        'InvalidRequest',
        'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.',
      ),
    };
  const keyBytes = Buffer.from(typeof key === 'string' ? key : '', 'base64');
  if (createHash('md5').update(keyBytes).digest('base64') !== md5)
    return {
      status: 400,
      body: s3Error(
        'InvalidArgument',
        'The calculated MD5 hash of the key did not match the hash that was provided.',
      ),
    };
  if (md5 !== options.keyMd5) return { status: 403, body: s3Error('AccessDenied', 'Access Denied') };
  return undefined;
}

/** The headers a presigned request signed (SignedHeaders), for the verifier. */
function signedHeadersOf(req: IncomingMessage, query: URLSearchParams): Headers {
  const out: Headers = {};
  for (const name of (query.get('X-Amz-SignedHeaders') ?? '').toLowerCase().split(';')) {
    const value = req.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

export async function startRecordingRelay(
  backend: string,
  options: RelayOptions = {},
): Promise<RecordingRelay> {
  const target = new URL(backend);
  const requests: RelayedRequest[] = [];
  const verifier =
    options.verifyPresigned &&
    new SigV4Authenticator({
      credentials: new StaticCredentialStore([{ ...options.verifyPresigned, principal: 'backend' }]),
      clock: { now: () => Date.now() },
      allowAnonymous: false,
    });
  /** The S3 error code of a presigned request whose signature does not verify. */
  const signatureRefusal = async (req: IncomingMessage, url: string, query: URLSearchParams) => {
    if (!verifier || !query.has('X-Amz-Signature')) return undefined;
    const q = url.indexOf('?');
    try {
      await verifier.authenticate({
        method: req.method ?? 'GET',
        rawPath: url.slice(0, q),
        rawQuery: url.slice(q + 1),
        headers: signedHeadersOf(req, query),
      });
      return undefined;
    } catch (err) {
      return isS3Error(err) ? err.code : 'InternalError';
    }
  };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const record: RelayedRequest = {
      method: req.method ?? 'GET',
      path: q < 0 ? url : url.slice(0, q),
      presigned: query.has('X-Amz-Signature') || query.has('Signature'),
      params: [...new Set(query.keys())],
      authorization: req.headers.authorization !== undefined,
      amzHeaders: Object.keys(req.headers)
        .filter((h) => h.startsWith('x-amz-'))
        .sort(),
      unsignedAmzHeaders: [],
      userAgent: req.headers['user-agent'] ?? '',
      range: req.headers.range,
      bytes: 0,
    };
    const sseAlgorithm = req.headers[SSE_ALGORITHM];
    const sseKeyMd5 = req.headers[SSE_KEY_MD5];
    if (typeof sseAlgorithm === 'string' || typeof sseKeyMd5 === 'string')
      record.sseCustomer = {
        algorithm: typeof sseAlgorithm === 'string' ? sseAlgorithm : undefined,
        keyMd5: typeof sseKeyMd5 === 'string' ? sseKeyMd5 : undefined,
      };
    requests.push(record);
    if (record.presigned) {
      const signed = new Set((query.get('X-Amz-SignedHeaders') ?? '').toLowerCase().split(';'));
      record.unsignedAmzHeaders = record.amzHeaders.filter((h) => !signed.has(h) && !TOLERATED.has(h));
    }
    record.signatureRefused = await signatureRefusal(req, url, query);
    const refusal =
      record.presigned && record.authorization
        ? { status: 400, body: ONE_MECHANISM }
        : record.unsignedAmzHeaders.includes('x-amz-date') || record.signatureRefused
          ? { status: 403, body: SIGNATURE_MISMATCH }
          : record.unsignedAmzHeaders.length > 0
            ? { status: 403, body: headersNotSigned(record.unsignedAmzHeaders) }
            : sseCustomerRefusal(req, record.path, options.sseCustomer);
    if (refusal) {
      record.status = refusal.status;
      req.resume();
      res.writeHead(refusal.status, { 'content-type': 'application/xml' });
      res.end(req.method === 'HEAD' ? undefined : refusal.body);
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
