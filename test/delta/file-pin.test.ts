/**
 * A pinned file (FilePin: a checkpoint read in ranges) replaced between two of its range reads, in
 * each way S3 can show it, replayed exactly by a misbehaving front over s3rver: If-Match refused
 * (412, S3's answer), a backend that ignores If-Match answering the new object (same size, new
 * ETag), a shorter object answering 416 for a range past its end, or a short 206 whose
 * Content-Range names the shorter total. The second read never gives bytes: it throws FileChanged
 * (the loader lists again and reads the new version whole; the other readers answer 503), so no
 * reader combines bytes of two versions. checkpoint-rewrite.test.ts does the same with a real
 * rewrite on s3rver and moto; here each answer is the one named, whatever the server behind.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type DeltaStorage,
  deltaStorageFromBackend,
  FileChanged,
  type FilePin,
} from '../../lambda/delta/delta-storage';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import {
  BACKEND_CREDENTIALS,
  backendClient,
  createBucket,
  type S3Server,
  startS3rver,
} from '../helpers/s3-servers';

const BUCKET = 'lake';
const PREFIX = 'tables/t';
const REL = '_delta_log/00000000000000000010.checkpoint.parquet';
const KEY = `${PREFIX}/${REL}`;

/** `n` bytes of a pattern that tells the versions apart at every offset. */
const version = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
const OLD = version(24_600, 1);
const NEW_SAME_SIZE = version(24_600, 2);
const NEW_SHORTER = version(4_105, 3);
const NEW_ETAG = '"0123456789abcdef0123456789abcdef"';

/** The answer of a range GET of `body`, as S3 sends it: a 206, or a 416 past the object's end. */
function rangeAnswer(body: Uint8Array, start: number, end: number, etag: string) {
  if (start >= body.length)
    return {
      status: 416,
      code: 'InvalidRange',
      message: 'The requested range is not satisfiable',
      headers: { 'content-range': `bytes */${body.length}` },
    };
  const last = Math.min(end, body.length - 1);
  return {
    serve: {
      status: 206,
      headers: {
        'content-range': `bytes ${start}-${last}/${body.length}`,
        etag,
        'content-type': 'application/octet-stream',
        'accept-ranges': 'bytes',
      },
      body: Buffer.from(body.subarray(start, last + 1)),
    },
  };
}

describe('a pinned file replaced between two range reads', () => {
  let upstream: S3Server;
  let front: MisbehavingS3;
  let s3: S3Client;
  let backend: S3Backend;
  let storage: DeltaStorage;

  beforeAll(async () => {
    upstream = await startS3rver();
    front = await startMisbehavingS3(upstream);
    s3 = backendClient(upstream.endpoint);
    await createBucket(s3, BUCKET);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: OLD }));
    backend = new S3Backend({
      endpoint: front.endpoint,
      forcePathStyle: true,
      credentials: BACKEND_CREDENTIALS,
    });
    storage = deltaStorageFromBackend(backend, BUCKET, PREFIX);
  }, 90_000);

  afterEach(() => {
    front.onRequest = () => undefined;
  });

  afterAll(async () => {
    backend?.destroy();
    s3?.destroy();
    await front?.stop();
    await upstream?.stop();
  });

  /** The footer read (the real object, which pins its ETag), then a second range `second` answers. */
  async function secondRead(start: number, end: number, second: (ifMatch: string | undefined) => unknown) {
    const pin: FilePin = { size: OLD.length };
    const footer = await storage.read(REL, { start: OLD.length - 1000, end: OLD.length }, pin);
    expect(Buffer.from(footer).equals(Buffer.from(OLD.subarray(OLD.length - 1000)))).toBe(true);
    expect(pin.etag).toMatch(/^"[0-9a-f]{32}"$/);
    let ifMatch: string | undefined;
    front.onRequest = (r) => {
      if (r.method !== 'GET' || r.key !== KEY) return undefined;
      ifMatch = r.headers['if-match'] as string | undefined;
      return second(ifMatch) as ReturnType<MisbehavingS3['onRequest']>;
    };
    const result = await storage.read(REL, { start, end }, pin).catch((e: unknown) => e);
    // The second read asked for the pinned version.
    expect(ifMatch).toBe(pin.etag);
    return result;
  }

  it('If-Match refused (412, as S3 answers): FileChanged, no bytes', async () => {
    const result = await secondRead(100, 400, () => ({
      status: 412,
      code: 'PreconditionFailed',
      message: 'At least one of the pre-conditions you specified did not hold',
    }));
    expect(result).toBeInstanceOf(FileChanged);
  });

  it('If-Match ignored, the new object of the same size (another ETag): FileChanged, no bytes', async () => {
    const result = await secondRead(100, 400, () => rangeAnswer(NEW_SAME_SIZE, 100, 399, NEW_ETAG));
    expect(result).toBeInstanceOf(FileChanged);
  });

  it('If-Match ignored, a shorter object and a range past its end (416): FileChanged', async () => {
    const result = await secondRead(10_000, 10_300, () => rangeAnswer(NEW_SHORTER, 10_000, 10_299, NEW_ETAG));
    expect(result).toBeInstanceOf(FileChanged);
  });

  it('If-Match ignored, a shorter object and a range across its end (a short 206): FileChanged', async () => {
    const result = await secondRead(4_000, 4_300, () => rangeAnswer(NEW_SHORTER, 4_000, 4_299, NEW_ETAG));
    expect(result).toBeInstanceOf(FileChanged);
  });

  // Not S3's answers, but a store or a proxy in front of one can give them: bytes under the pinned
  // ETag and size that are not the range asked. Read as the range, they would put other bytes
  // at the column chunk's offsets; the pinned read refuses them.
  it('a 206 under the pinned ETag with fewer bytes than the range asked: refused, no bytes', async () => {
    const result = await secondRead(100, 400, (ifMatch) => ({
      serve: {
        status: 206,
        headers: { 'content-range': `bytes 100-399/${OLD.length}`, etag: ifMatch ?? '' },
        body: Buffer.from(OLD.subarray(100, 250)),
      },
    }));
    expect(result).toBeInstanceOf(FileChanged);
  });

  it('a 200 with the whole pinned object for a range (Range ignored): refused, no bytes', async () => {
    const result = await secondRead(100, 400, (ifMatch) => ({
      serve: { status: 200, headers: { etag: ifMatch ?? '' }, body: Buffer.from(OLD) },
    }));
    expect(result).toBeInstanceOf(FileChanged);
  });

  it('the same answers with no version check to make are served: the front replays faithfully', async () => {
    // Unpinned, the short 206 is read as it comes: what the cases above refuse is the pin's doing.
    front.onRequest = (r) =>
      r.method === 'GET' && r.key === KEY ? rangeAnswer(NEW_SHORTER, 4_000, 4_299, NEW_ETAG) : undefined;
    const bytes = await storage.read(REL, { start: 4_000, end: 4_300 });
    expect(Buffer.from(bytes).equals(Buffer.from(NEW_SHORTER.subarray(4_000)))).toBe(true);
  });
});
