/**
 * Where the shared corpus of real Delta tables lives (../shared/delta-tables beside the clone;
 * DELTA_CORPUS_DIR points elsewhere, e.g. at nothing to check that every corpus suite skips),
 * and what MANIFEST.md says about each table.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const corpusDir = path.resolve(
  repoRoot,
  process.env.DELTA_CORPUS_DIR || path.join('..', 'shared', 'delta-tables'),
);
export const corpusPresent = existsSync(path.join(corpusDir, 'MANIFEST.md'));
/** The skip reason of every corpus test; undefined when the corpus is here. */
export const corpusMissing: string | undefined = corpusPresent
  ? undefined
  : `needs the Delta corpus at ${corpusDir}`;

/** One table of the corpus: its directory, and the skip reason when it is absent. */
export function corpusTable(name: string): { dir: string; missing: string | undefined } {
  const dir = path.join(corpusDir, name);
  return { dir, missing: existsSync(dir) ? undefined : (corpusMissing ?? `needs the corpus table ${dir}`) };
}

export function corpusTables(): string[] {
  if (!corpusPresent) return [];
  return readdirSync(corpusDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('_'))
    .map((d) => d.name)
    .sort();
}

export interface ManifestRow {
  latest: number;
  /** "Active (ours)": the leading number of the cell. */
  active: number;
  /** "(N with DV; …)" when stated. */
  withDv?: number;
}

/** Parses the MANIFEST.md table list. */
export function manifestRows(): Map<string, ManifestRow> {
  const out = new Map<string, ManifestRow>();
  if (!corpusPresent) return out;
  for (const line of readFileSync(path.join(corpusDir, 'MANIFEST.md'), 'utf8').split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`([^`]+)`$/.exec(cells[1] ?? '')?.[1];
    if (!name || cells.length < 9) continue;
    const latest = Number(cells[4]);
    const activeCell = cells[8]!;
    const active = Number(/^(\d+)/.exec(activeCell)?.[1]);
    const withDv =
      /(\d+) with DV/.exec(activeCell)?.[1] ?? (/both with DV/.test(activeCell) ? '2' : undefined);
    if (Number.isFinite(latest) && Number.isFinite(active)) {
      out.set(name, { latest, active, ...(withDv ? { withDv: Number(withDv) } : {}) });
    }
  }
  return out;
}
