/**
 * The payload v2 event as a live Function URL delivers it, and what the adapter takes from it.
 * Live captures (hotsock/voker, vokerhttp/testdata/functionurl-request.json and ingress-paths.json,
 * us-west-2, July 2026) show `rawPath` exactly as the client sent it, percent-encoding intact,
 * and `requestContext.http.path` decoded. The shim must produce the same, and the adapter must
 * build the core's request (and so the SigV4 canonical request) from `rawPath` only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toProxyRequest } from '../../lambda/adapters/function-url-event';
import { sendRaw } from '../helpers/lambda-http-client';
import { startLambdaHttpServer } from '../helpers/lambda-http-server';
import {
  ShimHttpResponseStream,
  type ShimResponseStream,
  streamifyResponse,
} from '../helpers/lambda-runtime-shim';

// The paths sent in the live probe, and what its Function URLs reported in `rawPath`: the same.
const SENT_PATHS = [
  '/capture/plain',
  '/capture/space%20value',
  '/capture/question%3Fvalue',
  '/capture/percent%25done',
  '/capture/hash%23value',
  '/capture/slash%2Fvalue',
  '/capture/unicode-%CE%BB-%E4%B8%96%E7%95%8C',
  '/capture/literal%252Fvalue',
  '/capture/literal%253Fvalue',
  '/capture/literal%2525value',
  '/datalake/sales/region%3DEU/part-0.parquet',
];
const QUERY =
  'repeat=one&repeat=two&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb&literalPlus=a+b&encodedPlus=a%2Bb&empty=';

type Event = {
  rawPath: string;
  rawQueryString: string;
  headers: Record<string, string>;
  cookies?: string[];
  queryStringParameters?: Record<string, string>;
  requestContext: { http: { path: string; method: string } };
};

describe('Function URL events from the shim', () => {
  let server: { url: string; close: () => Promise<void> };
  beforeAll(async () => {
    const echoEvent = streamifyResponse(async (event: unknown, stream: ShimResponseStream) => {
      const http = ShimHttpResponseStream.from(stream, { statusCode: 200, headers: {} });
      // write(), not end(chunk): like the runtime's, the shim writes the prelude on the first write().
      http.write(JSON.stringify(event));
      http.end();
    });
    server = await startLambdaHttpServer(echoEvent);
  });
  afterAll(async () => {
    await server?.close();
  });

  const eventFor = async (path: string, headers: Record<string, string> = {}): Promise<Event> =>
    JSON.parse((await sendRaw(server.url, { path, headers })).body.toString()) as Event;

  it.each(SENT_PATHS)(
    'keeps %s encoded in rawPath and decodes it in requestContext.http.path',
    async (sent) => {
      const event = await eventFor(`${sent}?${QUERY}`);
      expect(event.rawPath).toBe(sent);
      expect(event.requestContext.http.path).toBe(decodeURIComponent(sent));
      expect(event.rawQueryString).toBe(QUERY);
    },
  );

  it('decodes queryStringParameters like the service (+ is a space, repeats joined by commas)', async () => {
    const event = await eventFor(`/capture?${QUERY}`);
    expect(event.queryStringParameters).toEqual({
      repeat: 'one,two',
      redirect: 'https://example.com/a/b',
      literalPlus: 'a b',
      encodedPlus: 'a+b',
      empty: '',
    });
  });

  it('lists cookies in `cookies` and keeps the cookie header', async () => {
    const event = await eventFor('/capture', { Cookie: 'session=abc123; theme=dark' });
    expect(event.cookies).toEqual(['session=abc123', 'theme=dark']);
    expect(event.headers.cookie).toBe('session=abc123; theme=dark');
  });
});

describe('Function URL event → ProxyRequest', () => {
  // Reduced from the live capture (functionurl-request.json), the path swapped for an S3 key.
  const captured = {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/datalake/sales/space%20value/a%2Fb%3Dc.parquet',
    rawQueryString: 'repeat=one&repeat=two&literalPlus=a+b&encodedPlus=a%2Bb&empty=',
    cookies: ['session=abc123', 'theme=dark'],
    headers: {
      host: '2cxn22odiwguak4feg4jtt7cwm0ziblr.lambda-url.us-west-2.on.aws',
      cookie: 'session=abc123; theme=dark',
      'x-forwarded-for': '198.51.100.7',
      'x-amz-date': '20260710T191906Z',
    },
    queryStringParameters: { repeat: 'one,two', literalPlus: 'a b', encodedPlus: 'a+b', empty: '' },
    requestContext: {
      domainName: '2cxn22odiwguak4feg4jtt7cwm0ziblr.lambda-url.us-west-2.on.aws',
      http: {
        method: 'GET',
        path: '/datalake/sales/space value/a/b=c.parquet',
        protocol: 'HTTP/1.1',
        sourceIp: '198.51.100.7',
        userAgent: 'curl/8.7.1',
      },
    },
    isBase64Encoded: false,
  };

  it('takes the path and query as sent, never the decoded requestContext.http.path', () => {
    const request = toProxyRequest(captured as never);
    expect(request.rawPath).toBe('/datalake/sales/space%20value/a%2Fb%3Dc.parquet');
    expect(request.rawQuery).toBe('repeat=one&repeat=two&literalPlus=a+b&encodedPlus=a%2Bb&empty=');
    expect(request.method).toBe('GET');
    expect(request.sourceIp).toBe('198.51.100.7');
    expect(request.headers.cookie).toBe('session=abc123; theme=dark');
    expect(request.headers['x-amz-date']).toBe('20260710T191906Z');
  });

  it('rebuilds the cookie header from `cookies` when the header itself is absent', () => {
    const { cookie: _dropped, ...headers } = captured.headers;
    expect(toProxyRequest({ ...captured, headers } as never).headers.cookie).toBe(
      'session=abc123; theme=dark',
    );
  });
});
