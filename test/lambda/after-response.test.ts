/**
 * The Lambda adapter's after-response hook (where the EMF metrics are written) runs once per
 * invocation, only after the response stream has finished: a client never waits for metrics.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createLambdaHandler } from '../../lambda/adapters/lambda';
import {
  createContext,
  createResponseStream,
  functionUrlEvent,
  installLambdaRuntimeShim,
  invokeStreaming,
  parseIntegrationResponse,
  type ShimResponseStream,
} from '../helpers/lambda-runtime-shim';
import { CHUNK, createTestProxy } from './test-proxy';

installLambdaRuntimeShim();

const event = (rawPath: string, rawQueryString = '') => functionUrlEvent(rawPath, { rawQueryString });

interface Seen {
  finished: boolean;
  bodyBytes: number;
}

async function invoke(
  handler: ReturnType<typeof createLambdaHandler>,
  path: string,
  query: string,
  onStream: (stream: ShimResponseStream, written: () => Buffer) => void,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const { stream } = createResponseStream(async (chunk) => {
    chunks.push(Buffer.from(chunk));
  });
  onStream(stream, () => Buffer.concat(chunks));
  await invokeStreaming(handler, event(path, query), stream, createContext(crypto.randomUUID(), 10_000));
  return Buffer.concat(chunks);
}

describe('after-response hook', () => {
  // The adapter logs the core's failures on stderr; they are expected here.
  const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  afterAll(() => logged.mockRestore());

  it('runs once per invocation, after the whole response has been written', async () => {
    const seen: Seen[] = [];
    let current: { stream: ShimResponseStream; written: () => Buffer } | undefined;
    const handler = createLambdaHandler(async () => createTestProxy(), {
      afterResponse: () =>
        seen.push({
          finished: current!.stream.writableFinished,
          bodyBytes: parseIntegrationResponse(current!.written()).body.length,
        }),
    });
    const expected = [
      ['/stream', 'chunks=8', 8 * CHUNK],
      ['/object', '', 1234],
      ['/redirect-empty', '', 0],
      ['/throw-s3', '', -1],
    ] as const;
    for (const [path, query, bytes] of expected) {
      const all = await invoke(handler, path, query, (stream, written) => {
        current = { stream, written };
      });
      const body = parseIntegrationResponse(all).body.length;
      if (bytes >= 0) expect(body).toBe(bytes);
      expect(seen.at(-1)).toEqual({ finished: true, bodyBytes: body });
    }
    expect(seen).toHaveLength(expected.length);
  });

  it('runs when the body breaks mid-stream, and a throwing hook never fails the invocation', async () => {
    let calls = 0;
    const broken = createLambdaHandler(async () => createTestProxy(), {
      afterResponse: () => {
        calls++;
      },
    });
    await expect(invoke(broken, '/fail-mid-stream', '', () => {})).rejects.toThrow();
    expect(calls).toBe(1);

    const throwing = createLambdaHandler(async () => createTestProxy(), {
      afterResponse: () => {
        throw new Error('metrics sink down');
      },
    });
    const all = await invoke(throwing, '/object', '', () => {});
    expect(parseIntegrationResponse(all).prelude.statusCode).toBe(200);
    expect(logged.mock.calls.some(([line]) => String(line).includes('after-response hook failed'))).toBe(
      true,
    );
  });
});
