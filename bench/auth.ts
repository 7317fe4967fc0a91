import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { StaticCredentialStore } from '../lambda/auth/credential-store';
import { SigV4Authenticator } from '../lambda/auth/sigv4-authenticator';
import type { ProxyRequest } from '../lambda/core/types';
import { NodeSha256 } from '../test/helpers/node-sha256';

// SigV4 verification throughput against the crypto floor of a verification, measured in the same
// run. With the signing key cached (warm: the usual case, one key per access key, day and region),
// a verification is one SHA-256 of the canonical request and one HMAC-SHA256 of the string to
// sign; without it (cold: a new day, region or key) four more HMACs derive the signing key. Each
// figure stands beside its own floor.

const KEY = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret-key', principal: 'bench' };
const DATE = new Date('2024-06-15T12:00:00Z');
const REQUESTS = 512;
const RUN_MS = 500;
/** Measurements interleave over rounds and report medians: the machine may be shared and noisy. */
const ROUNDS = 5;

async function signedRequests(region: (i: number) => string): Promise<ProxyRequest[]> {
  const out: ProxyRequest[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const path = `/datalake/sales/year=2024/month=${String(i % 12).padStart(2, '0')}/part-${i}.parquet`;
    const signer = new SignatureV4({
      service: 's3',
      region: region(i),
      credentials: KEY,
      sha256: NodeSha256,
      uriEscapePath: false,
    });
    const signed = await signer.sign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 9000,
        path,
        query: {},
        headers: {
          host: '127.0.0.1:9000',
          range: 'bytes=0-65535',
          'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        },
      },
      { signingDate: DATE },
    );
    out.push({
      method: 'GET',
      rawPath: path,
      rawQuery: '',
      headers: signed.headers as Record<string, string>,
    });
  }
  return out;
}

async function perSecond(op: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < 2000; i++) await op(i); // warm-up (JIT, caches)
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < RUN_MS) {
    for (let k = 0; k < 256; k++) await op(n++);
  }
  return Math.round(n / ((performance.now() - start) / 1000));
}

export default async function main(): Promise<void> {
  const clock = { now: () => DATE.getTime() };
  const credentials = new StaticCredentialStore([KEY]);
  const warmAuth = new SigV4Authenticator({ credentials, clock, allowAnonymous: false });
  // Two regions alternating through a one-entry cache: every verification derives its key.
  const coldAuth = new SigV4Authenticator({
    credentials,
    clock,
    allowAnonymous: false,
    signingKeyCacheSize: 1,
  });
  const warm = await signedRequests(() => 'eu-west-3');
  const cold = await signedRequests((i) => (i % 2 === 0 ? 'eu-west-3' : 'us-east-1'));

  const canonical = `GET\n/datalake/sales/year=2024/month=01/part-1.parquet\n\nhost:127.0.0.1:9000\nrange:bytes=0-65535\n${'x'.repeat(120)}`;
  const scope = '20240615/eu-west-3/s3/aws4_request';
  const stringToSign = (hashed: string) => `AWS4-HMAC-SHA256\n20240615T120000Z\n${scope}\n${hashed}`;
  const deriveKey = () => {
    let key: Buffer = createHmac('sha256', `AWS4${KEY.secretAccessKey}`).update('20240615').digest();
    for (const part of ['eu-west-3', 's3', 'aws4_request'])
      key = createHmac('sha256', key).update(part).digest();
    return key;
  };
  const cachedKey = deriveKey();
  // Warm floor: SHA-256 of the canonical request, HMAC of the string to sign with the cached key.
  const warmFloor = () => {
    const hashed = createHash('sha256').update(canonical).digest('hex');
    return createHmac('sha256', cachedKey).update(stringToSign(hashed)).digest('hex');
  };
  // Cold floor: the same plus the four HMACs of key derivation.
  const coldFloor = () => {
    const hashed = createHash('sha256').update(canonical).digest('hex');
    return createHmac('sha256', deriveKey()).update(stringToSign(hashed)).digest('hex');
  };

  const samples = {
    warm: [] as number[],
    cold: [] as number[],
    warmFloor: [] as number[],
    coldFloor: [] as number[],
  };
  for (let round = 0; round < ROUNDS; round++) {
    samples.warmFloor.push(await perSecond(warmFloor));
    samples.warm.push(await perSecond((i) => warmAuth.authenticate(warm[i % REQUESTS]!)));
    samples.coldFloor.push(await perSecond(coldFloor));
    samples.cold.push(await perSecond((i) => coldAuth.authenticate(cold[i % REQUESTS]!)));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
  const warmPerSec = median(samples.warm);
  const coldPerSec = median(samples.cold);
  const warmFloorPerSec = median(samples.warmFloor);
  const coldFloorPerSec = median(samples.coldFloor);
  console.log(
    JSON.stringify(
      {
        benchmark: 'auth',
        node: process.version,
        rounds: ROUNDS,
        timed: 'SigV4Authenticator.authenticate of a header-signed GET, credentials from a static store',
        warmKeyCache: {
          verificationsPerSec: warmPerSec,
          floorPerSec: warmFloorPerSec,
          floor: '1 SHA-256 + 1 HMAC-SHA256',
          ofFloor: ratio(warmPerSec, warmFloorPerSec),
        },
        coldKeyCache: {
          verificationsPerSec: coldPerSec,
          floorPerSec: coldFloorPerSec,
          floor: '1 SHA-256 + 5 HMAC-SHA256',
          ofFloor: ratio(coldPerSec, coldFloorPerSec),
        },
        machine: { loadAvg: (await import('node:os')).loadavg() },
      },
      null,
      2,
    ),
  );
}
