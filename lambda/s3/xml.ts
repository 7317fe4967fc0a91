/** A minimal XML writer for S3 responses: every text node is escaped, nothing else is clever. */

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

export type XmlChild = string | number | boolean | undefined | XmlNode | XmlChild[];
export interface XmlNode {
  name: string;
  children: XmlChild[];
  attrs?: Record<string, string>;
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
  const attrs = node.attrs
    ? Object.entries(node.attrs)
        .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
        .join('')
    : '';
  out.push(`<${node.name}${attrs}>`);
  for (const c of node.children) write(c, out);
  out.push(`</${node.name}>`);
}

/** Serializes a document with the XML declaration. */
export function toXml(doc: XmlNode): string {
  const out: string[] = [XML_DECLARATION];
  write(doc, out);
  return out.join('');
}

/** Optional element: left out entirely when the value is undefined. */
export function opt(name: string, value: string | number | boolean | undefined): XmlNode | undefined {
  return value === undefined ? undefined : el(name, value);
}
