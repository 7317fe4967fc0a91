/**
 * The longest stretch the event loop was held while `run` ran (a timer due every 2 ms).
 *
 * A stretch counts the process's CPU time between two ticks, capped by the wall time between them:
 * on a loaded machine the scheduler can park the whole process for longer than any block of ours,
 * and that wall-clock gap holds the loop of nobody's code. A synchronous block spends its length
 * in CPU whatever the load (other threads' CPU in the same gap, GC helpers, the thread pool, only
 * makes the figure larger: the check stays on the strict side). `cpuMs` is the process's CPU time
 * over the whole run, the yardstick to hold a block against for the same reason.
 */
export async function longestLoopBlock<T>(
  run: () => Promise<T>,
): Promise<{ result: T; longestBlockMs: number; cpuMs: number }> {
  let lastWall = performance.now();
  const startCpu = cpuMs();
  let lastCpu = startCpu;
  let worst = 0;
  const timer = setInterval(() => {
    const wall = performance.now();
    const cpu = cpuMs();
    worst = Math.max(worst, Math.min(wall - lastWall, cpu - lastCpu));
    lastWall = wall;
    lastCpu = cpu;
  }, 2);
  try {
    const result = await run();
    return { result, longestBlockMs: worst, cpuMs: cpuMs() - startCpu };
  } finally {
    clearInterval(timer);
  }
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
