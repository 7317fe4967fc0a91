/**
 * `_delta_log/_last_checkpoint`: only a hint. It may be missing, stale (a newer checkpoint
 * exists), point at a checkpoint that is gone, or use delta-rs 0.17's `size_in_bytes`
 * spelling. The log segment lists past it and never trusts it blindly. Read with one GET (the
 * common case: it exists).
 */
import { type DeltaStorage, isNotFound } from './delta-storage';
import { LAST_CHECKPOINT } from './log-path';

export interface LastCheckpointHint {
  version: number;
  parts?: number;
}

export async function readLastCheckpointHint(storage: DeltaStorage): Promise<LastCheckpointHint | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await storage.read(LAST_CHECKPOINT);
  } catch (e) {
    // A 403 for it is told from absence by a listing (deltaStorageFromBackend).
    if (isNotFound(e)) return undefined;
    throw e;
  }
  return parseLastCheckpointHint(new TextDecoder().decode(bytes));
}

/** An unparsable hint is treated as absent (a writer may have died mid-write). */
export function parseLastCheckpointHint(text: string): LastCheckpointHint | undefined {
  try {
    const j = JSON.parse(text) as { version?: unknown; parts?: unknown };
    if (typeof j.version !== 'number' || !Number.isSafeInteger(j.version) || j.version < 0) return undefined;
    return typeof j.parts === 'number' ? { version: j.version, parts: j.parts } : { version: j.version };
  } catch {
    return undefined;
  }
}
