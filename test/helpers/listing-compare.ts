/**
 * Comparing listings with moto: what a client reads of each page, with the values that
 * legitimately differ masked. moto departs from S3 in a few documented places, normalized here:
 * it echoes Delimiter/StartAfter/Marker unencoded under encoding-type=url (S3 encodes them and
 * clients decode them; moto's raw text must not be decoded, it may hold a literal "%"), omits the
 * empty Prefix/Marker elements S3 sends, does not echo ContinuationToken, and puts a token in v1
 * NextMarker where S3 puts the last key.
 */
import { XMLParser } from 'fast-xml-parser';
import { type Credentials, encodeQuery, type RawResponse, signedFetch } from './signed-fetch';

export const listingParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (n) => ['Contents', 'CommonPrefixes'].includes(n),
});

export type ListingPage = Record<string, unknown>;

/** `echoesRaw`: the server (moto) echoes request values unencoded even under encoding-type=url. */
export function normalizeListing(r: RawResponse, encoded: boolean, echoesRaw: boolean): ListingPage {
  const doc = listingParser.parse(r.text) as Record<string, Record<string, unknown>>;
  const body = doc.ListBucketResult ?? doc.Error;
  const dec = (v: unknown) => (encoded && !echoesRaw && typeof v === 'string' ? decodeURIComponent(v) : v);
  const out: ListingPage = { status: r.status, root: Object.keys(doc).filter((k) => k !== '?xml') };
  for (const [k, v] of Object.entries(body ?? {})) {
    if (k === 'Name' || k === 'RequestId' || k === 'HostId' || k === 'ContinuationToken') continue;
    if ((k === 'Prefix' || k === 'Marker') && v === '') continue;
    if (k === 'NextContinuationToken' || k === 'NextMarker') out[k] = 'present';
    else if (k === 'Delimiter' || k === 'StartAfter' || k === 'Marker') out[k] = dec(v);
    else if (k === 'Contents')
      out[k] = (v as Record<string, unknown>[]).map((c) => ({
        Key: c.Key,
        Size: c.Size,
        ETag: c.ETag,
        hasOwner: 'Owner' in c,
        StorageClass: c.StorageClass,
      }));
    else out[k] = v;
  }
  return out;
}

/** Pages through a listing (v2 tokens or v1 markers), returning every normalized page. */
export async function listingPages(
  endpoint: string,
  bucket: string,
  params: Record<string, string | undefined>,
  v: 1 | 2,
  options: { credentials: Credentials; echoesRaw: boolean; maxPages?: number },
): Promise<ListingPage[]> {
  const maxPages = options.maxPages ?? 60;
  const encoded = params['encoding-type'] === 'url';
  const out: ListingPage[] = [];
  let token: string | undefined;
  let marker: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const q =
      v === 2
        ? { 'list-type': '2', ...params, 'continuation-token': token }
        : { ...params, marker: marker ?? params.marker };
    const r = await signedFetch(endpoint, 'GET', `/${bucket}`, encodeQuery(q), {}, options.credentials);
    out.push(normalizeListing(r, encoded, options.echoesRaw));
    const doc = listingParser.parse(r.text).ListBucketResult;
    if (doc?.IsTruncated !== 'true') return out;
    if (v === 2) token = doc.NextContinuationToken;
    else {
      const last = doc.NextMarker ?? doc.Contents?.at(-1)?.Key;
      marker = encoded ? decodeURIComponent(last) : last;
    }
  }
  throw new Error(`listing did not finish in ${maxPages} pages`);
}

/** One page as a client consumes it: entries in order, and whether more follow. */
export function entriesOf(page: ListingPage) {
  return {
    keys: ((page.Contents as { Key: string }[] | undefined) ?? []).map((c) => c.Key),
    prefixes: ((page.CommonPrefixes as { Prefix: string }[] | undefined) ?? []).map((c) => c.Prefix),
    truncated: page.IsTruncated,
    status: page.status,
  };
}
