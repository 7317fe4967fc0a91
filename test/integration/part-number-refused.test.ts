/**
 * A part the backend refuses, answered as S3 answers it. S3's 416 InvalidPartNumber to a part past
 * the object's last names the part count (`ActualPartCount`): the client gets it. A backend's 400
 * to a part read (an S3-compatible store's InvalidPart to a GET, a HEAD's bare 400) is the part
 * not being there when the whole object reads: S3's 416 InvalidPartNumber, not the proxy's own 500
 * or an SSE-C refusal. A backend front answers so (s3rver and moto do not).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { ANALYST, type RunningProxy, startProxy } from '../helpers/proxy-harness';
import { type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

let backend: S3Server;
let front: MisbehavingS3;
let proxy: RunningProxy;
let file: string;
beforeAll(async () => {
  backend = await startS3rver();
  const active = await uploadDemoTable(backend.endpoint, 'lake', 'w/sales/');
  file = `sales/${active.find((p) => p.startsWith('region=EU/'))}`;
  front = await startMisbehavingS3(backend);
  proxy = await startProxy(
    { kind: backend.kind, endpoint: front.endpoint, stop: async () => {} },
    {
      tableMapping: { sales: 's3://lake/w/sales' },
      logView: 'filtered',
      getMode: 'proxy',
      grants: [{ principal: ANALYST.principal, table: 'sales', partitions: [{ region: 'EU' }] }],
    },
  );
}, 120_000);
afterAll(async () => {
  await proxy?.stop();
  await front?.stop();
  await backend?.stop();
});

const path = () => `/datalake/${encodeKeyPath(file)}`;
const isPart = (n: string) => (r: { key: string; query: URLSearchParams }) =>
  r.key === `w/${file}` && r.query.get('partNumber') === n;

describe('a part the backend refuses', () => {
  it("passes on S3's ActualPartCount with 416 InvalidPartNumber", async () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidPartNumber</Code><Message>The requested partnumber is not satisfiable</Message><PartNumberRequested>3</PartNumberRequested><ActualPartCount>2</ActualPartCount><RequestId>r</RequestId></Error>';
    front.onRequest = (r) =>
      isPart('3')(r)
        ? { serve: { status: 416, headers: { 'content-type': 'application/xml' }, body: Buffer.from(xml) } }
        : undefined;
    try {
      const r = await signedFetch(proxy.url, 'GET', path(), 'partNumber=3', {}, ANALYST);
      expect(r.status).toBe(416);
      expect(r.text).toContain('<Code>InvalidPartNumber</Code>');
      expect(r.text).toContain('<PartNumberRequested>3</PartNumberRequested>');
      expect(r.text).toContain('<ActualPartCount>2</ActualPartCount>');
    } finally {
      front.onRequest = () => undefined;
    }
  });

  it("answers a backend's 400 InvalidPart to a GET of a part with 416 InvalidPartNumber, not 500", async () => {
    front.onRequest = (r) =>
      isPart('3')(r)
        ? { status: 400, code: 'InvalidPart', message: 'One or more parts not found' }
        : undefined;
    try {
      const r = await signedFetch(proxy.url, 'GET', path(), 'partNumber=3', {}, ANALYST);
      expect(r.status).toBe(416);
      expect(r.text).toContain('<Code>InvalidPartNumber</Code>');
      expect(proxy.events.at(-1)).toMatchObject({ status: 416, code: 'InvalidPartNumber' });
    } finally {
      front.onRequest = () => undefined;
    }
  });

  it("answers a backend's bare 400 to a HEAD of a part the object does not have with 416, not SSE-C", async () => {
    front.onRequest = (r) => (r.method === 'HEAD' && isPart('3')(r) ? { status: 400 } : undefined);
    try {
      const r = await signedFetch(proxy.url, 'HEAD', path(), 'partNumber=3', {}, ANALYST);
      expect(r.status).toBe(416);
      expect(proxy.events.at(-1)).toMatchObject({ status: 416, code: 'InvalidPartNumber' });
      expect(JSON.stringify(proxy.events.at(-1))).not.toMatch(/SSE-C/);
    } finally {
      front.onRequest = () => undefined;
    }
  });

  it('still reads a HEAD 400 as SSE-C when the whole object is refused too', async () => {
    front.onRequest = (r) => (r.method === 'HEAD' && r.key === `w/${file}` ? { status: 400 } : undefined);
    try {
      const r = await signedFetch(proxy.url, 'HEAD', path(), 'partNumber=1', {}, ANALYST);
      expect(r.status).toBe(400);
      expect(proxy.events.at(-1)).toMatchObject({ status: 400, code: 'InvalidRequest' });
      const whole = await signedFetch(proxy.url, 'HEAD', path(), '', {}, ANALYST);
      expect(whole.status).toBe(400);
    } finally {
      front.onRequest = () => undefined;
    }
  });
});
