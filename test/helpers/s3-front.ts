/**
 * An S3 front with fault rules: misbehaving-s3.ts seen through a list of rules (first match wins)
 * that answer S3-style XML errors, drop connections (status 0) or redirect to another region,
 * with everything else forwarded to the real server behind it.
 */
import { type BackendRequest, type Fault as MisbehavingFault, startMisbehavingS3 } from './misbehaving-s3';

export { scopeRegion } from './misbehaving-s3';

export type SeenRequest = BackendRequest;

export interface Fault {
  /** 0: the connection is dropped without an answer. */
  status: number;
  /** S3 error code for the XML body; no body when undefined (e.g. a HEAD). */
  code?: string;
  message?: string;
  headers?: Record<string, string>;
}

/** Returns the fault to answer with, or undefined to forward the request. */
export type FaultRule = (req: SeenRequest) => Fault | undefined;

export interface S3Front {
  endpoint: string;
  seen: SeenRequest[];
  /** Fault rules, first match wins; edit freely between requests. */
  rules: FaultRule[];
  stop(): Promise<void>;
}

export async function startS3Front(target: string): Promise<S3Front> {
  const rules: FaultRule[] = [];
  const front = await startMisbehavingS3(target);
  front.onRequest = (req): MisbehavingFault => {
    for (const rule of rules) {
      const fault = rule(req);
      if (fault) return fault.status === 0 ? { reset: true } : fault;
    }
    return undefined;
  };
  return { endpoint: front.endpoint, seen: front.seen as SeenRequest[], rules, stop: front.stop };
}

/** S3's answer to a request signed for the wrong region: 301 naming the bucket's region. */
export function wrongRegion(bucketRegion: string): Fault {
  return {
    status: 301,
    code: 'PermanentRedirect',
    message:
      'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
    headers: { 'x-amz-bucket-region': bucketRegion },
  };
}
