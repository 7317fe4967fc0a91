/**
 * A "__proto__" key in `tableMapping` or `allowedPartitions` (as JSON.parse keeps it) was dropped
 * by the schema without a word, past the alias check: the config was accepted with the given
 * mapping or grant silently missing. Refused naming the field, as every other bad alias is.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, parseConfigText } from '../../lambda/config';

const parse = (text: string) => () => parseConfig(parseConfigText(text, 'config.json'));

describe('a "__proto__" table alias', () => {
  it('in tableMapping is refused naming the field', () => {
    const text = '{"tableMapping":{"__proto__":"s3://lake/gold/trades","sales":"s3://lake/gold/sales"}}';
    expect(parse(text)).toThrow(ConfigError);
    expect(parse(text)).toThrow(/^tableMapping: /);
  });

  it('in allowedPartitions is refused naming the field', () => {
    const text = '{"tableMapping":{"sales":"s3://lake/gold/sales"},"allowedPartitions":{"__proto__":[{}]}}';
    expect(parse(text)).toThrow(ConfigError);
    expect(parse(text)).toThrow(/^allowedPartitions: /);
  });

  it('as the PROXY_TABLE_MAPPING variable is refused too', async () => {
    const { applyEnv } = await import('../../lambda/config');
    const raw = applyEnv({}, { PROXY_TABLE_MAPPING: '{"__proto__":"s3://lake/gold/trades"}' });
    expect(() => parseConfig(raw)).toThrow(/^tableMapping: /);
  });
});
