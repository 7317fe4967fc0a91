import { readFileSync } from 'node:fs';

/**
 * This process's peak resident memory, MB: VmHWM (Linux), the peak of its own image. Not
 * getrusage's maxRSS: Linux carries that across exec from the parent's forked copy, so a child
 * spawned by a bench that had just generated a big table reported the bench's 477 MB.
 */
export function peakRssMB(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (kb) return Number(kb[1]) / 1024;
  } catch {
    // Not Linux: the rusage figure.
  }
  return process.resourceUsage().maxRSS / 1024;
}
