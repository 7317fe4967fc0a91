import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllowedSet } from '../../lambda/access/allowed-set';
import type { PartitionMap } from '../../lambda/access/grant';
import type { PartitionColumn } from '../../lambda/delta/snapshot-view';
import { InMemorySnapshot } from './in-memory-snapshot';

const cols = (...c: [string, string, string?][]): PartitionColumn[] =>
  c.map(([logical, type, physical]) => ({ logical, type, physical: physical ?? logical }));

describe('AllowedSet (examples)', () => {
  const columns = cols(['region', 'string'], ['date', 'date']);
  const snapshot = new InMemorySnapshot(columns, [
    { path: 'region=US/date=2024-01-01/a.parquet', values: ['US', '2024-01-01'] },
    { path: 'region=US/date=2024-01-02/b.parquet', values: ['US', '2024-01-02'] },
    { path: 'region=EU/date=2024-01-01/c.parquet', values: ['EU', '2024-01-01'] },
    { path: 'region=__HIVE_DEFAULT_PARTITION__/date=2024-01-01/d.parquet', values: [null, '2024-01-01'] },
    {
      path: 'deletion_vector_shared.bin',
      values: [
        ['US', '2024-01-02'],
        ['EU', '2024-01-01'],
      ],
    },
  ]);
  const readable = (maps: PartitionMap[]) => {
    const set = new AllowedSet(snapshot, maps);
    const out: string[] = [];
    snapshot.forEachFile((p) => {
      if (set.isReadable(p)) out.push(p);
    });
    return out.sort();
  };

  it('grants the whole table with [{}] and nothing with []', () => {
    expect(readable([{}])).toHaveLength(5);
    expect(readable([])).toEqual([]);
  });

  it('requires every key of a map to match, and any map to match', () => {
    expect(readable([{ region: 'US', date: '2024-01-01' }])).toEqual(['region=US/date=2024-01-01/a.parquet']);
    expect(readable([{ region: 'US', date: '2024-01-01' }, { region: 'EU' }])).toEqual([
      'region=EU/date=2024-01-01/c.parquet',
      'region=US/date=2024-01-01/a.parquet',
    ]);
  });

  it('matches a null partition only with a null grant value', () => {
    expect(readable([{ region: null }])).toEqual([
      'region=__HIVE_DEFAULT_PARTITION__/date=2024-01-01/d.parquet',
    ]);
    expect(readable([{ region: 'null' }])).toEqual([]);
    expect(readable([{ region: '__HIVE_DEFAULT_PARTITION__' }])).toEqual([]);
  });

  it('lets a key that is not a partition column, or an unparseable value, match nothing', () => {
    expect(readable([{ country: 'US' }])).toEqual([]);
    expect(readable([{ region: 'US', date: 'yesterday' }])).toEqual([]);
  });

  it('makes a shared DV file readable only when every one of its tuples is allowed', () => {
    // The file holds the vectors of an EU file too: a US-only reader must not have it.
    expect(readable([{ region: 'US', date: '2024-01-02' }])).toEqual(['region=US/date=2024-01-02/b.parquet']);
    expect(readable([{ region: 'US', date: '2024-01-02' }, { region: 'EU' }])).toEqual([
      'deletion_vector_shared.bin',
      'region=EU/date=2024-01-01/c.parquet',
      'region=US/date=2024-01-02/b.parquet',
    ]);
  });

  it('denies paths that are not files of the snapshot', () => {
    const set = new AllowedSet(snapshot, [{}]);
    expect(set.isReadable('region=US/date=2024-01-01/orphan.parquet')).toBe(false);
    expect(set.isReadable('region=US/')).toBe(false);
    expect(set.isReadable('_delta_log/00000000000000000000.json')).toBe(false);
  });

  it('lists only folders that hold a readable file', async () => {
    const set = new AllowedSet(snapshot, [{ region: 'US', date: '2024-01-02' }]);
    expect([...(await set.readableFolders())].sort()).toEqual(['region=US/', 'region=US/date=2024-01-02/']);
    expect((await new AllowedSet(snapshot, []).readableFolders()).size).toBe(0);
  });

  it('speaks logical names under column mapping: the physical name matches nothing', () => {
    const mapped = new InMemorySnapshot(cols(['Company Very Short', 'string', 'col-173b']), [
      { path: 'BH/part-0.parquet', values: ['BMS'] },
      { path: '8v/part-1.parquet', values: ['BME'] },
    ]);
    expect(new AllowedSet(mapped, [{ 'Company Very Short': 'BMS' }]).isReadable('BH/part-0.parquet')).toBe(
      true,
    );
    expect(new AllowedSet(mapped, [{ 'Company Very Short': 'BMS' }]).isReadable('8v/part-1.parquet')).toBe(
      false,
    );
    expect(new AllowedSet(mapped, [{ 'col-173b': 'BMS' }]).isReadable('BH/part-0.parquet')).toBe(false);
  });

  it('matches a timestamp grant in either serialized form (ISO-8601 log value)', () => {
    const ts = new InMemorySnapshot(cols(['ts', 'timestamp']), [
      { path: 'ts=2024-01-01 10%3A00%3A00/a.parquet', values: ['2024-01-01T10:00:00.000000Z'] },
      { path: 'ts=2024-01-02 12%3A30%3A00/b.parquet', values: ['2024-01-02T12:30:00.000000Z'] },
    ]);
    const set = new AllowedSet(ts, [{ ts: '2024-01-01 10:00:00' }]);
    expect(set.isReadable('ts=2024-01-01 10%3A00%3A00/a.parquet')).toBe(true);
    expect(set.isReadable('ts=2024-01-02 12%3A30%3A00/b.parquet')).toBe(false);
  });

  it('reads a table with both timestamp forms: a zoned grant never covers a zone-less value', () => {
    // A table written first by a Spark session in New York (local time, no zone), then by a
    // writer that normalizes to UTC: 05:00 local is 10:00 UTC, another partition than 05:00Z.
    const ts = new InMemorySnapshot(cols(['ts', 'timestamp']), [
      { path: 'old.parquet', values: ['2024-01-01 05:00:00'] },
      { path: 'new.parquet', values: ['2024-01-01T05:00:00.000000Z'] },
    ]);
    const readable = (maps: PartitionMap[]) => {
      const set = new AllowedSet(ts, maps);
      return ['old.parquet', 'new.parquet'].filter((p) => set.isReadable(p));
    };
    expect(readable([{ ts: '2024-01-01T05:00:00Z' }])).toEqual(['new.parquet']);
    expect(readable([{ ts: '2024-01-01T10:00:00Z' }])).toEqual([]);
    expect(readable([{ ts: '2024-01-01 05:00:00' }])).toEqual(['old.parquet', 'new.parquet']);
  });

  it('grants an unpartitioned table only through {}', () => {
    const flat = new InMemorySnapshot([], [{ path: 'part-0.parquet', values: [] }]);
    expect(new AllowedSet(flat, [{}]).isReadable('part-0.parquet')).toBe(true);
    expect(new AllowedSet(flat, [{ a: '1' }]).isReadable('part-0.parquet')).toBe(false);
  });
});

// ---- property test: the bitset decision equals a direct per-file evaluation on semantic values ----

type Sem = string | number | boolean | null | 'BAD';
interface ColSpec {
  column: PartitionColumn;
  /** Semantic values of the column (small domain so grants and files collide). */
  domain: fc.Arbitrary<Sem>;
  /** Serialized forms a writer (file) or an operator (grant) may use for a semantic value. */
  render: (v: Exclude<Sem, null | 'BAD'>) => fc.Arbitrary<string>;
  /** Forms a writer uses, when fewer than `render` (default: the same). */
  renderInLog?: (v: Exclude<Sem, null | 'BAD'>) => fc.Arbitrary<string>;
}

/** A timestamp's forms: with a zone (an instant) and, when `local`, without (wall time in UTC). */
function timestampForms(micros: number, local: boolean): string[] {
  const d = new Date(Math.floor(micros / 1000));
  const base = `${d.toISOString().slice(0, 10)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const frac = pad(micros % 1_000_000, 6);
  const whole = micros % 1_000_000 === 0;
  const zoned = [`${base.replace(' ', 'T')}.${frac}Z`, ...(whole ? [`${base.replace(' ', 'T')}Z`] : [])];
  return local ? [...zoned, `${base}.${frac}`, ...(whole ? [base] : [])] : zoned;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const isoDay = (d: number) => new Date(d * 86_400_000).toISOString().slice(0, 10);

const POOL: ColSpec[] = [
  {
    column: { logical: 'region', physical: 'col-aaa', type: 'string' },
    domain: fc.constantFrom<Sem>('US', 'EU', 'A/A', 'B B', '+ =%0', 'null', '2021.0', '2021', '😈', null),
    render: (v) => fc.constant(String(v)),
  },
  {
    column: { logical: 'day', physical: 'day', type: 'date' },
    domain: fc.constantFrom<Sem>(19_000, 19_001, 19_002, null),
    render: (v) => fc.constant(isoDay(v as number)),
  },
  {
    column: { logical: 'ts', physical: 'col-ts', type: 'timestamp' },
    domain: fc.constantFrom<Sem>(1_704_103_200_000_000, 1_704_103_200_123_456, 1_704_198_600_000_000, null),
    // A zone-less log value is in the writer's zone, unknown: the semantic values here are
    // instants, so the log holds zoned forms (Delta 3+); grants use both (a zone-less one is UTC).
    // Zone-less log values: the examples above.
    render: (v) => fc.constantFrom(...timestampForms(v as number, true)),
    renderInLog: (v) => fc.constantFrom(...timestampForms(v as number, false)),
  },
  {
    column: { logical: 'n', physical: 'n', type: 'int' },
    domain: fc.constantFrom<Sem>(-1, 0, 1, 7, null),
    render: (v) => {
      const n = v as number;
      return fc.constantFrom(String(n), n >= 0 ? `0${n}` : String(n), n >= 0 ? `+${n}` : String(n));
    },
  },
  {
    column: { logical: 'price', physical: 'price', type: 'decimal(5,2)' },
    domain: fc.constantFrom<Sem>(100, 150, 105, null),
    render: (v) => {
      const cents = v as number;
      const s = `${Math.floor(cents / 100)}.${pad(cents % 100)}`;
      return fc.constantFrom(s, s.replace(/0+$/, '').replace(/\.$/, ''), `${s}0`);
    },
  },
  {
    column: { logical: 'active', physical: 'active', type: 'boolean' },
    domain: fc.constantFrom<Sem>(true, false, null),
    render: (v) => fc.constantFrom(String(v), String(v).toUpperCase()),
  },
];

function renderFile(spec: ColSpec, v: Sem): fc.Arbitrary<string | null> {
  // The replay hands null for a null partition; canonical writer forms otherwise.
  return v === null || v === 'BAD' ? fc.constant(null) : (spec.renderInLog ?? spec.render)(v).map((s) => s);
}

function renderGrant(spec: ColSpec, v: Sem): fc.Arbitrary<string | null> {
  if (v === null) return fc.constantFrom(null, '');
  if (v === 'BAD') return fc.constant(spec.column.type === 'string' ? 'never-a-value' : 'garbage');
  return spec.render(v);
}

interface Case {
  specs: ColSpec[];
  files: { path: string; rows: (string | null)[][]; sem: Sem[][] }[];
  maps: { map: PartitionMap; sem: Record<string, Sem | 'UNKNOWN_KEY'> }[];
}

const caseArb: fc.Arbitrary<Case> = fc.subarray(POOL, { minLength: 0, maxLength: 4 }).chain((specs) => {
  const row = fc.tuple(...specs.map((s) => s.domain)) as fc.Arbitrary<Sem[]>;
  const renderRow = (sem: Sem[]) =>
    fc.tuple(...specs.map((s, i) => renderFile(s, sem[i]!))) as fc.Arbitrary<(string | null)[]>;
  const file = fc
    .array(row, { minLength: 1, maxLength: 3 })
    .chain((sems) => fc.tuple(fc.constant(sems), fc.tuple(...sems.map(renderRow))));
  const mapEntry = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: Math.max(0, specs.length - 1) }) },
    { weight: 1, arbitrary: fc.constantFrom('physical', 'unknown') },
  );
  const map = fc
    .uniqueArray(mapEntry, { maxLength: Math.min(3, specs.length + 1) })
    .chain((entries) =>
      fc.tuple(
        ...entries.map((e) => {
          if (typeof e === 'number' && specs[e]) {
            const spec = specs[e];
            const sem = fc.oneof(
              { weight: 8, arbitrary: spec.domain },
              { weight: 1, arbitrary: fc.constant<Sem>('BAD') },
            );
            return sem.chain((s) =>
              renderGrant(spec, s).map(
                (text) => [spec.column.logical, text, s] as [string, string | null, Sem],
              ),
            );
          }
          // A physical name under column mapping, or a key that is no column: matches nothing.
          const name = e === 'physical' && specs[0] ? specs[0].column.physical : 'no_such_column';
          const unknown = name === specs[0]?.column.logical ? 'no_such_column' : name;
          return fc.constant([unknown, 'x', 'UNKNOWN_KEY'] as [string, string | null, Sem | 'UNKNOWN_KEY']);
        }),
      ),
    )
    .map((entries) => ({
      map: Object.fromEntries(entries.map(([k, t]) => [k, t])) as PartitionMap,
      sem: Object.fromEntries(entries.map(([k, , s]) => [k, s])),
    }));
  return fc.record({
    specs: fc.constant(specs),
    files: fc.array(file, { minLength: 1, maxLength: 25 }).map((fs) =>
      fs.map(([sem, rows], i) => ({
        path:
          rows.length > 1 ? `deletion_vector_${i}.bin` : `${renderPath(specs, rows[0]!)}part-${i}.parquet`,
        rows,
        sem,
      })),
    ),
    maps: fc.array(map, { maxLength: 6 }),
  });
});

function renderPath(specs: ColSpec[], row: (string | null)[]): string {
  return specs.map((s, i) => `${s.column.physical}=${row[i] ?? '__HIVE_DEFAULT_PARTITION__'}/`).join('');
}

/**
 * The straightforward decision: per file, per map, per key, on semantic values. A file of several
 * rows (a shared DV file) needs every row allowed.
 */
function referenceReadable(c: Case, file: Case['files'][number]): boolean {
  return file.sem.every((semRow) =>
    c.maps.some(({ sem }) =>
      Object.entries(sem).every(([key, want]) => {
        const col = c.specs.findIndex((s) => s.column.logical === key);
        if (col < 0 || want === 'UNKNOWN_KEY' || want === 'BAD') return false;
        return semRow[col] === want;
      }),
    ),
  );
}

describe('AllowedSet (properties)', () => {
  it('decides every file exactly as a direct evaluation of the maps on typed values', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const snapshot = new InMemorySnapshot(
          c.specs.map((s) => s.column),
          c.files.map((f) => ({ path: f.path, values: f.rows.length > 1 ? f.rows : f.rows[0]! })),
        );
        const set = new AllowedSet(
          snapshot,
          c.maps.map((m) => m.map),
        );
        const folders = new Set<string>();
        for (const f of c.files) {
          const want = referenceReadable(c, f);
          expect(set.isReadable(f.path)).toBe(want);
          if (want) {
            const parts = f.path.split('/').slice(0, -1);
            for (let i = 1; i <= parts.length; i++) folders.add(`${parts.slice(0, i).join('/')}/`);
          }
        }
        expect(set.isReadable('not/in/the/snapshot.parquet')).toBe(false);
        expect(new Set(await set.readableFolders())).toEqual(folders);
      }),
      { numRuns: 400 },
    );
  });
});
