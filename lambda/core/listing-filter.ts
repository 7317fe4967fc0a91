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
}
