/**
 * Clients that go away before the body starts (a reader cancelling a scan, a load balancer's
 * health check timing out) must not cost the proxy anything once they are gone. Found under
 * load: through the Lambda adapter each such GET left its backend response open, so after as
 * many of them as the backend connection pool holds (the AWS SDK's 50), every later request
 * waited for a connection until the backend request timed out (503).
 */
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRANSPORTS } from '../helpers/lambda-transports';
import { sendChecked } from '../helpers/load-generator';
import { type LoadSpec, signLoadSpecs } from '../helpers/load-mix';
import { type LoadStack, startLoadStack } from '../helpers/load-session';
import { type RunningProxy, startProxy } from '../helpers/proxy-harness';

/** More than the backend connection pool holds (the SDK's default agent: 50): enough to exhaust it. */
const EARLY_LEAVERS = 300;

let stack: LoadStack;
let medium: LoadSpec;
let small: LoadSpec;

beforeAll(async () => {
  stack = await startLoadStack('s3rver');
  medium = stack.specs.find((s) => s.op === 'GetObject medium')!;
  small = stack.specs.find((s) => s.op === 'GetObject small')!;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** Sends the request's bytes and closes the socket `afterMs` later, reading nothing. */
function sendAndLeave(url: string, path: string, headers: Record<string, string>, afterMs: number) {
  const { hostname, port } = new URL(url);
  return new Promise<void>((resolve) => {
    const socket = connect(Number(port), hostname, () => {
      const head = [`GET ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${head.join('\r\n')}\r\n\r\n`);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, afterMs);
    });
    socket.on('error', () => resolve());
  });
}

describe.each(TRANSPORTS)('clients leaving before the body via %s', (_name, serve) => {
  let proxy: RunningProxy;
  beforeAll(async () => {
    const { s3: _s3, ...config } = stack.config;
    proxy = await startProxy(stack.backend, config, serve);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it(`still answers after ${EARLY_LEAVERS} GETs whose clients left before reading`, async () => {
    const [leave] = await signLoadSpecs([medium], proxy.url);
    // Ten at a time: the pool fills as surely as one by one, in a fraction of the time.
    for (let i = 0; i < EARLY_LEAVERS; i += 10)
      await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          sendAndLeave(proxy.url, leave!.path, leave!.headers, (i + j) % 5),
        ),
      );

    const [get] = await signLoadSpecs([small], proxy.url);
    const agent = new Agent();
    try {
      const answer = await sendChecked(new URL(proxy.url), agent, get!, 10_000);
      expect(answer.error).toBeUndefined();
    } finally {
      agent.destroy();
    }
  }, 60_000);
});
