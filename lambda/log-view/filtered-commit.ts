/**
 * A commit (`N.json`) as a filtered reader sees it, at its real version: commitInfo first (with
 * only its timestamps and operation), protocol and metaData, then the add / remove / cdc actions of
 * readable files in their original order. A commit whose file actions were all filtered out keeps
 * its commitInfo line, so versions stay contiguous and in-commit timestamps stay readable.
 */
import { actionLines } from '../delta/log-replay';
import { type ActionFilter, commitInfoAction, metaDataAction, protocolAction } from './action-filter';

type Obj = Record<string, unknown>;

export async function filterCommit(
  text: string,
  where: string,
  version: number,
  filter: ActionFilter,
): Promise<Uint8Array> {
  let commitInfo: Obj | undefined;
  const head: string[] = [];
  const files: string[] = [];
  // Parsed first: a file added twice with conflicting values is known before its first add.
  const actions: Obj[] = [];
  let n = 0;
  for (const [a] of actionLines(text, where)) {
    // A big commit (an OPTIMIZE of a large table) must not hold the event loop.
    if ((++n & 4095) === 0) await new Promise((resolve) => setImmediate(resolve));
    actions.push(a);
  }
  const conflicts = filter.conflictingAdds(actions);
  n = 0;
  for (const a of actions) {
    if ((++n & 4095) === 0) await new Promise((resolve) => setImmediate(resolve));
    if (isObj(a.commitInfo)) commitInfo ??= a.commitInfo;
    else if (isObj(a.protocol)) head.push(JSON.stringify({ protocol: protocolAction(a.protocol) }));
    else if (isObj(a.metaData)) head.push(JSON.stringify({ metaData: metaDataAction(a.metaData) }));
    else if (isObj(a.add)) {
      if (conflicts.size && typeof a.add.path === 'string' && conflicts.has(filter.fileKey(a.add.path)))
        continue;
      const out = await filter.add(a.add);
      if (out) files.push(JSON.stringify({ add: out }));
    } else if (isObj(a.remove)) {
      const out = await filter.remove(a.remove, version);
      if (out) files.push(JSON.stringify({ remove: out }));
    } else if (isObj(a.cdc)) {
      const out = await filter.cdc(a.cdc);
      if (out) files.push(JSON.stringify({ cdc: out }));
    }
  }
  const lines = [JSON.stringify({ commitInfo: commitInfoAction(commitInfo) }), ...head, ...files];
  return new TextEncoder().encode(`${lines.join('\n')}\n`);
}

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
