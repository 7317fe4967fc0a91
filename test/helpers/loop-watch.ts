/**
 * How long requests held the event loop: a timer due every 2 ms runs while `run` runs, and each
 * stretch between two of its runs longer than that is a time the loop was held.
 *
 * A stretch is measured in the process's CPU time, capped by its wall time: on a loaded machine
 * the scheduler can park the whole process for longer than any block of ours, and that gap holds
 * the loop of nobody's code. A synchronous block spends its length in CPU whatever the load (other
 * threads' CPU in the same stretch, GC helpers, the thread pool, only makes the figure larger: the
 * check stays on the strict side). For the same reason a block is held against the CPU the work
 * cost (`cpuMs`), not its wall time.
 */
const PERIOD_MS = 2;

/** The longest stretch the event loop was held while `run` ran, and the CPU `run` cost. */
export async function longestLoopBlock<T>(
  run: () => Promise<T>,
): Promise<{ result: T; longestBlockMs: number; cpuMs: number }> {
  const { result, blocks, samples } = await loopBlocks(run);
  return {
    result,
    longestBlockMs: blocks.reduce((worst, b) => Math.max(worst, b.cpuMs), 0),
    cpuMs: samples.at(-1)!.cpu - samples[0]!.cpu,
  };
}

/** A stretch the event loop was held: wall times (performance.now()) and the CPU spent in it. */
export interface LoopBlock {
  start: number;
  end: number;
  cpuMs: number;
}

/** The process's CPU time (ms) at a wall time, as the timer saw it. */
export interface LoopSample {
  wall: number;
  cpu: number;
}

/** Every stretch the event loop was held longer than the timer's period while `run` ran. */
export async function loopBlocks<T>(
  run: () => Promise<T>,
): Promise<{ result: T; blocks: LoopBlock[]; samples: LoopSample[] }> {
  const samples: LoopSample[] = [sample()];
  const blocks: LoopBlock[] = [];
  const tick = () => {
    const last = samples.at(-1)!;
    const now = sample();
    samples.push(now);
    if (now.wall - last.wall > PERIOD_MS)
      blocks.push({
        start: last.wall,
        end: now.wall,
        cpuMs: Math.min(now.wall - last.wall, now.cpu - last.cpu),
      });
  };
  const timer = setInterval(tick, PERIOD_MS);
  try {
    const result = await run();
    // A block still running when `run` settled ends here (the timer has not run since).
    tick();
    return { result, blocks, samples };
  } finally {
    clearInterval(timer);
  }
}

/**
 * The longest block of a run as a share of the CPU the whole run cost: a bound that holds under
 * load, where milliseconds do not (both grow with it).
 */
export function shareOf(blocks: readonly LoopBlock[], samples: readonly LoopSample[]): number {
  const longest = blocks.reduce((m, b) => Math.max(m, b.cpuMs), 0);
  return longest / Math.max(1e-3, samples.at(-1)!.cpu - samples[0]!.cpu);
}

function sample(): LoopSample {
  const { user, system } = process.cpuUsage();
  return { wall: performance.now(), cpu: (user + system) / 1000 };
}
