import { describe, expect, it } from 'vitest';
import { StaticCredentialStore } from '../../lambda/auth/credential-store';
import { reencodeDecodedPath } from '../../lambda/auth/decoded-path';
import { SigV4Authenticator } from '../../lambda/auth/sigv4-authenticator';
import { fixedClock, KEY, keyPath, signHeader } from './helpers/sign';
import { TRICKY_KEYS } from './keys-and-regions';

describe('a path decoded by the transport can be re-encoded into the one the SDK signed', () => {
  const date = new Date('2024-06-15T12:00:00Z');
  const auth = new SigV4Authenticator({
    credentials: new StaticCredentialStore([KEY]),
    clock: fixedClock(date.getTime()),
    allowAnonymous: false,
  });

  it.each(TRICKY_KEYS)('%s', async (key) => {
    const signed = await signHeader({ path: keyPath('datalake', key), date });
    const decoded = decodeURIComponent(signed.rawPath);
    expect(reencodeDecodedPath(decoded)).toBe(signed.rawPath);
    await expect(
      auth.authenticate({ ...signed, rawPath: reencodeDecodedPath(decoded) }),
    ).resolves.toMatchObject({
      name: 'analyst-eu',
    });
  });
});
