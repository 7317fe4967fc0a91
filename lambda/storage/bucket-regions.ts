/**
 * Which region each mapped bucket lives in: the configured region until S3 says otherwise.
 * S3 answers a request signed for the wrong region with 301 PermanentRedirect (400 for opt-in
 * regions and some endpoints) and names the right one in `x-amz-bucket-region`; the region is
 * remembered per bucket so only the first request pays for it, and presigned URLs, which S3
 * never sees until a client follows them, can name the right region too.
 *
 * Why not the SDK's `followRegionRedirects`: it re-pays the redirect on every request, says
 * nothing a presigner could use, and swaps the shared client's region provider while a request
 * is in flight, which concurrent requests trip over (aws/aws-sdk-js-v3#5554).
 */
import { S3ServiceException } from '@aws-sdk/client-s3';

/** Error names S3 gives a wrong-region request besides the plain 301. */
const WRONG_REGION_400 = new Set(['AuthorizationHeaderMalformed', 'IllegalLocationConstraintException']);
const REGION_NAME = /^[a-z]{2,8}(-[a-z]+)+-\d{1,2}$/;

/** The bucket's region named by a wrong-region answer; undefined for any other failure. */
export function redirectRegion(err: unknown, usedRegion: string): string | undefined {
  if (!(err instanceof S3ServiceException)) return undefined;
  const headers = (err.$response as { headers?: Record<string, string> } | undefined)?.headers;
  const region = headers?.['x-amz-bucket-region'];
  if (!region || region === usedRegion || !REGION_NAME.test(region)) return undefined;
  const status = err.$metadata?.httpStatusCode;
  return status === 301 || (status === 400 && WRONG_REGION_400.has(err.name)) ? region : undefined;
}

export class BucketRegions {
  private readonly learned = new Map<string, string>();
  /** Buckets that answered a request signed for `regionOf(bucket)` without redirecting it. */
  private readonly confirmed = new Set<string>();

  constructor(readonly defaultRegion: string) {}

  regionOf(bucket: string): string {
    return this.learned.get(bucket) ?? this.defaultRegion;
  }

  isConfirmed(bucket: string): boolean {
    return this.confirmed.has(bucket);
  }

  /** The bucket answered a request signed for its current region. */
  confirm(bucket: string): void {
    this.confirmed.add(bucket);
  }

  /**
   * Records the region a wrong-region answer names and returns it; undefined if `err` is not one.
   * Any other 4xx from S3 (403, 404, 412, ...) means the request got past the region check.
   */
  learn(bucket: string, usedRegion: string, err: unknown): string | undefined {
    const region = redirectRegion(err, usedRegion);
    if (region !== undefined) this.learned.set(bucket, region);
    else if (err instanceof S3ServiceException && (err.$metadata?.httpStatusCode ?? 500) < 500)
      this.confirm(bucket);
    return region;
  }
}
