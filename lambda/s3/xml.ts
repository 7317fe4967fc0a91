/** A minimal XML writer for S3 responses: every text node is escaped, nothing else is clever. */
import { concatBytes } from '../core/concat-bytes';
import { WorkSlices, yieldToEventLoop } from '../core/event-loop';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/**
 * Escapes text for XML 1.0. Characters XML 1.0 cannot carry at all (most C0 controls) are
 * written as character references, as S3 does, so a hostile key cannot break the document.
 */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f]/g,
    (c) => ESCAPES[c] ?? `&#${c.charCodeAt(0)};`,
  );
}

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

export type XmlChild = string | number | boolean | undefined | XmlNode | XmlSequence | XmlChild[];
export interface XmlNode {
  name: string;
  children: XmlChild[];
  attrs?: Record<string, string>;
}

/** Children made as they are written (a listing's entries: see toXmlInSlices). */
export class XmlSequence {
  constructor(readonly items: Iterable<XmlChild>) {}
}

/** Element helper: `el('Key', 'a&b')` → `<Key>a&amp;b</Key>`; undefined children are left out. */
export function el(name: string, ...children: XmlChild[]): XmlNode {
  return { name, children };
}

export function root(name: string, ...children: XmlChild[]): XmlNode {
  return { name, children, attrs: { xmlns: S3_NAMESPACE } };
}

function write(node: XmlChild, out: string[]): void {
  if (node === undefined) return;
  if (Array.isArray(node)) {
    for (const c of node) write(c, out);
    return;
  }
  if (typeof node !== 'object') {
    out.push(escapeXml(String(node)));
    return;
  }
  if (node instanceof XmlSequence) {
    for (const c of node.items) write(c, out);
    return;
  }
  out.push(openTag(node));
  for (const c of node.children) write(c, out);
  out.push(`</${node.name}>`);
}

function openTag(node: XmlNode): string {
  const attrs = node.attrs
    ? Object.entries(node.attrs)
        .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
        .join('')
    : '';
  return `<${node.name}${attrs}>`;
}

/** Serializes a document with the XML declaration. */
export function toXml(doc: XmlNode): string {
  const out: string[] = [XML_DECLARATION];
  write(doc, out);
  return out.join('');
}

/**
 * toXml's document, written a slice of characters at a time with a yield to the event loop between
 * slices: the items of the root's sequences (a listing's 1,000 entries with keys of up to 1,024
 * bytes, over a MB of XML) are made and written one at a time. A document within one slice never
 * awaits and is one string, as toXml gives; a longer one is its UTF-8 bytes, encoded a slice at a
 * time (joining a MB of pieces into one string holds the loop for milliseconds on its own).
 */
export async function toXmlInSlices(doc: XmlNode, sliceChars: number): Promise<string | Uint8Array> {
  const slices = new WorkSlices(sliceChars);
  const done: Buffer[] = [];
  let out: string[] = [XML_DECLARATION, openTag(doc)];
  for (const child of doc.children) {
    if (!(child instanceof XmlSequence)) {
      write(child, out);
      continue;
    }
    for (const item of child.items) {
      const from = out.length;
      write(item, out);
      let chars = 0;
      for (let i = from; i < out.length; i++) chars += out[i]!.length;
      if (slices.spend(chars)) {
        done.push(Buffer.from(out.join('')));
        out = [];
        await yieldToEventLoop();
      }
    }
  }
  out.push(`</${doc.name}>`);
  if (done.length === 0) return out.join('');
  done.push(Buffer.from(out.join('')));
  return concatBytes(done);
}

/** Optional element: left out entirely when the value is undefined. */
export function opt(name: string, value: string | number | boolean | undefined): XmlNode | undefined {
  return value === undefined ? undefined : el(name, value);
}
