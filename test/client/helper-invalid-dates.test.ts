/**
 * A conditional date that is no HTTP-date is ignored (RFC 9110 §13.1.3, as S3 does): the proxy
 * never forwards it, since a backend such as moto answers it with a 500. The client helper, when
 * it follows a redirect, must not send it to the presigned URL either, or the same read proxied
 * (200) fails through the helper.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { uploadTable, writeRegionTable } from '../helpers/fixture-tables';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { motoUnavailableReason, type S3Server, startMoto } from '../helpers/s3-servers';
import { encodeKeyPath, signHeaders } from '../helpers/signed-fetch';
import { withReason } from '../helpers/skips';

const skip = motoUnavailableReason();

function get(base: string, path: string, headers: Record<string, string>) {
  const url = new URL(base);
  return new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(skip)(withReason('helper over moto: a conditional date that is no HTTP-date', skip), () => {
  let s3: S3Server;
  let direct: RunningProxy;
  let presigned: RunningProxy;
  let helper: ClientHelper;
  let key: string;

  beforeAll(async () => {
    s3 = await startMoto();
    const { dir, adds } = await writeRegionTable(1, []);
    await uploadTable(s3.endpoint, 'lake', 't/', dir);
    key = `t/${adds.find((a) => a.partitionValues.region === 'EU')!.path}`;
    const config = {
      tableMapping: { t: 's3://lake/t' },
      grants: [{ principal: ANALYST.principal, table: 't', partitions: [{ region: 'EU' }] }],
    };
    direct = await startProxy(s3, { ...config, getMode: 'proxy' });
    presigned = await startProxy(s3, { ...config, getMode: 'presignedUrl' });
    helper = await startClientHelper({ target: presigned.url });
  }, 120_000);
  afterAll(async () => {
    await helper?.close();
    await direct?.stop();
    await presigned?.stop();
    await s3?.stop();
  });

  it.each(['if-unmodified-since', 'if-modified-since'])(
    '%s: yesterday is ignored, as proxied',
    async (name) => {
      const path = `/datalake/${encodeKeyPath(key)}`;
      const read = async (base: string) =>
        get(base, path, await signHeaders(base, 'GET', path, '', { [name]: 'yesterday' }, ANALYST));
      const proxied = await read(direct.url);
      expect(proxied.status).toBe(200);
      const followed = await read(helper.url);
      expect(presigned.events.at(-1)?.redirected).toBe(true);
      expect(followed.status).toBe(200);
      expect(followed.body.equals(proxied.body)).toBe(true);
    },
  );
});
