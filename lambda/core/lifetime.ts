/**
 * A presigned URL's lifetime, `seconds`, cut to end by `untilMs` (a credential's expiry: the
 * caller's, or the signing one's) when there is one; at least 1 s, as the credential was still
 * valid at `nowMs`. An expiry that is no time (an invalid Date) cuts nothing.
 */
export function secondsWithin(seconds: number, untilMs: number | undefined, nowMs: number): number {
  if (untilMs === undefined || Number.isNaN(untilMs)) return seconds;
  return Math.max(1, Math.min(seconds, Math.floor((untilMs - nowMs) / 1000)));
}
