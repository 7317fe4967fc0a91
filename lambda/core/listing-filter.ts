/** What the S3 layer may show of one table in a listing. */
export interface ListingFilter {
  /** relKey: key relative to the table root. */
  allowObject(relKey: string): boolean;
  /** relPrefix: a common prefix relative to the table root, ending in the delimiter. */
  allowPrefix(relPrefix: string): boolean;
}
