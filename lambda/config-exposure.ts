/**
 * A config file holding secrets that its group or others may read, as ssh says of a private key
 * file. A warning (the admin CLI's stderr, the local proxy's log at start-up), not a refusal, and
 * the mode is left as it is: a file shared on purpose with the proxy's own group (0640) is a
 * deployment choice, and tightening it behind the operator's back would lock that proxy out of
 * its config at its next start.
 */
import { statSync } from 'node:fs';

/** The secret fields a config file may hold, named as a warning names them. */
function secretsIn(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const config = raw as { auth?: { keys?: unknown }; metricsToken?: unknown; listingTokenKey?: unknown };
  const keys = config.auth?.keys;
  const found: string[] = [];
  if (
    Array.isArray(keys) &&
    keys.some((k) => typeof (k as { secretAccessKey?: unknown } | null)?.secretAccessKey === 'string')
  )
    found.push('secret access keys');
  if (typeof config.metricsToken === 'string') found.push('metricsToken');
  if (typeof config.listingTokenKey === 'string') found.push('listingTokenKey');
  return found;
}

/** Why `file` (whose parsed JSON is `raw`) exposes secrets, or undefined when it does not. */
export function secretsExposure(file: string, raw: unknown): { message: string; mode: string } | undefined {
  const bits = statSync(file).mode & 0o777;
  const who =
    bits & 0o040 && bits & 0o004
      ? 'group and others'
      : bits & 0o040
        ? 'its group'
        : bits & 0o004
          ? 'others'
          : '';
  const secrets = who === '' ? [] : secretsIn(raw);
  if (secrets.length === 0) return undefined;
  const mode = `0${bits.toString(8).padStart(3, '0')}`;
  return {
    message: `${file} holds secrets (${secrets.join(', ')}) and is readable by ${who} (mode ${mode}): chmod 600 ${file} (or 640 if the proxy reads it through its group)`,
    mode,
  };
}
