/**
 * Continuation tokens (and v1 markers) of the proxy's own listings. A token that resumes after an
 * entry the caller was given names that key in the clear (base64url of "dlp1:" + key), so it
 * works on any instance. A token that resumes after a key the caller may not see (a listing that
 * read its page budget without finding enough visible keys) is encrypted and authenticated with
 * AES-256-GCM: the caller learns nothing from it, and cannot forge one. Its key comes from the
 * configuration (`listingTokenKey`, shared by every Lambda instance); without one, each process
 * draws a random key and such tokens work only on the instance that issued them.
 * A sealed token may also carry the backend's own continuation token (a request that spent its page
 * budget on pages without a key resumes there, not from its start again).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { S3Error } from '../core/s3-error';
import type { ResumePoint } from './virtual-listing';

const PLAIN_TAG = 'dlp1:';
const SEALED = 0x02;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Sealed keys are padded to a multiple of this, so a token's length says little about its key. */
const PAD = 64;

export class ListingTokens {
  private readonly key: Buffer;

  /** @param secret the configured `listingTokenKey`; undefined draws a random per-process key. */
  constructor(secret?: string) {
    this.key = secret === undefined ? randomBytes(32) : createHash('sha256').update(secret, 'utf8').digest();
  }

  encode(resume: ResumePoint): string {
    if (!resume.examined && !resume.backend)
      return Buffer.from(PLAIN_TAG + resume.after, 'utf8').toString('base64url');
    return this.seal(resume);
  }

  /** A continuation token as given by the client; InvalidArgument when it is not one of ours. */
  decode(token: string): ResumePoint {
    const bytes = /^[A-Za-z0-9_-]+={0,2}$/.test(token) ? Buffer.from(token, 'base64url') : Buffer.alloc(0);
    const plain = bytes.toString('utf8');
    // Invalid UTF-8 does not survive the round trip; a key's own U+FFFD does.
    if (plain.startsWith(PLAIN_TAG) && Buffer.from(plain, 'utf8').equals(bytes)) {
      return { after: plain.slice(PLAIN_TAG.length), examined: false };
    }
    const sealed = this.open(bytes);
    if (sealed !== undefined) return sealed;
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      ArgumentName: 'continuation-token',
    });
  }

  /**
   * A v1 marker: a sealed resume point the proxy handed out as NextMarker, or else a plain key. One
   * shaped as sealed that does not open (sealed by another deployment's or instance's key) is
   * refused as a token is: read as a key, it would restart the listing (no key under a table has
   * that shape: they hold a "/").
   */
  decodeMarker(marker: string): ResumePoint {
    const bytes = /^[A-Za-z0-9_-]{40,}$/.test(marker) ? Buffer.from(marker, 'base64url') : undefined;
    const sealed = bytes && this.open(bytes);
    if (sealed !== undefined) return sealed;
    if (bytes && bytes[0] === SEALED && (bytes.length - 1 - IV_BYTES - TAG_BYTES) % PAD === 0) {
      throw new S3Error('InvalidArgument', 'The marker provided is incorrect', { ArgumentName: 'marker' });
    }
    return { after: marker, examined: false };
  }

  /**
   * A resume point that may name a key the caller cannot see, or carry a backend token, sealed:
   * the key's length and bytes, then (when there is one) the backend token's scope, token and
   * whether the key was examined, each a length and its bytes, zero-padded (a zero length after the
   * key: no backend token, and the key was examined).
   */
  seal(resume: ResumePoint): string {
    const { after, backend, examined } = resume;
    const fields = [
      after,
      ...(backend ? [backend.scope, backend.token, examined ? 'examined' : 'shown'] : []),
    ];
    const parts = fields.flatMap((f) => {
      const bytes = Buffer.from(f, 'utf8');
      const length = Buffer.alloc(2);
      length.writeUInt16BE(bytes.length);
      return [length, bytes];
    });
    const used = Buffer.concat(parts);
    const plain = Buffer.alloc(Math.ceil((used.length + 2) / PAD) * PAD);
    used.copy(plain);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.of(SEALED), iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  private open(bytes: Buffer): ResumePoint | undefined {
    if (bytes.length < 1 + IV_BYTES + 2 + TAG_BYTES || bytes[0] !== SEALED) return undefined;
    const iv = bytes.subarray(1, 1 + IV_BYTES);
    const body = bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      plain = Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      return undefined;
    }
    let at = 0;
    const field = (): string | undefined => {
      if (at + 2 > plain.length) return undefined;
      const n = plain.readUInt16BE(at);
      if (at + 2 + n > plain.length) return undefined;
      at += 2 + n;
      return plain.subarray(at - n, at).toString('utf8');
    };
    const after = field();
    if (after === undefined) return undefined;
    const scope = field();
    if (!scope) return { after, examined: true };
    const token = field();
    const examined = field();
    if (!token || (examined !== 'examined' && examined !== 'shown')) return undefined;
    return { after, examined: examined === 'examined', backend: { scope, token } };
  }
}
