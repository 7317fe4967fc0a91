/**
 * What every S3 error body the proxy sends must be: well-formed XML 1.0 (no character XML
 * forbids, raw or as a reference), S3's prolog and `<Error>` with its `<Code>` first, and a
 * request id. For the hostile-request suites, which send what clients should not.
 */
import { XMLValidator } from 'fast-xml-parser';
import { expect } from 'vitest';

/** Characters XML 1.0 allows, raw or as a character reference (§2.2 Char). */
function isXmlChar(c: number): boolean {
  return (
    c === 0x9 ||
    c === 0xa ||
    c === 0xd ||
    (c >= 0x20 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    c >= 0x10000
  );
}

function expectWellFormedXml(body: string, what = ''): void {
  expect(XMLValidator.validate(body), what).toBe(true);
  for (const ch of body)
    expect(isXmlChar(ch.codePointAt(0)!), `${what} raw U+${ch.codePointAt(0)!.toString(16)}`).toBe(true);
  for (const [, dec, hex] of body.matchAll(/&#(?:(\d+)|x([0-9a-fA-F]+));/g)) {
    const c = dec !== undefined ? Number(dec) : Number.parseInt(hex!, 16);
    expect(isXmlChar(c), `${what} &#${c}; is not an XML 1.0 character`).toBe(true);
  }
}

/** An S3 error document; returns its code. `what` names the request in a failure. */
export function expectErrorDocument(body: string, what = ''): string {
  expectWellFormedXml(body, what);
  expect(body, what).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>[A-Za-z]+<\/Code>/);
  expect(body, what).toMatch(/<RequestId>[0-9A-F]{16}<\/RequestId>/);
  return /<Code>([A-Za-z]+)<\/Code>/.exec(body)![1]!;
}
