/** A document written a slice at a time is the same bytes as one written whole. */
import { describe, expect, it } from 'vitest';
import { el, root, toXml, toXmlInSlices, XmlSequence } from '../../lambda/s3/xml';

/** Keys a listing may hold: escaped characters, C0 controls, multi-byte UTF-8, long ones. */
const KEYS = ['a&b<c>"d\'e', 'tab\there\u0001', 'déjà/vu/€/𝄞', 'k'.repeat(1024), 'plain'];

function listing(n: number) {
  const entries = Array.from({ length: n }, (_, i) => `${KEYS[i % KEYS.length]}-${i}`);
  return root(
    'ListBucketResult',
    el('Name', 'datalake'),
    el('IsTruncated', false),
    new XmlSequence(entries.map((k) => el('Contents', el('Key', k), el('Size', k.length)))),
    new XmlSequence(entries.map((k) => el('CommonPrefixes', el('Prefix', `${k}/`)))),
    el('KeyCount', n),
  );
}

describe('toXmlInSlices', () => {
  it('writes the UTF-8 bytes of the whole document when it takes several slices', async () => {
    const out = await toXmlInSlices(listing(300), 4096);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(out as Uint8Array).equals(Buffer.from(toXml(listing(300))))).toBe(true);
  });

  it('gives the same string as toXml when the document fits in one slice', async () => {
    const out = await toXmlInSlices(listing(3), 1 << 20);
    expect(out).toBe(toXml(listing(3)));
  });
});
