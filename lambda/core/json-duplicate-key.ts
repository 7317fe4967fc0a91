/**
 * JSON.parse keeps the last of two equal keys in one object: `{"region":"EU","region":"US"}` is
 * `{"region":"US"}`. In a configuration that is a silent choice between two settings, so the
 * text is scanned for it. Returns the path of the first key written twice in its object
 * (`["grants", 0, "partitions", 0, "region"]`), or undefined. Only for text JSON.parse accepted.
 */
export function duplicateKeyPath(text: string): PropertyKey[] | undefined {
  type Frame = { keys: Set<string>; key?: string; expectKey: boolean } | { index: number };
  const frames: Frame[] = [];
  const pathTo = (last: PropertyKey) => [
    ...frames.slice(0, -1).map((f) => ('index' in f ? f.index : f.key!)),
    last,
  ];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      // Bounded by the text's end too: a caller that skipped JSON.parse must not spin for ever.
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (end >= text.length) return undefined;
      const top = frames.at(-1);
      if (top && 'keys' in top && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) return pathTo(key);
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = end;
    } else if (c === '{') frames.push({ keys: new Set(), expectKey: true });
    else if (c === '[') frames.push({ index: 0 });
    else if (c === '}' || c === ']') frames.pop();
    else if (c === ',') {
      const top = frames.at(-1);
      if (top && 'index' in top) top.index++;
      else if (top) top.expectKey = true;
    }
  }
  return undefined;
}
