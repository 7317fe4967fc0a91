import { describe, expect, it } from 'vitest';
import { StreamShares } from '../../lambda/pipeline/stream-shares';

/** Takes streams for `principal` until refused (bounded), returning the releases taken. */
function takeAll(shares: StreamShares, principal: string, max = 1000): Array<() => void> {
  const taken: Array<() => void> = [];
  for (let i = 0; i < max; i++) {
    try {
      taken.push(shares.acquire(principal));
    } catch (err) {
      expect(err).toMatchObject({ code: 'SlowDown', status: 503 });
      return taken;
    }
  }
  return taken;
}

describe('stream shares', () => {
  it('lets a lone principal use the pool but one share, leaving a share for whoever comes next', () => {
    const shares = new StreamShares(64, 256);
    expect(takeAll(shares, 'spark')).toHaveLength(192);
    expect(takeAll(shares, 'analyst')).toHaveLength(64);
  });

  it("always grants a principal's own share, even on a pool already full", () => {
    const shares = new StreamShares(3, 8);
    expect(takeAll(shares, 'a')).toHaveLength(5);
    expect(takeAll(shares, 'b')).toHaveLength(3); // 8 held: b's share is within the pool
    expect(takeAll(shares, 'c')).toHaveLength(3); // beyond the pool: c waits for a socket, never a 503
  });

  it('takes nothing beyond a share while others hold the pool, and again once they release', () => {
    const shares = new StreamShares(2, 6);
    const others = [...takeAll(shares, 'b'), ...takeAll(shares, 'c')];
    expect(others).toHaveLength(6); // b: 2 + 2 beyond (4 held + a share ≤ 6), c: its own 2
    expect(takeAll(shares, 'a')).toHaveLength(2); // its own share only
    for (const release of others) release();
    expect(takeAll(shares, 'a')).toHaveLength(2); // 2 held by a: two more beyond, 4 + 2 ≤ 6
  });

  it('counts a release once, however often it is called', () => {
    const shares = new StreamShares(1, 1);
    const release = shares.acquire('a');
    release();
    release();
    const again = shares.acquire('a');
    expect(() => shares.acquire('a')).toThrow(expect.objectContaining({ code: 'SlowDown' }));
    expect(() => shares.acquire('b')).not.toThrow(); // b's own share
    again();
  });

  it('without a pool size, never goes beyond a share', () => {
    const shares = new StreamShares(4);
    expect(takeAll(shares, 'a')).toHaveLength(4);
  });
});
