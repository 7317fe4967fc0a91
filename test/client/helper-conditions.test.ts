/**
 * The client helper follows the proxy's 307 and sends the client's Range and conditional headers
 * to the presigned URL. Backends that ignore or misapply some of them (s3rver and moto ignore
 * If-Range and entity-tag lists; s3rver ignores If-Match) must not change the answer: the proxy
 * evaluates the conditions again on what its backend returns, and a read through the helper must
 * get what the same read proxied gets (304, 412, the whole object when If-Range fails). A
 * conditional date that is no HTTP-date is ignored (RFC 9110 §13.1.3, as S3 does): the proxy never
 * forwards it (moto answers it with a 500), nor does the helper send it to the presigned URL.
 */
import { type IncomingHttpHeaders, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { uploadTable, writeRegionTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type S3Server, s3rverAndMoto } from '../helpers/s3-servers';
import { encodeKeyPath, signHeaders } from '../helpers/signed-fetch';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function get(base: string, path: string, headers: Record<string, string>) {
  const url = new URL(base);
  return new Promise<Reply>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const code = (r: Reply) => /<Code>([^<]*)<\/Code>/.exec(r.body.toString())?.[1];

describe.each(s3rverAndMoto())('helper over %s: conditions the backend ignores', (_t, start, skip) => {
  let s3: S3Server;
  let direct: RunningProxy;
  let presigned: RunningProxy;
  let helper: ClientHelper;
  let path: string;
  let etag: string;
  let lastModified: string;

  beforeAll(async () => {
    if (skip) return;
    s3 = await start();
    const { dir, adds } = await writeRegionTable(1, []);
    await uploadTable(s3.endpoint, 'lake', 't/', dir);
    path = `/datalake/${encodeKeyPath(`t/${adds.find((a) => a.partitionValues.region === 'EU')!.path}`)}`;
    const config = {
      tableMapping: { t: 's3://lake/t' },
      grants: [{ principal: ANALYST.principal, table: 't', partitions: [{ region: 'EU' }] }],
    };
    direct = await startProxy(s3, { ...config, getMode: 'proxy' });
    presigned = await startProxy(s3, { ...config, getMode: 'presignedUrl' });
    helper = await startClientHelper({ target: presigned.url });
    const head = await get(direct.url, path, await signHeaders(direct.url, 'GET', path, '', {}, ANALYST));
    etag = head.headers.etag!;
    lastModified = head.headers['last-modified']!;
  }, 120_000);
  afterAll(async () => {
    await helper?.close();
    await direct?.stop();
    await presigned?.stop();
    await s3?.stop();
  });

  it.skipIf(skip).each([
    ['If-None-Match with a weak tag', () => ({ 'if-none-match': `W/${etag}` }), 304],
    ['If-None-Match with a list', () => ({ 'if-none-match': `"x", ${etag}` }), 304],
    ['If-Match that fails', () => ({ 'if-match': '"0123456789abcdef0123456789abcdef"' }), 412],
    [
      'If-Range that fails',
      () => ({ range: 'bytes=0-9', 'if-range': '"0123456789abcdef0123456789abcdef"' }),
      200,
    ],
    [
      'If-Range with a later date',
      () => ({ range: 'bytes=0-9', 'if-range': 'Fri, 01 Jan 2100 00:00:00 GMT' }),
      200,
    ],
    ['If-Unmodified-Since that is no HTTP-date', () => ({ 'if-unmodified-since': 'yesterday' }), 200],
    ['If-Modified-Since that is no HTTP-date', () => ({ 'if-modified-since': 'yesterday' }), 200],
    [
      'a range past the end with If-Modified-Since that holds',
      () => ({ range: 'bytes=100000-', 'if-range': etag, 'if-modified-since': lastModified }),
      304,
    ],
  ])('%s: as proxied', async (_name, headers, status) => {
    const read = async (base: string) =>
      get(base, path, await signHeaders(base, 'GET', path, '', headers(), ANALYST));
    const proxied = await read(direct.url);
    expect(proxied.status).toBe(status);
    const followed = await read(helper.url);
    expect(presigned.events.at(-1)?.redirected).toBe(true);
    expect(followed.status).toBe(proxied.status);
    expect(code(followed)).toBe(code(proxied));
    if (status < 300) expect(followed.body.equals(proxied.body)).toBe(true);
    for (const name of ['etag', 'last-modified', 'content-length', 'content-range'])
      if (status !== 412) expect(followed.headers[name], name).toBe(proxied.headers[name]);
  });
});
