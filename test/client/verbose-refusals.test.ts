/**
 * README: "`--verbose` prints one line per request (no query strings)". Requests the helper refuses
 * itself (an absolute-form target naming another host: 403; CONNECT, an https endpoint with the
 * helper as HTTP proxy: 405) printed nothing, so the two likeliest misconfigurations left no trace
 * in the very output a user turns on to debug them.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { rawRequest, rawSocket } from '../helpers/raw-http';
import { startUpstream, type Upstream } from '../helpers/recording-upstream';

let proxy: Upstream;
let helper: ClientHelper;
const lines: string[] = [];

beforeAll(async () => {
  proxy = await startUpstream();
  helper = await startClientHelper({ target: proxy.url, log: (l) => lines.push(l) });
});
afterAll(async () => {
  await helper?.close();
  await proxy?.stop();
});
beforeEach(() => {
  lines.length = 0;
});

describe('client helper --verbose: requests it refuses itself', () => {
  it('a request for another host gets a line, without its query or credentials', async () => {
    const r = await rawRequest(
      helper.url,
      'GET',
      'http://user:pw@other.example/datalake/k?X-Amz-Signature=s3cr3t',
    );
    expect(r.status).toBe(403);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^GET .*refused/);
    expect(lines[0]).not.toMatch(/s3cr3t|pw|user/);
    expect(proxy.seen).toEqual([]);
  });

  it('a CONNECT gets a line', async () => {
    const out = await rawSocket(
      helper.url,
      'CONNECT s3.amazonaws.com:443 HTTP/1.1\r\nHost: s3.amazonaws.com:443\r\n\r\n',
    );
    expect(out).toMatch(/^HTTP\/1\.1 405 /);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^CONNECT .*refused/);
  });
});
