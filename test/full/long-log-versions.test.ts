/**
 * A new version of a long log costs the filtered view what it changed, not the whole log: the log
 * and the listing's keys of each new version are made from those of the version before
 * (next-real-log.ts), walking the files listed again (the last ~10 versions) and the new ones. The
 * count the view reports (`logEntriesWalked`, the `..._entries_walked_total` metric) shows it;
 * before, every version walked every held file and made every key again. What is shown must be
 * what a view walking the whole log shows, also after a late checkpoint, a log cleanup (the oldest
 * version moves), a checkpoint found unreadable, and for readers alternating between an older and
 * a newer snapshot.
 */
import { describe, expect, it } from 'vitest';
import { fileGrantOf } from '../../lambda/access/file-grant';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { FilteredLogView, type LogViewRequest } from '../../lambda/log-view/filtered-log-view';
import { MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { checkpointKey, commitKey } from '../helpers/log-text';

const URI = 's3://bucket/t';
/** Commits; a checkpoint every 100. */
const COMMITS = 5_000;
const eu = (v: number) => ({ path: `region=EU/${v}.parquet`, partitionValues: { region: 'EU' } });
const addOf = (v: number) => ({
  add: { ...eu(v), size: 1, modificationTime: v, dataChange: true },
});

async function longLog() {
  const s = new MemoryDeltaStorage();
  s.lastModified = new Date(1);
  s.commit(0, [protocolV1, metaData(['region'])]);
  for (let v = 1; v < COMMITS; v++) {
    s.commit(v, [{ commitInfo: { timestamp: v } }, addOf(v)]);
    if (v % 100 === 0) await s.checkpoint(v, [eu(v)]);
  }
  return s;
}

async function requestOf(s: MemoryDeltaStorage): Promise<LogViewRequest> {
  const snapshot = await loadSnapshot(s, { tableUri: URI });
  return {
    tableUri: URI,
    storage: s,
    snapshot,
    grant: fileGrantOf(snapshot.partitionColumns, [{ region: 'EU' }]),
  };
}

/** What a reader of the newest version sees: the listing's keys, the newest commit, the hint. */
async function shown(view: FilteredLogView, req: LogViewRequest) {
  const keys = (await view.folder(req)).keys;
  const text = async (key: string) => {
    const o = await view.object(req, key);
    return o && new TextDecoder().decode(o.body);
  };
  return {
    keys,
    newest: await text(commitKey(req.snapshot.version)),
    hint: await text('_delta_log/_last_checkpoint'),
  };
}

/** A commit at `v`; what the view shows then, the entries it walked for it, and a whole walk's view. */
async function nextVersion(s: MemoryDeltaStorage, view: FilteredLogView, v: number) {
  s.commit(v, [{ commitInfo: { timestamp: v } }, addOf(v)]);
  const req = await requestOf(s);
  const before = view.stats().logEntriesWalked;
  const seen = await shown(view, req);
  const walked = view.stats().logEntriesWalked - before;
  const whole = await shown(new FilteredLogView({ budgetBytes: () => 1 << 28 }), req);
  return { seen, walked, whole };
}

describe(`a new version of a ${COMMITS.toLocaleString('en')}-commit log`, { timeout: 60_000 }, () => {
  it('walks the files it changed, not the whole log, and shows what a whole walk shows', async () => {
    const s = await longLog();
    const view = new FilteredLogView({ budgetBytes: () => 1 << 28 });
    await shown(view, await requestOf(s));
    // The first listing walks the whole log: every file, then every key.
    expect(view.stats().logEntriesWalked).toBeGreaterThanOrEqual(2 * COMMITS);
    for (let v = COMMITS; v < COMMITS + 5; v++) {
      const r = await nextVersion(s, view, v);
      expect(r.seen).toEqual(r.whole);
      expect(r.seen.newest).toContain(`region=EU/${v}.parquet`);
      // The last ~10 versions listed again (held-log-listing.ts), their keys, and the new one.
      expect(r.walked).toBeLessThan(50);
    }
  });

  it('walks the versions in between for readers alternating between an older and a newer snapshot', async () => {
    const s = await longLog();
    const view = new FilteredLogView({ budgetBytes: () => 1 << 28 });
    await shown(view, await requestOf(s));
    const whole = () => new FilteredLogView({ budgetBytes: () => 1 << 28 });
    for (let v = COMMITS; v < COMMITS + 3; v++) {
      // A reader 40 versions behind (more than the listing lists again), then one of the newest.
      const old = await requestOf(s);
      const lagging = { ...old, snapshot: await loadSnapshot(s, { tableUri: URI, version: v - 40 }) };
      let walked = view.stats().logEntriesWalked;
      expect(await shown(view, lagging)).toEqual(await shown(whole(), lagging));
      expect(view.stats().logEntriesWalked - walked).toBeLessThan(50);
      walked = view.stats().logEntriesWalked;
      const r = await nextVersion(s, view, v);
      expect(r.seen).toEqual(r.whole);
      // The 40 versions after the older snapshot's, their keys, the new one.
      expect(view.stats().logEntriesWalked - walked).toBeLessThan(150);
    }
  });

  it('walks the whole log per version when told to (the bench baseline), as before', async () => {
    const s = await longLog();
    const view = new FilteredLogView({ budgetBytes: () => 1 << 28, wholeLogPerVersion: true });
    await shown(view, await requestOf(s));
    const r = await nextVersion(s, view, COMMITS);
    expect(r.seen).toEqual(r.whole);
    expect(r.walked).toBeGreaterThanOrEqual(2 * COMMITS);
  });

  it('shows a checkpoint written late, a log cleanup and an unreadable checkpoint as a whole walk does', async () => {
    const s = await longLog();
    const view = new FilteredLogView({ budgetBytes: () => 1 << 28 });
    await shown(view, await requestOf(s));
    let v = COMMITS;
    // A checkpoint at the new version, then one written late (after two more commits).
    await s.checkpoint(v, [eu(v)]);
    let r = await nextVersion(s, view, v);
    expect(r.seen).toEqual(r.whole);
    expect(JSON.parse(r.seen.hint!).version).toBe(v);
    await nextVersion(s, view, ++v);
    await nextVersion(s, view, ++v);
    await s.checkpoint(v - 1, [eu(v - 1)]);
    r = await nextVersion(s, view, ++v);
    expect(r.seen).toEqual(r.whole);
    expect(r.seen.keys).toContain(checkpointKey(v - 2));
    expect(r.walked).toBeLessThan(50);

    // A log cleanup of the versions before the checkpoint at 200: the oldest version moves.
    for (const key of [...s.files.keys()]) {
      const m = /^_delta_log\/(\d{20})\./.exec(key);
      if (m && Number(m[1]) < 200) s.files.delete(key);
    }
    r = await nextVersion(s, view, ++v);
    expect(r.seen).toEqual(r.whole);
    expect(r.seen.keys[0]).toBe(checkpointKey(200));
    expect(r.walked).toBeLessThan(50);
    r = await nextVersion(s, view, ++v);
    expect(r.seen).toEqual(r.whole);
    expect(r.walked).toBeLessThan(50);

    // An unreadable checkpoint at the new version: the hint falls back to the one before it.
    s.put(checkpointKey(v + 1), 'not parquet, a failed write');
    r = await nextVersion(s, view, ++v);
    expect(JSON.parse(r.seen.hint!).version).toBe(COMMITS + 1);
    expect(r.seen.hint).toEqual(r.whole.hint);
    r = await nextVersion(s, view, ++v);
    expect(r.seen).toEqual(r.whole);
  });
});
