import { describe, expect, it } from 'vitest';
import { lazyModule } from '../../lambda/core/lazy-module';
import { S3Error } from '../../lambda/core/s3-error';

describe('lazyModule', () => {
  it('loads once for callers that ask at the same time and later', async () => {
    let loads = 0;
    const load = lazyModule('the part', async () => ({ n: ++loads }));
    const [a, b] = await Promise.all([load(), load()]);
    expect(a).toBe(b);
    expect(await load()).toBe(a);
    expect(loads).toBe(1);
  });

  it('answers a failed load with InternalError naming the part for the log only, and tries again next time', async () => {
    let loads = 0;
    const load = lazyModule('the filtered log view', async () => {
      if (++loads === 1) throw new Error("Cannot find module '/var/task/chunk.mjs'");
      return { ok: true };
    });
    const failed = await load().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(S3Error);
    expect(failed).toMatchObject({ code: 'InternalError', status: 500 });
    expect((failed as S3Error).message).not.toContain('/var/task');
    expect((failed as S3Error).reason).toBe(
      "the filtered log view failed to load: Cannot find module '/var/task/chunk.mjs'",
    );
    expect(await load()).toEqual({ ok: true });
    expect(loads).toBe(2);
  });
});
