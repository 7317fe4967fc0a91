/**
 * How long a removed file stays on storage: `delta.deletedFileRetentionDuration` (PROTOCOL.md
 * "Table Properties"; Spark's default `interval 1 week`). VACUUM may delete a file only once its
 * `deletionTimestamp` is older than this, so until then a reader that planned an older version
 * can still read it.
 */
import type { TableMetadata } from './table-metadata';

export const RETENTION_PROPERTY = 'delta.deletedFileRetentionDuration';
export const DEFAULT_DELETED_FILE_RETENTION_MS = 7 * 24 * 3600 * 1000;

const UNIT_MS: Record<string, number> = {
  week: 7 * 24 * 3600 * 1000,
  day: 24 * 3600 * 1000,
  hour: 3600 * 1000,
  minute: 60 * 1000,
  second: 1000,
  millisecond: 1,
  microsecond: 0.001,
};

/**
 * Milliseconds of `interval 7 days` (Spark's CalendarInterval text: "interval" optional, several
 * "<n> <unit>" parts, units singular or plural). Months and years are not allowed for this
 * property (Spark refuses them). Anything unparsable returns undefined.
 */
export function parseInterval(text: string): number | undefined {
  const words = text.trim().toLowerCase().split(/\s+/);
  if (words[0] === 'interval') words.shift();
  if (words.length === 0 || words.length % 2 !== 0) return undefined;
  let ms = 0;
  for (let i = 0; i < words.length; i += 2) {
    const n = Number(words[i]);
    const name = words[i + 1]!.replace(/s$/, '');
    // Own keys only: "constructor" or "__proto__" is no unit (it would make the retention NaN).
    const unit = Object.hasOwn(UNIT_MS, name) ? UNIT_MS[name] : undefined;
    if (!Number.isFinite(n) || !/^[+-]?\d+(\.\d+)?$/.test(words[i]!) || unit === undefined) return undefined;
    ms += n * unit;
  }
  return ms;
}

/**
 * The table's retention in ms. An unparsable or negative value gives 0: removed files are then
 * refused at once (when in doubt, deny; Spark would refuse such a table anyway).
 */
export function deletedFileRetentionMs(meta: TableMetadata | undefined): number {
  const v = meta?.configuration[RETENTION_PROPERTY];
  if (v === undefined) return DEFAULT_DELETED_FILE_RETENTION_MS;
  const ms = parseInterval(v);
  return ms === undefined || ms < 0 ? 0 : ms;
}
