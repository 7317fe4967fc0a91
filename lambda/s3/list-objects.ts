/** ListObjectsV2 and ListObjects (v1) over the virtual bucket. */
import { S3Error } from '../core/s3-error';
import { compareKeys } from '../core/table-mount';
import type { ProxyResponse } from '../core/types';
import type { ListingTokens } from './listing-token';
import { isoDate, s3UrlEncode } from './s3-encoding';
import { VIRTUAL_BUCKET } from './virtual-key';
import type { BackendResume, ListEntry, VirtualListing } from './virtual-listing';
import { el, opt, root, toXmlInSlices, type XmlNode, XmlSequence } from './xml';

export const MAX_LIST_KEYS = 1000;
/**
 * Characters of reply written between two yields to the event loop: 1,000 keys of 1,024 bytes are
 * over a MB of XML (35-40 ms of work written whole), 1,000 short keys about 250 K characters.
 */
const REPLY_SLICE_CHARS = 128 * 1024;
/** The owner shown in listings: the proxy owns the virtual bucket. */
export const PROXY_OWNER = { id: 'delta-lake-s3-proxy', displayName: 'delta-lake-s3-proxy' };

export interface ListQuery {
  version: 1 | 2;
  prefix: string;
  prefixGiven: boolean;
  delimiter: string;
  maxKeys: number;
  /** v2 start-after / v1 marker, as given. */
  startAfter: string;
  /** v2: the client's continuation token as given. */
  continuationToken?: string;
  /** Exclusive lower bound after decoding the token or marker (max of token and start-after). */
  after: string;
  /** `after` is a key the caller may not see, looked at last by the previous page (see ResumePoint). */
  afterExamined: boolean;
  /** Where the backend's listing resumes (see ResumePoint). */
  afterBackend?: BackendResume;
  fetchOwner: boolean;
  encodeUrl: boolean;
}

function parseMaxKeys(raw: string | null): number {
  if (raw === null) return MAX_LIST_KEYS;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2147483647) {
    throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', {
      ArgumentName: 'max-keys',
      ArgumentValue: raw,
    });
  }
  return Math.min(Number(raw), MAX_LIST_KEYS);
}

export function parseListQuery(query: URLSearchParams, version: 1 | 2, tokens: ListingTokens): ListQuery {
  const encoding = query.get('encoding-type');
  if (encoding !== null && encoding !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
      ArgumentValue: encoding,
    });
  }
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const startAfter = (version === 2 ? query.get('start-after') : query.get('marker')) ?? '';
  const continuationToken = version === 2 ? (query.get('continuation-token') ?? undefined) : undefined;
  if (continuationToken === '') {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      ArgumentName: 'continuation-token',
    });
  }
  let resume = version === 1 ? tokens.decodeMarker(startAfter) : { after: startAfter, examined: false };
  if (continuationToken !== undefined) {
    const t = tokens.decode(continuationToken);
    // SDK paginators resend StartAfter with each token: one at that same key that carries the
    // backend's token (a run of key-less pages) must still be followed, or every page restarts.
    const c = compareKeys(t.after, resume.after);
    if (c > 0 || (c === 0 && t.backend)) resume = t;
  }
  return {
    version,
    prefix,
    prefixGiven: query.has('prefix'),
    delimiter,
    maxKeys: parseMaxKeys(query.get('max-keys')),
    startAfter,
    continuationToken,
    after: resume.after,
    afterExamined: resume.examined,
    ...(resume.backend ? { afterBackend: resume.backend } : {}),
    fetchOwner: version === 1 || query.get('fetch-owner') === 'true',
    encodeUrl: encoding === 'url',
  };
}

function owner(): XmlNode {
  return el('Owner', el('ID', PROXY_OWNER.id), el('DisplayName', PROXY_OWNER.displayName));
}

/** The reply's entries are made and written a slice at a time (see toXmlInSlices). */
export async function listObjectsResponse(
  q: ListQuery,
  listing: VirtualListing,
  headers: Record<string, string>,
  tokens: ListingTokens,
): Promise<ProxyResponse> {
  const enc = (s: string) => (q.encodeUrl ? s3UrlEncode(s) : s);
  const contents = new XmlSequence(contentsOf(listing.entries, q, enc));
  const prefixes = new XmlSequence(prefixesOf(listing.entries, enc));
  const marker = q.version === 1 ? nextMarker(q, listing, tokens) : undefined;
  const doc =
    q.version === 2
      ? root(
          'ListBucketResult',
          el('Name', VIRTUAL_BUCKET),
          el('Prefix', enc(q.prefix)),
          opt('ContinuationToken', q.continuationToken),
          opt('NextContinuationToken', listing.resume ? tokens.encode(listing.resume) : undefined),
          el('KeyCount', listing.entries.length),
          el('MaxKeys', q.maxKeys),
          q.delimiter ? el('Delimiter', enc(q.delimiter)) : undefined,
          q.encodeUrl ? el('EncodingType', 'url') : undefined,
          el('IsTruncated', listing.isTruncated),
          q.startAfter && q.continuationToken === undefined ? el('StartAfter', enc(q.startAfter)) : undefined,
          contents,
          prefixes,
        )
      : root(
          'ListBucketResult',
          el('Name', VIRTUAL_BUCKET),
          el('Prefix', enc(q.prefix)),
          el('Marker', enc(q.startAfter)),
          marker !== undefined ? el('NextMarker', enc(marker)) : undefined,
          el('MaxKeys', q.maxKeys),
          q.delimiter ? el('Delimiter', enc(q.delimiter)) : undefined,
          q.encodeUrl ? el('EncodingType', 'url') : undefined,
          el('IsTruncated', listing.isTruncated),
          contents,
          prefixes,
        );
  const body = await toXmlInSlices(doc, REPLY_SLICE_CHARS);
  return { status: 200, headers: { ...headers, 'content-type': 'application/xml' }, body };
}

/** S3 puts a page's Contents first, then its CommonPrefixes, each in key order. */
function* contentsOf(entries: readonly ListEntry[], q: ListQuery, enc: (s: string) => string) {
  for (const e of entries) if (e.kind === 'object') yield contentsNode(e, q, enc);
}

function* prefixesOf(entries: readonly ListEntry[], enc: (s: string) => string) {
  for (const e of entries) if (e.kind === 'prefix') yield el('CommonPrefixes', el('Prefix', enc(e.key)));
}

/**
 * v1 NextMarker when truncated: S3 gives the last key or prefix returned when a delimiter is set
 * (without one, clients resume from the last key). When the page ends on keys the caller may not
 * see, or holds no entry at all, the marker is the proxy's sealed resume point: a client that
 * finds neither would stop early.
 */
function nextMarker(q: ListQuery, listing: VirtualListing, tokens: ListingTokens): string | undefined {
  const resume = listing.resume;
  if (!resume) return undefined;
  // Only a sealed marker can carry the backend's token (a key cannot say where in a run of pages
  // without a key to go on).
  if (resume.examined || resume.backend) return tokens.seal(resume);
  const last = listing.entries.at(-1)?.key;
  return q.delimiter || resume.after !== last ? resume.after : undefined;
}

function contentsNode(
  e: Extract<ListEntry, { kind: 'object' }>,
  q: ListQuery,
  enc: (s: string) => string,
): XmlNode {
  return el(
    'Contents',
    el('Key', enc(e.key)),
    el('LastModified', isoDate(e.object.lastModified)),
    el('ETag', e.object.etag),
    el('Size', e.object.size),
    q.fetchOwner ? owner() : undefined,
    el('StorageClass', e.object.storageClass ?? 'STANDARD'),
  );
}
