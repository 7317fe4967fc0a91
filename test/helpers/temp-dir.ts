/**
 * Temporary directories that tests make (fixture tables written before upload, config files,
 * client downloads): removed after the test file that made them (temp-dir-cleanup.ts, a vitest
 * setup file). Tests that made them with mkdtempSync alone left ~18,000 behind in /tmp over a few
 * dozen CI runs on one machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A new directory under the OS temp dir, named `prefix` and a random suffix. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every directory tempDir() made so far. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
