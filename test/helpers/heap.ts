/** The heap in use after full collections, in this process (V8's gc made callable for it). */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
/** A full garbage collection. */
export const gc = runInNewContext('gc') as () => void;

/** Heap used after two full collections (the second finishes what the first's finalizers freed). */
export function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
