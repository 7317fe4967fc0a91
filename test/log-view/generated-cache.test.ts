import { describe, expect, it } from 'vitest';
import { GeneratedCache } from '../../lambda/log-view/generated-cache';

const item = (bytes: number) => ({ bytes });

describe('the generated-file cache', () => {
  it('generates once for concurrent requests of the same key', async () => {
    const cache = new GeneratedCache(() => 1000);
    let made = 0;
    const make = async () => {
      made++;
      await new Promise((r) => setTimeout(r, 5));
      return item(10);
    };
    const [a, b, c] = await Promise.all([cache.get('k', make), cache.get('k', make), cache.get('k', make)]);
    expect(made).toBe(1);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1, entries: 1, bytes: 10 });
  });

  it('does not keep a failed generation', async () => {
    const cache = new GeneratedCache(() => 1000);
    await expect(cache.get('k', () => Promise.reject(new Error('backend down')))).rejects.toThrow(
      'backend down',
    );
    await expect(cache.get('k', async () => item(1))).resolves.toEqual(item(1));
  });

  it('evicts least recently used entries for a more used newcomer, within a budget that can shrink as snapshots grow', async () => {
    let budget = 30;
    const cache = new GeneratedCache(() => budget);
    await cache.get('a', async () => item(10));
    await cache.get('b', async () => item(10));
    await cache.get('c', async () => item(10));
    await cache.get('a', async () => item(99)); // a is now the most recently used
    await cache.get('d', async () => item(10)); // no more used than b: served, not kept
    expect(cache.stats()).toMatchObject({ entries: 3, bytes: 30, evictions: 0, notAdmitted: 1 });
    await cache.get('d', async () => item(10)); // now used more than b
    expect(cache.stats()).toMatchObject({ entries: 3, bytes: 30, evictions: 1 });
    let remade = 0;
    await cache.get('b', async () => {
      remade++;
      return item(10);
    });
    expect(remade).toBe(1); // b was the one evicted
    budget = 10;
    cache.evict();
    expect(cache.stats().bytes).toBeLessThanOrEqual(10);
  });
});
