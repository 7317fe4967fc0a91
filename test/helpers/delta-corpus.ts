/** Where the shared corpus of real Delta tables lives, and what MANIFEST.md says about each. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const corpusDir = path.resolve(repoRoot, '../shared/delta-tables');
export const corpusPresent = existsSync(path.join(corpusDir, 'MANIFEST.md'));
export const corpusSkipReason = `../shared/delta-tables not found at ${corpusDir}: corpus tests skipped`;

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
