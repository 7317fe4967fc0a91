/**
 * The known name an unknown one was probably meant to be, for "did you mean" hints in
 * configuration errors: the nearest by edit distance (ignoring case), if it is near enough.
 */
export function closestName(unknown: string, known: Iterable<string>): string | undefined {
  const wanted = unknown.toLowerCase();
  // A third of the name may be wrong (`redirectClient`, `getmode`, `PROXY_PORTT`), at least one character.
  const limit = Math.max(1, Math.floor(wanted.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const name of known) {
    const d = editDistance(wanted, name.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, or `cap` once it is certain to reach it. */
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    let smallest = i;
    for (let j = 1; j <= b.length; j++) {
      const d = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      next.push(d);
      smallest = Math.min(smallest, d);
    }
    if (smallest >= cap) return cap;
    row = next;
  }
  return Math.min(row[b.length]!, cap);
}
