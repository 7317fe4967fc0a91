/**
 * Why a test cannot run here. A test that needs something this machine lacks is skipped with
 * the reason in its title (`withReason`), so vitest's summary, the JSON report and .ci/run's
 * closing list all carry it; it never passes in its place.
 *
 * Reasons for the Python tools name the pip package and the file that lists them,
 * test/python-requirements.txt. .ci/run installs that file and fails on a skip that names a
 * package it did install (the test looked in the wrong place, or the file misses a line).
 */
import { spawnSync } from 'node:child_process';

export const PYTHON_REQUIREMENTS = 'test/python-requirements.txt';

/** `name`, followed by the reason when there is one: the title of a test that may be skipped. */
export function withReason(name: string, reason: string | undefined): string {
  return reason ? `${name} [skipped: ${reason}]` : name;
}

const probes = new Map<string, string | undefined>();

function probe(key: string, file: string, args: string[], reason: string): string | undefined {
  if (!probes.has(key)) {
    const r = spawnSync(file, args, { encoding: 'utf8', timeout: 60_000 });
    probes.set(key, r.error ? `${reason}: ${file} is not runnable` : r.status === 0 ? undefined : reason);
  }
  return probes.get(key);
}

/**
 * Why `python3` (the first on PATH; test/helpers/safe-env.ts puts a project `.venv` first) cannot
 * import `module`, from pip package `pkg`; undefined when it can.
 */
export function pythonPackageMissing(pkg: string, module: string = pkg): string | undefined {
  return probe(
    `python:${module}`,
    'python3',
    ['-c', `import ${module}`],
    `needs python package ${pkg} (${PYTHON_REQUIREMENTS})`,
  );
}

/** moto's S3 and DynamoDB server (`python3 -m moto.server`). */
export const motoMissing = (): string | undefined =>
  pythonPackageMissing('moto[server]', 'moto.server, flask');

/** The aws cli (`aws`, pip package awscli). */
export const awsCliMissing = (): string | undefined =>
  probe('aws', 'aws', ['--version'], `needs python package awscli (${PYTHON_REQUIREMENTS})`);

declare module 'vitest' {
  interface TaskMeta {
    /** Why the test skipped itself while running (the JSON report carries meta, not notes). */
    skipReason?: string;
  }
}

/**
 * Skips the running test for a reason found only while it runs (its title cannot say it): the
 * reason goes to the reporter's note and to the JSON report's meta, where .ci/run reads it.
 */
export function skipNow(
  ctx: { task: { meta: { skipReason?: string } }; skip(note?: string): never },
  reason: string,
): never {
  ctx.task.meta.skipReason = reason;
  return ctx.skip(reason);
}
