/**
 * A commit (`N.json`) as a filtered reader sees it, at its real version: commitInfo first (with
 * only its timestamps and operation), protocol and metaData, then the add / remove / cdc actions of
 * readable files in their original order. A commit whose file actions were all filtered out keeps
 * its commitInfo line, so versions stay contiguous and in-commit timestamps stay readable.
 */
import { concatBytes } from '../core/concat-bytes';
import { WorkSlices, yieldToEventLoop } from '../core/event-loop';
import { forEachAction } from '../delta/log-replay';
import { type ActionFilter, commitInfoAction, metaDataAction, protocolAction } from './action-filter';

type Obj = Record<string, unknown>;

export async function filterCommit(
  commit: Uint8Array | string,
  where: string,
  version: number,
  filter: ActionFilter,
): Promise<Uint8Array> {
  let commitInfo: Obj | undefined;
  const head: string[] = [];
  const files: string[] = [];
  // Parsed first: a file added twice with conflicting values is known before its first add.
  const actions: Obj[] = [];
  // A big commit (an OPTIMIZE of a large table) must not hold the event loop: it is parsed from
  // its bytes a slice at a time, never decoded whole.
  const bytes = typeof commit === 'string' ? new TextEncoder().encode(commit) : commit;
  const tracked = filter.addConflicts();
  await forEachAction(bytes, where, (a) => {
    actions.push(a);
    if (tracked && isObj(a.add) && typeof a.add.path === 'string')
      tracked.add(a.add.path, a.add.partitionValues);
  });
  const conflicts: ReadonlySet<string> = tracked?.conflicting ?? new Set();
  // Paced by the characters written out, not only by the actions: an add's statistics can be tens
  // of KB (1,000 such adds between two yields held the loop 50-90 ms).
  const slices = new WorkSlices(FILTER_SLICE_CHARS);
  // The characters the action before wrote out (spent when the next one starts).
  let written = 0;
  const write = (to: string[], line: string) => {
    to.push(line);
    written += line.length;
  };
  for (const a of actions) {
    if (slices.spend(ACTION_CHARS + written)) await yieldToEventLoop();
    written = 0;
    if (isObj(a.commitInfo)) commitInfo ??= a.commitInfo;
    else if (isObj(a.protocol)) write(head, JSON.stringify({ protocol: protocolAction(a.protocol) }));
    else if (isObj(a.metaData)) write(head, JSON.stringify({ metaData: metaDataAction(a.metaData) }));
    else if (isObj(a.add)) {
      if (conflicts.size && typeof a.add.path === 'string' && conflicts.has(filter.fileKey(a.add.path)))
        continue;
      const out = await filter.add(a.add);
      if (out) write(files, JSON.stringify({ add: out }));
    } else if (isObj(a.remove)) {
      const out = await filter.remove(a.remove, version);
      if (out) write(files, JSON.stringify({ remove: out }));
    } else if (isObj(a.cdc)) {
      const out = await filter.cdc(a.cdc);
      if (out) write(files, JSON.stringify({ cdc: out }));
    }
  }
  const lines = [JSON.stringify({ commitInfo: commitInfoAction(commitInfo) }), ...head, ...files];
  return encodeLines(lines);
}

/**
 * Characters of output written between two yields while filtering; an action counts ACTION_CHARS
 * besides its line, so 1,024 actions shown or dropped with short lines also end a slice.
 */
const FILTER_SLICE_CHARS = 256 * 1024;
const ACTION_CHARS = 256;

/** Characters of output encoded between two yields. */
const ENCODE_SLICE_CHARS = 256 * 1024;

/** `lines.join('\n') + '\n'` as UTF-8, a slice of lines at a time (the output may be tens of MB). */
async function encodeLines(lines: readonly string[]): Promise<Uint8Array> {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (let i = 0; i < lines.length; ) {
    let chars = 0;
    let j = i;
    while (j < lines.length && (j === i || chars < ENCODE_SLICE_CHARS)) chars += lines[j++]!.length + 1;
    parts.push(encoder.encode(`${lines.slice(i, j).join('\n')}\n`));
    i = j;
    if (i < lines.length) await yieldToEventLoop();
  }
  return concatBytes(parts);
}

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
