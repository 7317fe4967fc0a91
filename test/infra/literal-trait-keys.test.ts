import { describe, expect, it } from 'vitest';
import { literalTraitKeys } from '../../infra/literal-trait-keys';

const SCHEMAS = `const _h = "http";
const _hE = "httpError";
const _p = "__proto__";
const _x = "x-amz-id";
export var GetObject$ = [9, n0, _x,
    { [_h]: ["GET", "/{Key+}", 200], [_hE]: 404 }, () => GetObjectRequest$
];
export var Members$ = [3, n0, _x, 0, [_h, _x], [0, 0]];
const odd = { [_p]: 1, [_unknown]: 2 };
`;

describe('literalTraitKeys', () => {
  it("writes the generator's computed trait keys as the string literals they stand for", () => {
    const { code, replaced } = literalTraitKeys(SCHEMAS);
    expect(code).toContain('{ "http": ["GET", "/{Key+}", 200], "httpError": 404 }');
    expect(replaced).toBe(2);
    // Values stay as they were: arrays of member names are not keys.
    expect(code).toContain('[_h, _x], [0, 0]');
  });

  it('leaves keys whose literal would mean something else, or that name no string constant', () => {
    const { code } = literalTraitKeys(SCHEMAS);
    expect(code).toContain('const odd = { [_p]: 1, [_unknown]: 2 };');
  });

  it('evaluates to the same values', () => {
    const run = (source: string) =>
      new Function(
        'n0',
        'GetObjectRequest$',
        `${source.replaceAll('export var', 'var').replace(/const odd.*\n/, '')}\nreturn [GetObject$, Members$];`,
      )('ns', {});
    expect(JSON.stringify(run(literalTraitKeys(SCHEMAS).code))).toBe(JSON.stringify(run(SCHEMAS)));
  });
});
