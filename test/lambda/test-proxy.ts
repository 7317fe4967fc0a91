/** A handwritten ProxyHandler exercising every response shape the adapter must carry. */
import { S3Error } from '../../lambda/core/s3-error';
import type { ProxyHandler, ProxyRequest } from '../../lambda/core/types';

export const CHUNK = 64 * 1024;

export interface StreamProbe {
  produced: number;
  closed: boolean;
  aborted: boolean;
}

export function createTestProxy(
  probe: StreamProbe = { produced: 0, closed: false, aborted: false },
): ProxyHandler {
  return async (req: ProxyRequest) => {
    // Everything under /echo/ is echoed too, so path tests can use any raw path.
    const path = req.rawPath.startsWith('/echo/') ? '/echo' : req.rawPath;
    const id = { 'x-amz-request-id': 'CORE0000REQUEST1' };
    switch (path) {
      case '/echo': {
        const chunks: Buffer[] = [];
        for await (const c of req.body ?? []) chunks.push(Buffer.from(c));
        const body = JSON.stringify({
          method: req.method,
          rawPath: req.rawPath,
          rawQuery: req.rawQuery,
          headers: req.headers,
          sourceIp: req.sourceIp,
          body: Buffer.concat(chunks).toString('base64'),
          hasSignal: req.signal instanceof AbortSignal,
        });
        return { status: 200, headers: { ...id, 'content-type': 'application/json' }, body };
      }
      case '/object':
        return {
          status: 200,
          headers: {
            ...id,
            'content-length': '1234',
            etag: '"abc"',
            'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT',
          },
          body: req.method === 'HEAD' ? undefined : Buffer.alloc(1234, 7),
        };
      case '/not-modified':
        return { status: 304, headers: { ...id, etag: '"abc"' } };
      case '/redirect':
        return {
          status: 307,
          headers: {
            ...id,
            location: 'http://127.0.0.1:9/bucket/key?X-Amz-Signature=abc',
            'content-type': 'application/xml',
          },
          body: '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>TemporaryRedirect</Code></Error>',
        };
      case '/redirect-empty':
        return { status: 307, headers: { ...id, location: 'http://127.0.0.1:9/elsewhere' } };
      case '/forbidden-empty':
        return { status: 403, headers: { ...id, 'x-amz-error-code': 'AccessDenied' } };
      case '/hop-by-hop':
        return {
          status: 200,
          headers: { ...id, connection: 'close', 'transfer-encoding': 'chunked' },
          body: 'ok',
        };
      case '/throw':
        throw new Error('database password is hunter2 at /var/task/secret.js:1');
      case '/throw-s3':
        throw new S3Error('NoSuchKey');
      case '/binary':
        return {
          status: 200,
          headers: { ...id, 'content-type': 'application/octet-stream' },
          body: Uint8Array.from({ length: 256 }, (_, i) => i),
        };
      case '/stream': {
        const chunks = Number(new URLSearchParams(req.rawQuery).get('chunks') ?? '4');
        req.signal?.addEventListener('abort', () => {
          probe.aborted = true;
        });
        return {
          status: 200,
          headers: { ...id, 'content-type': 'application/octet-stream' },
          body: counted(chunks, probe),
        };
      }
      case '/fail-mid-stream':
        return { status: 200, headers: id, body: failing() };
      case '/fail-before-first-byte':
        return { status: 200, headers: { ...id, 'content-length': '1234' }, body: failingAtOnce() };
      default:
        throw new S3Error('NoSuchBucket');
    }
  };
}

async function* counted(chunks: number, probe: StreamProbe): AsyncIterable<Uint8Array> {
  try {
    for (let i = 0; i < chunks; i++) {
      probe.produced++;
      yield Buffer.alloc(CHUNK, i % 251);
    }
  } finally {
    probe.closed = true;
  }
}

async function* failing(): AsyncIterable<Uint8Array> {
  yield Buffer.from('first bytes ');
  throw new Error('backend connection reset');
}

function failingAtOnce(): AsyncIterable<Uint8Array> {
  const next = () => Promise.reject(new Error('backend connection reset before the first byte'));
  return { [Symbol.asyncIterator]: () => ({ next }) };
}
