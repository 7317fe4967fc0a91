import type { Principal } from '../core/principal';
import type { ProxyRequest } from '../core/types';

/**
 * The authenticate stage: establishes who sent a request or throws an S3Error
 * (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied, ...). Never logs secrets.
 */
export interface Authenticator {
  authenticate(req: ProxyRequest): Promise<Principal>;
}
