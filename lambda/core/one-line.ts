/**
 * JSON.stringify leaves U+0085, U+2028 and U+2029 raw (a client's User-Agent or key may hold
 * them); tools that split lines as Unicode does (Python's splitlines) would cut a log line there.
 * Escaped, the JSON means the same and is one line for every splitter.
 */
const UNICODE_LINE_BREAKS = /[\u0085\u2028\u2029]/g;

export function oneLine(json: string): string {
  return json.replace(UNICODE_LINE_BREAKS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
