/**
 * An esbuild plugin that lets esbuild tree-shake the AWS SDK's generated schema modules.
 *
 * Since SDK 3.930 each client's `schemas/schemas_0.js` writes traits with computed keys over
 * string constants (`{ [_h]: ["GET", "/{Key+}", 200] }`). esbuild must assume a computed key may
 * run code (a `toString`), so it keeps every such statement and all it references: every S3
 * operation's schema (~60 KB minified) ships although the proxy sends three. The plugin writes
 * those keys as the string literals they stand for, which changes no value at run time
 * (aws/aws-sdk-js-v3#7607; the same fix as smithy-lang/smithy-typescript#1889, not yet released).
 */
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';

const SCHEMA_MODULE = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;

/** `const _h = "http";` at the top level: the generator's string table. */
const STRING_CONSTANT = /^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm;

/** A computed key `[_h]:` opening an object literal or following a property. */
const COMPUTED_KEY = /([{,]\s*)\[(_\w+)\]:/g;

export function literalTraitKeys(source: string): { code: string; replaced: number } {
  const strings = new Map<string, string>();
  for (const [, name, literal] of source.matchAll(STRING_CONSTANT)) strings.set(name!, literal!);
  let replaced = 0;
  const code = source.replace(COMPUTED_KEY, (whole, before: string, name: string) => {
    const literal = strings.get(name);
    // `{ "__proto__": v }` would set the prototype where `{ ["__proto__"]: v }` sets a property.
    if (literal === undefined || JSON.parse(literal) === '__proto__') return whole;
    replaced++;
    return `${before}${literal}:`;
  });
  return { code, replaced };
}

export const literalTraitKeysPlugin: Plugin = {
  name: 'literal-trait-keys',
  setup(build) {
    build.onLoad({ filter: SCHEMA_MODULE }, async (args) => {
      const { code, replaced } = literalTraitKeys(await readFile(args.path, 'utf8'));
      // A generator change that drops the pattern must be noticed, not silently cost 60 KB.
      const warnings = replaced === 0 ? [{ text: `no computed trait keys found in ${args.path}` }] : [];
      return { contents: code, loader: 'js', warnings };
    });
  },
};
