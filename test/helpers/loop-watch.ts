/** The longest stretch the event loop was held while `run` ran (a timer due every 2 ms). */
export async function longestLoopBlock<T>(
  run: () => Promise<T>,
): Promise<{ result: T; longestBlockMs: number }> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 2);
  try {
    const result = await run();
    return { result, longestBlockMs: worst };
  } finally {
    clearInterval(timer);
  }
}
