/**
 * The simple alternative to the proxy's 307 path, for `getmodes`: a node:http server that does the
 * same job with the AWS SDK's own parts and nothing else. It verifies a request's SigV4 header by
 * signing the request again with @smithy/signature-v4 (the signed headers only, the claimed date,
 * a 15-minute skew), maps the virtual key to the backend's, presigns a GET with
 * @aws-sdk/s3-request-presigner and answers 307. No grants, no audit line, no metrics: what a
 * careful engineer would write first for "verify, then redirect".
 *
 * argv[2]: JSON { keys: [{accessKeyId, secretAccessKey}], backend: {endpoint, region, accessKeyId,
 * secretAccessKey}, tables: {alias: "s3://bucket/prefix"} }. Prints "READY <url>".
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 as Sha256 } from '../../test/helpers/node-sha256';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  keys: { accessKeyId: string; secretAccessKey: string }[];
  backend: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  tables: Record<string, string>;
};
const backend = new URL(args.backend.endpoint);
const presigner = new S3RequestPresigner({
  credentials: { accessKeyId: args.backend.accessKeyId, secretAccessKey: args.backend.secretAccessKey },
  region: args.backend.region,
  sha256: Sha256,
});
const signers = new Map<string, SignatureV4>();
const signerFor = (accessKeyId: string, region: string): SignatureV4 | undefined => {
  const key = args.keys.find((k) => k.accessKeyId === accessKeyId);
  if (!key) return undefined;
  const id = `${accessKeyId}/${region}`;
  let signer = signers.get(id);
  if (!signer) {
    signer = new SignatureV4({
      credentials: key,
      region,
      service: 's3',
      sha256: Sha256,
      uriEscapePath: false,
    });
    signers.set(id, signer);
  }
  return signer;
};
const tables = new Map(
  Object.entries(args.tables).map(([alias, uri]) => {
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri)!;
    return [alias, { bucket: m[1]!, prefix: m[2] ? `${m[2].replace(/\/$/, '')}/` : '' }];
  }),
);
const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

async function verify(
  method: string,
  rawPath: string,
  headers: Record<string, string | string[] | undefined>,
) {
  const m = AUTH.exec(String(headers.authorization ?? ''));
  const amzDate = String(headers['x-amz-date'] ?? '');
  if (!m || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== m[2]) return false;
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  if (Math.abs(Date.now() - signingDate.getTime()) > 15 * 60_000) return false;
  const signer = signerFor(m[1]!, m[3]!);
  if (!signer) return false;
  const signedHeaders: Record<string, string> = {};
  for (const name of m[4]!.split(';')) signedHeaders[name] = String(headers[name] ?? '');
  const signed = await signer.sign(
    { method, protocol: 'http:', hostname: 'x', path: rawPath, query: {}, headers: signedHeaders },
    { signingDate },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization))![1]!;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(m[5]!));
}

const server = createServer((req, res) => {
  const rawPath = (req.url ?? '/').split('?')[0]!;
  verify(req.method ?? 'GET', rawPath, req.headers)
    .then(async (ok) => {
      const [, bucket, alias, ...rest] = rawPath.split('/');
      const table = tables.get(alias ?? '');
      if (!ok || bucket !== 'datalake' || !table || rest.length === 0) {
        res
          .writeHead(403, { 'content-type': 'application/xml' })
          .end('<Error><Code>AccessDenied</Code></Error>');
        return;
      }
      const key = decodeURIComponent(rest.join('/'));
      const presigned = await presigner.presign(
        {
          method: 'GET',
          protocol: backend.protocol,
          hostname: backend.hostname,
          port: Number(backend.port),
          path: `/${table.bucket}/${table.prefix}${key}`,
          query: { 'x-id': 'GetObject' },
          headers: { host: backend.host },
        },
        { expiresIn: 3600 },
      );
      const query = Object.entries(presigned.query ?? {})
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
        .join('&');
      const path = presigned.path.split('/').map(encodeURIComponent).join('/');
      res.writeHead(307, { location: `${backend.origin}${path}?${query}`, 'content-length': '0' }).end();
    })
    .catch(() => res.writeHead(500).end());
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () =>
  process.stdout.write(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}\n`),
);
process.on('SIGTERM', () => process.exit(0));
