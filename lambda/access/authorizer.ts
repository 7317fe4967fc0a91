import type { GeneratedObject } from '../core/generated-object';
import type { ListingFilter, ListingScope } from '../core/listing-filter';
import type { Principal } from '../core/principal';
import type { TableMount } from '../core/table-mount';

export type { ListingFilter, ListingScope };

/**
 * Why an object request was refused. `hidden` answers exactly like a missing key (404) so a
 * caller cannot tell a forbidden table or file name from one that does not exist.
 */
export type ObjectDecision =
  | { allow: true; kind: 'log' | 'data' }
  /** A file of the filtered log view: served from memory, never from the backend. */
  | { allow: true; kind: 'generated'; object: GeneratedObject }
  | {
      allow: false;
      answer: 'not-found' | 'access-denied';
      reason: string;
      message?: string;
      /**
       * The caller's grants refuse it (whatever the client is told): operators count these as
       * grant denials even where the answer is NoSuchKey, so a filtered view still shows them.
       */
      byGrant?: boolean;
    };

/**
 * The authorize stage. Rules live behind this interface; the S3 layer only asks.
 * Implementations fail closed: when a store or the log cannot be read they throw an S3Error
 * (SlowDown / ServiceUnavailable / InternalError), never allow.
 */
export interface Authorizer {
  /** Tables the principal may see at all (the root listing shows exactly these). */
  visibleTables(principal: Principal, mounts: readonly TableMount[]): Promise<readonly TableMount[]>;
  /**
   * May the principal read this key of this table? relKey is relative to the table root.
   * `request.signal` is read only when a backend call is needed (adapters make it on first use).
   */
  authorizeObject(
    principal: Principal,
    mount: TableMount,
    relKey: string,
    request?: { readonly signal?: AbortSignal },
  ): Promise<ObjectDecision>;
  /** A filter for listing inside a table (`scope`: the part listed); undefined when the table is not visible. */
  listingFilter(
    principal: Principal,
    mount: TableMount,
    scope: ListingScope,
    signal?: AbortSignal,
  ): Promise<ListingFilter | undefined>;
}
