/** What a child process has written so far to stdout and stderr, read as it runs. */
import type { ChildProcess } from 'node:child_process';

export interface ChildOutput {
  out: () => string;
  err: () => string;
}

export function collect(child: ChildProcess): ChildOutput {
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return { out: () => out, err: () => err };
}
