/**
 * Names what a request is before any handler runs (gaul/s3proxy's S3Operation, minio's route
 * table): specific query matches first, then the fallback. Path-style addressing only.
 */

import { parseRawQuery } from '../core/raw-query';
import { S3Error } from '../core/s3-error';
import type { ProxyRequest } from '../core/types';
import { OVERRIDES } from './get-object';
import { assertSafeKey, decodeComponent, VIRTUAL_BUCKET } from './virtual-key';

export type S3Operation =
  | 'ListBuckets'
  | 'HeadBucket'
  | 'GetBucketLocation'
  | 'ListObjectsV2'
  | 'ListObjects'
  | 'GetObject'
  | 'HeadObject';

export interface S3Route {
  op: S3Operation;
  /** Decoded object key (GetObject/HeadObject). */
  key?: string;
  /** The part asked for (GetObject/HeadObject `partNumber`), validated. */
  partNumber?: number;
  query: URLSearchParams;
}

const WRITE_METHODS = new Set(['PUT', 'POST', 'DELETE']);
/** Characters any S3 bucket name may hold (legacy names included); anything else cannot name one. */
const BUCKET_CHARS = /^[A-Za-z0-9._-]{1,255}$/;
/** Methods S3 knows; anything else is 405, never a 5xx. */
const S3_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS']);

/** Bucket sub-resources a reader may not use (ACLs, policies, versions, uploads, ...). */
const BUCKET_SUBRESOURCES = [
  'accelerate',
  'acl',
  'analytics',
  'cors',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'lifecycle',
  'logging',
  'metadataTable',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'tagging',
  'uploads',
  'versioning',
  'versions',
  'website',
  'delete',
  'session',
];
const OBJECT_SUBRESOURCES = [
  'acl',
  'attributes',
  'legal-hold',
  'retention',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'restore',
  'select',
];

export function routeRequest(req: ProxyRequest, options: { readOnly: boolean }): S3Route {
  const method = req.method.toUpperCase();
  if (!S3_METHODS.has(method)) {
    throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', {
      Method: req.method.slice(0, 32),
      ResourceType: 'OBJECT',
    });
  }
  if (WRITE_METHODS.has(method)) {
    if (options.readOnly) throw new S3Error('AccessDenied', 'Access Denied', {}, 'read-only proxy');
    throw new S3Error('MethodNotAllowed', 'This proxy serves reads only.', {
      Method: method,
      ResourceType: 'OBJECT',
    });
  }
  // No CORS configuration: S3 refuses pre-flight requests with 403.
  if (method === 'OPTIONS')
    throw new S3Error('AccessDenied', 'CORSResponse: This CORS request is not allowed.');

  // "//anything" has an empty bucket segment: an error, not the service (ListBuckets).
  if (!req.rawPath.startsWith('/') || req.rawPath.startsWith('//'))
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.", {}, 'no bucket segment');
  const query = queryParams(req.rawQuery);
  const path = req.rawPath.slice(1);
  const slash = path.indexOf('/');
  const bucket = decodeComponent(slash < 0 ? path : path.slice(0, slash));
  const rawKey = slash < 0 ? '' : path.slice(slash + 1);
  if (bucket !== '' && !BUCKET_CHARS.test(bucket)) {
    throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', {
      BucketName: bucket.slice(0, 255),
    });
  }

  if (bucket === '') {
    if (method === 'GET') return { op: 'ListBuckets', query };
    throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', {
      Method: method,
      ResourceType: 'SERVICE',
    });
  }
  if (bucket !== VIRTUAL_BUCKET) {
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', {
      BucketName: bucket.slice(0, 255),
    });
  }

  if (rawKey === '') {
    if (method === 'HEAD') return { op: 'HeadBucket', query };
    for (const sub of BUCKET_SUBRESOURCES) {
      if (query.has(sub))
        throw new S3Error('AccessDenied', 'Access Denied', {}, `bucket sub-resource ?${sub}`);
    }
    if (query.has('location')) return { op: 'GetBucketLocation', query };
    if (query.get('list-type') === '2') return { op: 'ListObjectsV2', query };
    if (query.has('list-type')) {
      throw new S3Error('InvalidArgument', 'Invalid List Type specified in Request', {
        ArgumentName: 'list-type',
      });
    }
    return { op: 'ListObjects', query };
  }

  const key = decodeComponent(rawKey);
  assertSafeKey(key, 'key');
  for (const sub of OBJECT_SUBRESOURCES) {
    if (query.has(sub)) throw new S3Error('AccessDenied', 'Access Denied', {}, `object sub-resource ?${sub}`);
  }
  if (query.has('versionId') && query.get('versionId') !== 'null') {
    throw new S3Error('InvalidArgument', 'Invalid version id specified', { ArgumentName: 'versionId' });
  }
  for (const [param] of OVERRIDES) {
    const v = query.get(param);
    // Response header overrides must be visible ASCII; anything else is the client's mistake, not a 500.
    if (v !== null && !/^[\x20-\x7e]*$/.test(v)) {
      throw new S3Error('InvalidArgument', `Header value of ${param} contains invalid characters`, {
        ArgumentName: param,
      });
    }
  }
  for (const name of query.keys()) {
    if (name.startsWith('response-') && !OVERRIDES.some(([param]) => param === name)) {
      throw new S3Error(
        'InvalidArgument',
        `${name.slice(0, 64)} is not in the set of overridable response headers. Please refer to the S3 API documentation for a complete list of overridable response headers.`,
        { ArgumentName: name.slice(0, 64) },
      );
    }
  }
  const partNumber = partNumberOf(query, req.headers.range);
  return { op: method === 'HEAD' ? 'HeadObject' : 'GetObject', key, query, partNumber };
}

/**
 * S3's `partNumber`: an integer from 1 to 10000, and never with a Range header (S3 refuses both
 * together, whatever the Range says). The Java SDK v2's multipart download and the Go transfer
 * manager read an object part by part this way.
 */
function partNumberOf(query: URLSearchParams, range: string | undefined): number | undefined {
  const value = query.get('partNumber');
  if (value === null) return undefined;
  const n = /^\d{1,5}$/.test(value) ? Number(value) : 0;
  if (n < 1 || n > 10_000) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
      ArgumentValue: value.slice(0, 64),
    });
  }
  if (range !== undefined) {
    throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  }
  return n;
}

/**
 * Query parameters decoded the way the signature was computed: "+" is a literal plus, as the
 * AWS signers encode it (URLSearchParams would turn it into a space).
 */
function queryParams(rawQuery: string): URLSearchParams {
  const out = new URLSearchParams();
  for (const p of parseRawQuery(rawQuery)) out.append(p.name, p.value);
  return out;
}
