/** Who a request is from, as established by authentication. */
export interface Principal {
  /** The principal name grants are written against (e.g. "analyst-eu"). */
  name: string;
  /** The access key that signed the request; absent for anonymous callers. */
  accessKeyId?: string;
  anonymous: boolean;
}

export const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', anonymous: true });
