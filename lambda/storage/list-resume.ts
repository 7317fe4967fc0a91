/**
 * Where a listing goes on after a page that says it is truncated but gives no continuation token
 * (S3 always sends one; an S3-compatible backend may not): past the page's last entry, a common
 * prefix it rolled up included. Stopping there instead would answer a listing that merely looks
 * complete. Used by the client listings and by the log listings alike.
 */
import { compareKeys } from '../core/table-mount';
import type { ListPage } from './storage-backend';

/** The greatest code point: `p + PAST` sorts after every key that starts with `p` (UTF-8 order). */
export const PAST = '\u{10FFFF}';

/** The start-after key that resumes past `page`, or undefined when it would not move past `after`. */
export function resumeAfter(page: ListPage, after: string | undefined): string | undefined {
  const lastObject = page.objects.at(-1)?.key;
  const lastPrefix = page.commonPrefixes.at(-1);
  const next =
    lastPrefix !== undefined && (lastObject === undefined || compareKeys(lastPrefix, lastObject) > 0)
      ? lastPrefix + PAST
      : lastObject;
  if (next === undefined || (after !== undefined && compareKeys(next, after) <= 0)) return undefined;
  return next;
}
