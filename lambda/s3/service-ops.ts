/** ListBuckets, HeadBucket, GetBucketLocation: the virtual bucket's fixed answers. */
import type { Headers, ProxyResponse } from '../core/types';
import { PROXY_OWNER } from './list-objects';
import { VIRTUAL_BUCKET } from './virtual-key';
import { el, root, toXml } from './xml';

/** A fixed creation date: the virtual bucket has no real one, and a stable value caches well. */
const CREATION_DATE = '2024-01-01T00:00:00.000Z';

/**
 * ListBuckets' `prefix` and `bucket-region` (S3 since 2024) select buckets: one they do not select is
 * not listed (a client that asks for its own buckets by prefix must not be handed `datalake`). A
 * given prefix is echoed, as S3 does.
 */
export function listBuckets(base: Headers, query: URLSearchParams, region: string): ProxyResponse {
  const prefix = query.get('prefix');
  const bucketRegion = query.get('bucket-region');
  const listed =
    (prefix === null || VIRTUAL_BUCKET.startsWith(prefix)) && (!bucketRegion || bucketRegion === region);
  const doc = root(
    'ListAllMyBucketsResult',
    el('Owner', el('ID', PROXY_OWNER.id), el('DisplayName', PROXY_OWNER.displayName)),
    el(
      'Buckets',
      listed ? el('Bucket', el('Name', VIRTUAL_BUCKET), el('CreationDate', CREATION_DATE)) : undefined,
    ),
    prefix !== null ? el('Prefix', prefix) : undefined,
  );
  return { status: 200, headers: { ...base, 'content-type': 'application/xml' }, body: toXml(doc) };
}

export function headBucket(base: Headers, region: string): ProxyResponse {
  return { status: 200, headers: { ...base, 'x-amz-bucket-region': region } };
}

export function getBucketLocation(base: Headers, region: string): ProxyResponse {
  // S3 answers an empty LocationConstraint for us-east-1.
  const doc = root('LocationConstraint', region === 'us-east-1' ? undefined : region);
  return { status: 200, headers: { ...base, 'content-type': 'application/xml' }, body: toXml(doc) };
}
