/**
 * ListObjectsV2 pages read from their raw XML (lambda/storage/list-page-xml.ts): every field the
 * proxy uses, keys with characters XML escapes, and documents it must refuse rather than misread.
 * S3Backend reads every page this way; the listing suites run it against s3rver and moto.
 */
import { describe, expect, it } from 'vitest';
import { decodeXmlText, parseListPage } from '../../lambda/storage/list-page-xml';

const page = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>lake</Name><Prefix>t/</Prefix>${body}</ListBucketResult>`;
const contents = (key: string, size = 3, extra = '') =>
  `<Contents><Key>${key}</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>${size}</Size>${extra}</Contents>`;

describe('a ListObjectsV2 page from its XML', () => {
  it('reads objects, common prefixes, truncation and the continuation token', async () => {
    const xml = page(
      `<KeyCount>3</KeyCount><MaxKeys>3</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>1ab/c+d=</NextContinuationToken>${contents('t/a.json', 10, '<StorageClass>STANDARD</StorageClass>')}${contents('t/b.json', 0)}<CommonPrefixes><Prefix>t/_delta_log/</Prefix></CommonPrefixes>`,
    );
    expect(await parseListPage(xml)).toEqual({
      objects: [
        {
          key: 't/a.json',
          size: 10,
          etag: '"abc"',
          lastModified: new Date('2026-01-02T03:04:05.000Z'),
          storageClass: 'STANDARD',
        },
        { key: 't/b.json', size: 0, etag: '"abc"', lastModified: new Date('2026-01-02T03:04:05.000Z') },
      ],
      commonPrefixes: ['t/_delta_log/'],
      isTruncated: true,
      nextContinuationToken: '1ab/c+d=',
    });
  });

  it('decodes what XML escapes in keys and prefixes, and leaves the rest as sent', async () => {
    const xml = page(
      `<IsTruncated>false</IsTruncated>${contents('t/a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos; %2F é.json')}${contents('t/&#13;&#x1F600;')}<CommonPrefixes><Prefix>t/region=EU&amp;US/</Prefix></CommonPrefixes>`,
    );
    const out = await parseListPage(xml);
    expect(out.objects.map((o) => o.key)).toEqual([`t/a&b <c> "d" 'e' %2F é.json`, 't/\r😀']);
    expect(out.commonPrefixes).toEqual(['t/region=EU&US/']);
    expect(out.isTruncated).toBe(false);
    expect(out.nextContinuationToken).toBeUndefined();
  });

  it('reads an empty page', async () => {
    expect(await parseListPage(page('<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>'))).toEqual({
      objects: [],
      commonPrefixes: [],
      isTruncated: false,
    });
  });

  it('reads a page of 1,000 keys in order, whitespace between elements or not', async () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `t/_delta_log/${String(i).padStart(20, '0')}.json`);
    const xml = page(
      `<IsTruncated>false</IsTruncated>\n  ${keys.map((k, i) => contents(k, i)).join('\n  ')}\n`,
    );
    const out = await parseListPage(xml);
    expect(out.objects.map((o) => o.key)).toEqual(keys);
    expect(out.objects.map((o) => o.size)).toEqual(keys.map((_, i) => i));
  });

  it.each([
    ['another document', '<Error><Code>AccessDenied</Code></Error>'],
    [
      'an entry without its key',
      page('<Contents><Size>1</Size><LastModified>2026-01-02T03:04:05Z</LastModified></Contents>'),
    ],
    ['a size that is not a byte count', page(contents('t/a', -1))],
    ['a date that is not one', page(contents('t/a').replace('2026-01-02T03:04:05.000Z', 'yesterday'))],
    ['an unterminated entry', page(contents('t/a').replace('</Contents>', ''))],
    ['an unknown entity', page(contents('t/a&nbsp;b'))],
    ['a bare ampersand', page(contents('t/a & b'))],
  ])('refuses %s rather than misread it', async (_, xml) => {
    await expect(parseListPage(xml)).rejects.toThrow();
  });

  it('decodes numeric references across the whole Unicode range, and nothing beyond it', () => {
    expect(decodeXmlText('&#65;&#x42;&#x10FFFF;')).toBe('AB\u{10FFFF}');
    expect(() => decodeXmlText('&#x110000;')).toThrow();
  });
});
