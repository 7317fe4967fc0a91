/**
 * A client that sends CONNECT (an https endpoint with the helper as HTTP proxy, which the helper
 * refuses with 405) and then resets its connection must not take the helper down: node hands the
 * socket of a CONNECT over without its own error listener, so an unhandled ECONNRESET on it was an
 * uncaught exception that ended the helper process for every client.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HelperProcess, startHelperProcess } from '../helpers/helper-process';
import { rawRequest } from '../helpers/raw-http';
import { startUpstream, type Upstream } from '../helpers/recording-upstream';

let proxy: Upstream;
let helper: HelperProcess;

beforeAll(async () => {
  proxy = await startUpstream();
  helper = await startHelperProcess(['--target', proxy.url, '--port', '0']);
});
afterAll(async () => {
  await helper?.stop();
  await proxy?.stop();
});

/** CONNECT, then a reset (RST) as soon as the request is written. */
function connectThenReset(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('CONNECT s3.amazonaws.com:443 HTTP/1.1\r\nHost: s3.amazonaws.com:443\r\n\r\n', () => {
        socket.resetAndDestroy();
        resolve();
      });
    });
    socket.on('error', () => resolve());
  });
}

describe('client helper: a CONNECT whose client resets', () => {
  it('leaves the helper serving other requests', async () => {
    const port = Number(new URL(helper.url).port);
    for (let i = 0; i < 20; i++) await connectThenReset(port);
    const r = await rawRequest(helper.url, 'GET', '/datalake/k');
    expect(r).toMatchObject({ status: 200, body: 'ok' });
  });
});
