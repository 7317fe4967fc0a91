/**
 * Requests refused before anything is read: writes (403 AccessDenied on a read-only proxy, 405
 * MethodNotAllowed when `readOnly` is off, as writes are not served yet) and unsigned requests
 * for table keys, which look the same for a mapped table and an unmapped alias. Neither reaches
 * the backend nor loads a table's log (SECURITY.md, gap 14).
 */
import { Readable } from 'node:stream';
import { PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { type BackendCall, countingBackend } from '../helpers/counting-backend';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

const code = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

describe('requests refused before the backend', () => {
  let s3: S3Server;
  let key: string;
  let calls: BackendCall[] = [];
  const proxies: Record<'readOnly' | 'writable', RunningProxy> = {} as never;

  beforeAll(async () => {
    s3 = await startS3rver();
    const active = await uploadDemoTable(s3.endpoint, 'lake', 'w/sales/');
    key = `sales/${active[0]}`;
    const real = new S3Backend({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: BACKEND_CREDENTIALS,
    });
    const counted = countingBackend(real);
    const storage = counted.backend;
    calls = counted.calls;
    for (const [name, readOnly] of [
      ['readOnly', true],
      ['writable', false],
    ] as const) {
      proxies[name] = await startProxy(
        s3,
        {
          tableMapping: { sales: 's3://lake/w/sales' },
          readOnly,
          grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{}] }],
        },
        undefined,
        { storage },
      );
    }
  });
  afterAll(async () => {
    for (const p of Object.values(proxies)) await p?.stop();
    await s3?.stop();
  });

  it('answers writes 403 on a read-only proxy and 405 with readOnly off, reading nothing', async () => {
    calls.length = 0;
    for (const method of ['PUT', 'DELETE', 'POST']) {
      const path = `/datalake/${encodeKeyPath(key)}`;
      const ro = await signedFetch(proxies.readOnly.url, method, path, '', {}, ANALYST);
      const rw = await signedFetch(proxies.writable.url, method, path, '', {}, ANALYST);
      expect([method, ro.status, code(ro.text), rw.status, code(rw.text)]).toEqual([
        method,
        403,
        'AccessDenied',
        405,
        'MethodNotAllowed',
      ]);
      expect(rw.text).toContain(`<Method>${method}</Method>`);
    }
    expect(calls).toEqual([]);
    expect(proxies.readOnly.proxy.snapshots.stats().misses).toBe(0);
  });

  it('answers an SDK upload (aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER) as any other write: 403/405, never a 5xx', async () => {
    calls.length = 0;
    // @aws-sdk/client-s3 sends any stream body aws-chunked, with a trailing checksum.
    const hashes: unknown[] = [];
    const upload = async (proxy: RunningProxy) => {
      const client = proxy.client();
      // What went on the wire, after signing.
      client.middlewareStack.add(
        (next) => async (args) => {
          hashes.push((args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256']);
          return next(args);
        },
        { step: 'deserialize' },
      );
      const sent = client.send(
        new PutObjectCommand({
          Bucket: 'datalake',
          Key: key,
          Body: Readable.from([Buffer.from('x')]),
          ContentLength: 1,
        }),
      );
      const e = await sent.then(
        () => undefined,
        (err: unknown) => err,
      );
      if (!(e instanceof S3ServiceException)) throw new Error(`expected an S3 error, got ${String(e)}`);
      return [e.$metadata.httpStatusCode, e.name];
    };
    expect(await upload(proxies.readOnly)).toEqual([403, 'AccessDenied']);
    expect(await upload(proxies.writable)).toEqual([405, 'MethodNotAllowed']);
    expect(hashes).toEqual(['STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER']);
    expect(calls).toEqual([]);
    for (const p of Object.values(proxies))
      expect(p.events.at(-1)).toMatchObject({ method: 'PUT', decision: 'deny' });
  });

  it('refuses an unsigned request for a table key as it refuses one for an unmapped alias, reading nothing', async () => {
    calls.length = 0;
    // No Authorization header and no presigned query: an anonymous request.
    const unsigned = async (k: string) => {
      const res = await fetch(`${proxies.readOnly.url}/datalake/${encodeKeyPath(k)}`, {
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, text: await res.text() };
    };
    const mapped = await unsigned(key);
    const unmapped = await unsigned(key.replace(/^sales\//, 'nosuchtable/'));
    expect([mapped.status, code(mapped.text)]).toEqual([403, 'AccessDenied']);
    expect([unmapped.status, code(unmapped.text)]).toEqual([mapped.status, code(mapped.text)]);
    const strip = (xml: string) =>
      xml.replace(/<RequestId>[^<]*<\/RequestId>|<HostId>[^<]*<\/HostId>|<Resource>[^<]*<\/Resource>/g, '');
    expect(strip(unmapped.text)).toBe(strip(mapped.text));
    expect(calls).toEqual([]);
    expect(proxies.readOnly.proxy.snapshots.stats().misses).toBe(0);
    const refused = proxies.readOnly.events.slice(-2);
    expect(refused.map((e) => [e.reasonClass, e.backendCalls])).toEqual([
      ['authentication', 0],
      ['authentication', 0],
    ]);
  });
});
