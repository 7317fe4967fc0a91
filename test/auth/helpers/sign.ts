import { SignatureV4 } from '@smithy/signature-v4';
import type { ProxyRequest } from '../../../lambda/core/types';
import { NodeSha256 } from '../../helpers/node-sha256';

export const KEY = {
  accessKeyId: 'AKIDTESTPROXY',
  secretAccessKey: 'proxy-test-secret/+=value',
  principal: 'analyst-eu',
};

/** RFC 3986 escaping, as the AWS SDKs escape query names, values and key segments. */
export function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** An S3 key as the SDKs put it in a path: each segment escaped once, slashes kept. */
export function keyPath(bucket: string, key: string): string {
  return `/${bucket}/${key.split('/').map(escapeUri).join('/')}`;
}

export interface SignOptions {
  method?: string;
  /** Already escaped, as it goes on the wire. */
  path: string;
  /** Decoded names and values; arrays repeat a name. */
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  region?: string;
  date: Date;
  key?: { accessKeyId: string; secretAccessKey: string };
  payloadHash?: string;
}

function rawQueryOf(query: Record<string, string | string[]>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${escapeUri(name)}=${escapeUri(v)}`);
  }
  return parts.join('&');
}

function signer(opts: SignOptions): SignatureV4 {
  return new SignatureV4({
    service: 's3',
    region: opts.region ?? 'us-east-1',
    credentials: opts.key ?? KEY,
    sha256: NodeSha256,
    uriEscapePath: false,
  });
}

/** Signs with @smithy/signature-v4 (the JS SDK's signer) in the Authorization header. */
export async function signHeader(opts: SignOptions): Promise<ProxyRequest> {
  const headers: Record<string, string> = {
    host: '127.0.0.1:9000',
    'x-amz-content-sha256':
      opts.payloadHash ?? 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    ...opts.headers,
  };
  const signed = await signer(opts).sign(
    {
      method: opts.method ?? 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path: opts.path,
      query: opts.query ?? {},
      headers,
    },
    { signingDate: opts.date },
  );
  return {
    method: signed.method,
    rawPath: opts.path,
    rawQuery: rawQueryOf(opts.query ?? {}),
    headers: Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

/** Presigns with @smithy/signature-v4 (the JS SDK's presigner core). */
export async function presign(opts: SignOptions & { expiresIn: number }): Promise<ProxyRequest> {
  const signed = await signer(opts).presign(
    {
      method: opts.method ?? 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path: opts.path,
      query: opts.query ?? {},
      // As @aws-sdk/s3-request-presigner does: the header is hoisted into the query.
      headers: { host: '127.0.0.1:9000', 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD', ...opts.headers },
    },
    { signingDate: opts.date, expiresIn: opts.expiresIn },
  );
  return {
    method: signed.method,
    rawPath: opts.path,
    rawQuery: rawQueryOf(signed.query as Record<string, string | string[]>),
    headers: Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

export function fixedClock(ms: number): { now(): number; set(ms: number): void } {
  let now = ms;
  return {
    now: () => now,
    set: (next: number) => {
      now = next;
    },
  };
}
