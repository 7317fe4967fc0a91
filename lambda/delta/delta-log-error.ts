/**
 * A Delta log that cannot be replayed (malformed JSON, a missing commit, an unreadable
 * checkpoint). The caller maps it to an S3 error; the message names the table file at fault.
 */
export type DeltaLogErrorKind = 'Malformed' | 'MissingLog' | 'MissingVersion' | 'Unreadable';

export class DeltaLogError extends Error {
  constructor(
    readonly kind: DeltaLogErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DeltaLogError';
  }
}
