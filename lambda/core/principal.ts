/** Who a request is from, as established by authentication. */
export interface Principal {
  /** The principal name grants are written against (e.g. "analyst-eu"). */
  name: string;
  /** The access key that signed the request; absent for anonymous callers. */
  accessKeyId?: string;
  anonymous: boolean;
  /**
   * When the credential the request came with stops being accepted (epoch ms): a presigned URL's
   * X-Amz-Date + X-Amz-Expires. Nothing the proxy hands out for the request outlives it.
   */
  validUntil?: number;
}

export const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', anonymous: true });
