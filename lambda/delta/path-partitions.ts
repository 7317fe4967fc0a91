/**
 * "Which partition did the file at this path belong to, at or before version v?" A `remove`
 * action may omit its partitionValues (they are optional unless extendedFileMetadata), so it is
 * classified by the add that introduced the file: in an earlier commit or in a checkpoint. The
 * filtered log view asks this; the history work may provide the same answer from its own index.
 */
export type PartitionValues = Readonly<Record<string, string | null | undefined>>;

export interface PathPartitionLookup {
  /**
   * Partition values of the newest `add` of this file (a path as written in the log, relative or
   * absolute) at or before `version`, or undefined when the retained log has none.
   */
  partitionValuesAt(logPath: string, version: number): Promise<PartitionValues | undefined>;
}
