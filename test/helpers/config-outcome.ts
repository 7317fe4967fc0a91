/** The two answers a config may get: refused with a message naming `field`, or parsed. */
import { expect } from 'vitest';
import { type Config, ConfigError, parseConfig } from '../../lambda/config';

/** The parsed config, or undefined once its refusal was checked to name the field first. */
export function parsedUnlessRefused(raw: unknown, field: RegExp): Config | undefined {
  try {
    return parseConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toMatch(field);
    return undefined;
  }
}
