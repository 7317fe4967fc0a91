/**
 * A small partitioned Delta table written straight into a bucket, and the grant rule the proxy
 * applies to its files (README "Access control"), for tests that model who may read what.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PartitionMap } from '../../lambda/access/grant';
import { DeltaTableWriter } from '../../lambda/local/delta-writer';

export interface LakeFile {
  table: string;
  /** The data file's key under the table (decoded). */
  key: string;
  values: Record<string, string | null>;
}

export interface LakeTable {
  alias: string;
  /** Partition columns and their type. */
  columns: Record<string, 'string' | 'date'>;
  files: LakeFile[];
}

/** Table `alias` under `tables/<alias>/` of `bucket`: one data file per row of partition values. */
export async function writeLakeTable(
  s3: S3Client,
  bucket: string,
  alias: string,
  columns: Record<string, 'string' | 'date'>,
  rows: Record<string, string | null>[],
): Promise<LakeTable> {
  const prefix = `tables/${alias}/`;
  const writer = new DeltaTableWriter(
    {
      async put(rel, bytes) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + rel, Body: bytes }));
      },
    },
    {
      schema: [
        { name: 'id', type: 'long' },
        ...Object.entries(columns).map(([name, type]) => ({ name, type })),
      ],
      partitionColumns: Object.keys(columns),
    },
  );
  await writer.create();
  const adds = [];
  for (const [i, values] of rows.entries())
    adds.push(await writer.writeDataFile(values, [{ id: i, ...values }]));
  await writer.commit({ add: adds });
  return {
    alias,
    columns,
    files: adds.map((a, i) => ({ table: alias, key: decodeURIComponent(a.path), values: rows[i]! })),
  };
}

/** The grant column a map key names: exact, else the only one equal ignoring case (README). */
function column(table: LakeTable, name: string): string | undefined {
  if (name in table.columns) return name;
  const folded = Object.keys(table.columns).filter((c) => c.toLowerCase() === name.toLowerCase());
  return folded.length === 1 ? folded[0] : undefined;
}

/** Whether one partition map grants `file` (null or "" grants the null partition). */
export function mapMatches(table: LakeTable, map: PartitionMap, file: LakeFile): boolean {
  return Object.entries(map).every(([k, v]) => {
    const c = column(table, k);
    if (c === undefined) return false;
    const fileValue = file.values[c] ?? null;
    return v === null || v === '' ? fileValue === null : fileValue === v;
  });
}

const decodeXml = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_m, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, '&');

/** The decoded text of every `<tag>` element of an S3 XML document. */
export const tagValues = (xml: string, tag: string): string[] =>
  [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => decodeXml(m[1]!));
