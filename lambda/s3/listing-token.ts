/**
 * Continuation tokens (and v1 markers) of the proxy's own listings. A token that resumes after an
 * entry the caller was given names that key in the clear (base64url of "dlp1:" + key), so it
 * works on any instance. A token that resumes after a key the caller may not see (a listing that
 * read its page budget without finding enough visible keys) is encrypted and authenticated with
 * AES-256-GCM: the caller learns nothing from it, and cannot forge one. Its key comes from the
 * configuration (`listingTokenKey`, shared by every Lambda instance); without one, each process
 * draws a random key and such tokens work only on the instance that issued them.
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
    if (!resume.examined) return Buffer.from(PLAIN_TAG + resume.after, 'utf8').toString('base64url');
    return this.seal(resume.after);
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
    if (sealed !== undefined) return { after: sealed, examined: true };
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
    if (sealed !== undefined) return { after: sealed, examined: true };
    if (bytes && bytes[0] === SEALED && (bytes.length - 1 - IV_BYTES - TAG_BYTES) % PAD === 0) {
      throw new S3Error('InvalidArgument', 'The marker provided is incorrect', { ArgumentName: 'marker' });
    }
    return { after: marker, examined: false };
  }

  /** A resume point that may name a key the caller cannot see, sealed. */
  seal(after: string): string {
    const key = Buffer.from(after, 'utf8');
    const plain = Buffer.alloc(Math.ceil((key.length + 2) / PAD) * PAD);
    plain.writeUInt16BE(key.length, 0);
    key.copy(plain, 2);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.of(SEALED), iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  private open(bytes: Buffer): string | undefined {
    if (bytes.length < 1 + IV_BYTES + 2 + TAG_BYTES || bytes[0] !== SEALED) return undefined;
    const iv = bytes.subarray(1, 1 + IV_BYTES);
    const body = bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(body), decipher.final()]);
      const n = plain.readUInt16BE(0);
      if (n > plain.length - 2) return undefined;
      return plain.subarray(2, 2 + n).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
