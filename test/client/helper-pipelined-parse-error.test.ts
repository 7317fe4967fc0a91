/**
 * A client that pipelines a request the helper cannot parse while the answer to its previous
 * request is still streaming. The helper answers unparsable requests with raw S3 XML written to
 * the socket; written then, that 400 landed inside the streaming body, and when it filled the
 * rest of the declared Content-Length the client took the garbled object as complete. Node's
 * own handler never writes into an answer under way. Stand-in proxy (it must stream on cue).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { startUpstream, type Upstream } from '../helpers/recording-upstream';

let proxy: Upstream;
let helper: ClientHelper;

beforeAll(async () => {
  proxy = await startUpstream();
  helper = await startClientHelper({ target: proxy.url });
});
afterAll(async () => {
  await helper?.close();
  await proxy?.stop();
});

describe('client helper: a pipelined request it cannot parse', () => {
  it('never writes its error into the body of the answer under way', async () => {
    const object = `${'a'.repeat(100_000)}0123456789`;
    let rest: (() => void) | undefined;
    proxy.answer = (_req, res) => {
      res.writeHead(200, { 'content-length': String(object.length) });
      res.write(object.slice(0, 100_000));
      rest = () => res.end(object.slice(100_000));
    };
    const socket = connect(helper.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write('GET /datalake/k HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    // The first 100,000 bytes have reached the client: the answer is under way.
    await new Promise<void>((resolve) => {
      const check = () => (Buffer.concat(chunks).length > 100_000 ? resolve() : setTimeout(check, 10));
      check();
    });
    socket.write('GET /datalake/k2 HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    rest?.();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    socket.destroy();

    const text = Buffer.concat(chunks).toString('latin1');
    const body = text.slice(text.indexOf('\r\n\r\n') + 4).slice(0, object.length);
    // Cut short (a broken download the client retries) or the object's bytes: never other bytes.
    expect(body).toBe(object.slice(0, body.length));
  });
});
