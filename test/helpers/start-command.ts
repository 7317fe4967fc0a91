/**
 * The node command line `npm start` runs (package.json's `start` script), so that tests and
 * benchmarks start the node server the way users do, with the same V8 flags.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const script: string = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8'))
  .scripts.start;
// `exec`: the shell npm runs the script in becomes node, so the signal npm passes on reaches it.
const [exec, node, ...args] = script.split(/\s+/);
if (exec !== 'exec' || node !== 'node' || !args.at(-1)?.endsWith('.ts'))
  throw new Error(`package.json's start script is not "exec node <flags> <entry>.ts": ${script}`);

/** The flags before the entry point, e.g. ['--no-memory-reducer', '--import', 'tsx']. */
export const START_NODE_FLAGS: readonly string[] = args.slice(0, -1);
/** The entry point, relative to the repository root. */
export const START_ENTRY: string = args.at(-1)!;
