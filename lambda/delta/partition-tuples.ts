/**
 * Interned partition tuples: every distinct combination of partition values gets a small
 * integer, so a file costs one number and authorization is decided once per tuple. Lookup walks
 * a trie of Maps (one level per partition column) and allocates nothing for a known tuple.
 */
type Node = Map<string | null, Node | number>;

export class PartitionTuples {
  private readonly root: Node = new Map();
  private readonly values: (readonly (string | null)[])[] = [];
  /** Rough bytes held, for the cache's budget. */
  estimatedBytes = 0;

  constructor(readonly width: number) {
    if (width === 0) this.values.push([]);
  }

  get count(): number {
    return this.values.length;
  }

  tupleValues(t: number): readonly (string | null)[] {
    const v = this.values[t];
    if (!v) throw new RangeError(`no partition tuple ${t}`);
    return v;
  }

  /** The tuple id of `vals` (length = width), creating it when new. `vals` is copied, never kept. */
  intern(vals: readonly (string | null)[]): number {
    if (this.width === 0) return 0;
    let node = this.root;
    const last = this.width - 1;
    for (let i = 0; i < last; i++) {
      const v = vals[i] ?? null;
      let next = node.get(v);
      if (next === undefined) {
        next = new Map();
        node.set(v, next);
        this.estimatedBytes += 64 + (v?.length ?? 0);
      }
      node = next as Node;
    }
    const lv = vals[last] ?? null;
    const found = node.get(lv);
    if (found !== undefined) return found as number;
    const t = this.values.length;
    this.values.push(vals.slice(0, this.width).map((x) => x ?? null));
    node.set(lv, t);
    this.estimatedBytes += 48 + 16 * this.width + (lv?.length ?? 0) * 2;
    return t;
  }
}
