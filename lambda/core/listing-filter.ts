import type { GeneratedObjectMeta } from './generated-object';

/** Which part of a table a listing covers (what the authorizer needs to know to prepare it). */
export interface ListingScope {
  /** The listing's prefix relative to the table root ("" when it starts at or above the root). */
  relPrefix: string;
  /** "" when none. */
  delimiter: string;
  /** The key the listing starts after, relative to the table root, when it is inside the table. */
  relAfter?: string;
}

/** What the S3 layer may show of one table in a listing. */
export interface ListingFilter {
  /** relKey: key relative to the table root. */
  allowObject(relKey: string): boolean;
  /**
   * relPrefix: a common prefix relative to the table root, ending in "/" (the listing rolls up
   * other delimiters itself). Call `prepareFolders` first: until then no folder is allowed.
   */
  allowPrefix(relPrefix: string): boolean;
  /** Builds what allowPrefix needs (once per snapshot and caller; a listing without "/" skips it). */
  prepareFolders?(): Promise<void>;
  /** A folder whose content the authorizer generates (the filtered `_delta_log/`). */
  virtualFolder?: VirtualFolder;
}

/**
 * A folder listed from generated objects instead of the backend: backend keys under `prefix` are
 * never shown, `keys` are. Sizes and ETags are produced only for the keys a listing page returns.
 */
export interface VirtualFolder {
  /** Relative to the table root, ending in "/" (e.g. "_delta_log/"). */
  readonly prefix: string;
  /** Relative keys of the generated objects, sorted as S3 sorts keys. */
  readonly keys: readonly string[];
  /** Undefined: the key left the folder since `keys` were made (a checkpoint found broken); not listed. */
  describe(relKey: string): Promise<GeneratedObjectMeta | undefined>;
}
