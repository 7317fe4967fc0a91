/**
 * Raw HTTP requests signed with SigV4 (@smithy/signature-v4), for tests that must control the
 * exact path, query and headers on the wire and compare answers byte for byte.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from './node-sha256';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text: string;
}

/** Encodes a key for a path the way the AWS SDKs do: each segment percent-encoded, "/" kept. */
export function encodeKeyPath(key: string): string {
  return key
    .split('/')
    .map((s) =>
      encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join('/');
}

export function encodeQuery(params: Record<string, string | undefined>): string {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v!)}`)
    .join('&');
}

/** SigV4 headers for a request (UNSIGNED-PAYLOAD), as an SDK would send them. */
export async function signHeaders(
  endpoint: string,
  method: string,
  rawPath: string,
  rawQuery: string,
  headers: Record<string, string>,
  credentials: Credentials,
  region = 'us-east-1',
  /** Sign as of this time (a proxy running on an injected clock checks skew against it). */
  signingDate?: Date,
): Promise<Record<string, string>> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    credentials,
    region,
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const query: Record<string, string | string[]> = {};
  for (const part of rawQuery ? rawQuery.split('&') : []) {
    // At the first '=' only: a value may hold more (prefix=sales/region=EU/).
    const eq = part.indexOf('=');
    const name = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    const prev = query[name];
    query[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  const signed = await signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: rawPath,
      query,
      headers: { ...headers, host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    signingDate ? { signingDate } : {},
  );
  return signed.headers as Record<string, string>;
}

export async function signedFetch(
  endpoint: string,
  method: string,
  rawPath: string,
  rawQuery = '',
  headers: Record<string, string> = {},
  credentials: Credentials | undefined = {
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'secret-example-key',
  },
  region = 'us-east-1',
  signingDate?: Date,
): Promise<RawResponse> {
  const url = new URL(endpoint);
  const sendHeaders = credentials
    ? await signHeaders(endpoint, method, rawPath, rawQuery, headers, credentials, region, signingDate)
    : { ...headers, host: url.host };
  const { host: _host, ...fetchHeaders } = sendHeaders;
  const res = await fetch(`${url.origin}${rawPath}${rawQuery ? `?${rawQuery}` : ''}`, {
    method,
    headers: fetchHeaders,
    redirect: 'manual',
    // A bound against a hang, not a check (a test's own timeout usually ends it first): a first
    // request that loads a 200,000-path history (cdc-listing-loop) took over 30 s in a CI run at
    // load 20.
    signal: AbortSignal.timeout(150_000),
  });
  const body = Buffer.from(await res.arrayBuffer());
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    out[k] = v;
  });
  return { status: res.status, headers: out, body, text: body.toString('utf8') };
}
