import type { AuthForm, CredentialScope } from './credential-scope';

/** What a request claims about its signature, parsed from the header or the presigned query. */
export interface SignatureClaim {
  form: AuthForm;
  scope: CredentialScope;
  /** The timestamp line of the string to sign, "yyyymmddThhmmssZ". */
  longDate: string;
  /** The same instant in epoch milliseconds. */
  requestTime: number;
  signedHeaders: string[];
  /** As provided; compared in constant time, never logged or echoed. */
  signature: string;
  payloadHash: string;
  /** Presigned only: X-Amz-Expires in seconds. */
  expiresSeconds?: number;
}
