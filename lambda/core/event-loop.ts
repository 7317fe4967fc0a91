/**
 * Lets other requests run: long loops (a checkpoint decoded row by row, an index built over every
 * file of a snapshot) call this every few thousand steps so no request holds the event loop for
 * more than a few milliseconds.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
