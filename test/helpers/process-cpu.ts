/**
 * CPU time of another process from /proc (Linux), to tell which process of a benchmark is the
 * bottleneck. Undefined where /proc is not there.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** utime + stime of `pid` in milliseconds. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), the 14th and 15th overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** The PID of this process's child whose command line contains `needle`. */
export function childPid(needle: string): number | undefined {
  try {
    for (const task of readdirSync('/proc/self/task')) {
      const children = readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim();
      for (const pid of children ? children.split(' ').map(Number) : []) {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
        if (cmd.includes(needle)) return pid;
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}
