/**
 * Where a caller's grants come from, and how they combine (the union counts, default deny):
 * - `grants` in the config: per principal name.
 * - `allowedPartitions` in the config: every *authenticated* principal gets these.
 * - DynamoDB (dynamodb-grant-store.ts) when databaseEnabled.
 *
 * Anonymous callers: the principal name "anonymous" (core/principal.ts ANONYMOUS) is reserved for
 * them. They get only grants written for principal "anonymous"; `allowedPartitions` do not apply.
 * (Keys must therefore never be issued to a principal named "anonymous"; the admin CLI refuses.)
 *
 * Stores return the same array object for the same answer while it is cached, so that
 * effectivePartitions and the allowed-set cache can recognise an unchanged answer by identity.
 */
import { ANONYMOUS } from '../core/principal';
import type { Grant, GrantStore, PartitionMap } from './grant';

export interface ConfigGrantSource {
  grants?: readonly Grant[];
  allowedPartitions?: Readonly<Record<string, readonly PartitionMap[]>>;
}

export const ANONYMOUS_PRINCIPAL = ANONYMOUS.name;

export class ConfigGrantStore implements GrantStore {
  private readonly byPrincipal = new Map<string, readonly Grant[]>();
  /** What an authenticated principal with no grant of its own in the config gets. */
  private readonly forAuthenticated: readonly Grant[];

  constructor(source: ConfigGrantSource) {
    const allowed = Object.freeze(
      Object.entries(source.allowedPartitions ?? {}).map(([table, partitions]) =>
        Object.freeze({ principal: '*', table, partitions }),
      ),
    );
    this.forAuthenticated = allowed;
    const own = new Map<string, Grant[]>();
    for (const g of source.grants ?? []) {
      const list = own.get(g.principal) ?? [];
      list.push(g);
      own.set(g.principal, list);
    }
    for (const [principal, list] of own) {
      const all = principal === ANONYMOUS_PRINCIPAL ? list : [...list, ...allowed];
      this.byPrincipal.set(principal, Object.freeze(all));
    }
    if (!this.byPrincipal.has(ANONYMOUS_PRINCIPAL))
      this.byPrincipal.set(ANONYMOUS_PRINCIPAL, Object.freeze([]));
  }

  async grantsFor(principal: string): Promise<readonly Grant[]> {
    return this.byPrincipal.get(principal) ?? this.forAuthenticated;
  }
}

/**
 * The union of several stores. Any store failing fails the whole lookup (fail closed: a partial
 * answer could hide nothing, but a thrown error keeps the behaviour predictable and visible).
 */
export class UnionGrantStore implements GrantStore {
  private readonly memo = new Map<
    string,
    { parts: readonly (readonly Grant[])[]; union: readonly Grant[] }
  >();

  constructor(
    private readonly stores: readonly GrantStore[],
    private readonly maxMemo = 4096,
  ) {}

  /** Principals whose union is memoized (bounded by maxMemo). */
  get memoSize(): number {
    return this.memo.size;
  }

  async grantsFor(principal: string): Promise<readonly Grant[]> {
    const parts = await Promise.all(this.stores.map((s) => s.grantsFor(principal)));
    const last = this.memo.get(principal);
    if (last && last.parts.length === parts.length && last.parts.every((p, i) => p === parts[i])) {
      return last.union;
    }
    const union = Object.freeze(parts.flat());
    if (this.memo.size >= this.maxMemo) this.memo.clear();
    this.memo.set(principal, { parts, union });
    return union;
  }
}

const effectiveMemo = new WeakMap<readonly Grant[], Map<string, readonly PartitionMap[] | undefined>>();

/**
 * The partition maps a caller holds on one table: undefined when no grant names the table (the
 * caller must not be able to tell it from a table that does not exist); `[]` when grants exist but
 * list no map (the table is visible, no file is readable); `[{}]` when any map grants the whole table.
 * Memoized per grants array, so a cached store answer costs one map lookup.
 */
export function effectivePartitions(
  grants: readonly Grant[],
  table: string,
): readonly PartitionMap[] | undefined {
  let perTable = effectiveMemo.get(grants);
  if (!perTable) {
    perTable = new Map();
    effectiveMemo.set(grants, perTable);
  }
  if (perTable.has(table)) return perTable.get(table);
  let found = false;
  const maps: PartitionMap[] = [];
  const seen = new Set<string>();
  let all = false;
  for (const g of grants) {
    if (g.table !== table) continue;
    found = true;
    for (const m of g.partitions) {
      if (Object.keys(m).length === 0) all = true;
      const key = JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      if (seen.has(key)) continue;
      seen.add(key);
      maps.push(m);
    }
  }
  const result = !found ? undefined : Object.freeze(all ? [Object.freeze({})] : maps);
  perTable.set(table, result);
  return result;
}

/** Tables (aliases) the caller holds any grant on, e.g. for ListBuckets-like views of the aliases. */
export function grantedTables(grants: readonly Grant[]): ReadonlySet<string> {
  return new Set(grants.map((g) => g.table));
}
