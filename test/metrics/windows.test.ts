/**
 * The "last minute" windows, exactly as the README defines them: at time t they hold what was
 * recorded during the current second and the 59 seconds before it.
 */
import { describe, expect, it } from 'vitest';
import { WindowedDistinct, WindowedMean } from '../../lambda/metrics/windows';

function fakeClock(startMs = 1_700_000_000_000) {
  const clock = { ms: startMs, now: () => clock.ms };
  return clock;
}

describe('WindowedMean (backend_reply_latency_seconds_avg, average_message_size_bytes)', () => {
  it('is NaN before anything was recorded, then the mean of what was', () => {
    const clock = fakeClock();
    const mean = new WindowedMean(clock);
    expect(mean.mean()).toBeNaN();
    mean.record(100);
    mean.record(300);
    expect(mean.mean()).toBe(200);
  });

  it('keeps a value through the 59 whole seconds after its own and drops it at the 60th', () => {
    const clock = fakeClock(1_700_000_000_000); // an exact second boundary
    const mean = new WindowedMean(clock);
    clock.ms += 999; // late in second S
    mean.record(10);
    clock.ms += 1; // second S+1
    mean.record(30);
    clock.ms += 58_000; // second S+59: both still inside
    expect(mean.mean()).toBe(20);
    clock.ms += 999; // still S+59
    expect(mean.mean()).toBe(20);
    clock.ms += 1; // S+60: the value of second S has left, that of S+1 has not
    expect(mean.mean()).toBe(30);
    clock.ms += 1_000; // S+61
    expect(mean.mean()).toBeNaN();
  });

  it('does not mix a reused slot with what it held a minute earlier', () => {
    const clock = fakeClock();
    const mean = new WindowedMean(clock);
    mean.record(1_000);
    clock.ms += 60_000; // the same slot, one window later
    mean.record(2);
    expect(mean.mean()).toBe(2);
  });

  it('averages over every value of the window, not over seconds', () => {
    const clock = fakeClock();
    const mean = new WindowedMean(clock);
    for (let i = 0; i < 9; i++) mean.record(1);
    clock.ms += 5_000;
    mean.record(11);
    expect(mean.mean()).toBe(2); // (9 × 1 + 11) / 10
  });
});

describe('WindowedDistinct (unique_users_last_minute)', () => {
  it('counts each key once however often it is seen', () => {
    const clock = fakeClock();
    const users = new WindowedDistinct(clock);
    expect(users.count()).toBe(0);
    for (let i = 0; i < 5; i++) users.record('AKIA1');
    users.record('AKIA2');
    expect(users.count()).toBe(2);
  });

  it('forgets a key 60 seconds after the second it was last seen in', () => {
    const clock = fakeClock(1_700_000_000_000);
    const users = new WindowedDistinct(clock);
    users.record('AKIA1');
    clock.ms += 30_000;
    users.record('AKIA2');
    users.record('AKIA1'); // seen again: its minute starts again
    clock.ms += 59_999; // AKIA1 and AKIA2 last seen in second S+30; now S+89
    expect(users.count()).toBe(2);
    clock.ms += 1; // S+90
    expect(users.count()).toBe(0);
  });

  it('stays bounded by the keys of the last minutes even when nobody reads the count', () => {
    const clock = fakeClock();
    const users = new WindowedDistinct(clock);
    for (let minute = 0; minute < 10; minute++) {
      for (let i = 0; i < 1_000; i++) users.record(`AKIA-${minute}-${i}`);
      clock.ms += 61_000;
    }
    users.record('last');
    // The sweep runs at most once a minute, so at most two minutes of keys are held.
    expect((users as unknown as { lastSeen: Map<string, number> }).lastSeen.size).toBeLessThanOrEqual(2_001);
    expect(users.count()).toBe(1);
  });
});
