/**
 * DynamoDB-compatible servers for tests, all on 127.0.0.1 with ports chosen at run time:
 * dynalite (npm, in-process, always available), moto (Python, where installed), and a tiny
 * server that answers every call with a throttling error (to prove the stores fail closed).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { motoMissing } from './skips';

export interface DynamoServer {
  endpoint: string;
  stop(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startDynalite(): Promise<DynamoServer> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const endpoint = await listen(server);
  return { endpoint, stop: () => close(server) };
}

/** A server that refuses every DynamoDB call with the given error type (HTTP 400, JSON 1.0 body). */
export async function startRefusingDynamo(
  errorType = 'ProvisionedThroughputExceededException',
): Promise<DynamoServer & { calls: () => number }> {
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    req.resume();
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': errorType });
      res.end(
        JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${errorType}`, message: 'refused' }),
      );
    });
  });
  const endpoint = await listen(server);
  return { endpoint, stop: () => close(server), calls: () => calls };
}

/**
 * What a misbehaving DynamoDB does with a call: answer an error itself (HTTP status and
 * `__type`), forward it and answer an error instead of its answer (the call took effect, its
 * answer was lost), forward it once a promise settles (a stall that ends), forward it at once and
 * hold its answer until a promise settles (read now, delivered late: a Lambda instance frozen with
 * the call in flight), never answer, or pass.
 */
export type DynamoFault =
  | { status: number; type: string; afterForwarding?: true }
  | { after: Promise<unknown> }
  | { answerAfter: Promise<unknown> }
  | { hang: true }
  | undefined;

export interface MisbehavingDynamo extends DynamoServer {
  /** Called per call with its operation (`GetItem`, `Query`, ...); replace it freely between tests. */
  onRequest: (operation: string) => DynamoFault;
  /** Operations received, in order. */
  readonly seen: string[];
  /** Drops the connections of calls left hanging (their clients see a reset). */
  dropHung(): void;
}

/** A front in front of a real DynamoDB-compatible server that misbehaves where a test says so. */
export async function startMisbehavingDynamo(upstream: DynamoServer): Promise<MisbehavingDynamo> {
  const target = new URL(upstream.endpoint);
  const seen: string[] = [];
  const hung = new Set<Socket>();
  const server = createServer((req, res) => {
    const operation =
      String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() ?? '';
    seen.push(operation);
    const fault = self.onRequest(operation);
    const refuse = (f: { status: number; type: string }) => {
      res.writeHead(f.status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-errortype': f.type,
      });
      res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${f.type}`, message: 'injected' }));
    };
    const forward = (answer?: { status: number; type: string }, held?: Promise<unknown>) => {
      const up = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          if (answer) {
            upRes.resume();
            upRes.on('end', () => refuse(answer));
            return;
          }
          if (held) {
            const chunks: Buffer[] = [];
            upRes.on('data', (c: Buffer) => chunks.push(c));
            upRes.on('end', () => {
              const deliver = () => {
                res.writeHead(upRes.statusCode ?? 502, upRes.headers);
                res.end(Buffer.concat(chunks));
              };
              held.then(deliver, deliver);
            });
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (fault && 'afterForwarding' in fault) forward(fault);
    else if (fault && 'answerAfter' in fault) forward(undefined, fault.answerAfter);
    else if (fault && 'hang' in fault) {
      req.resume();
      hung.add(req.socket);
    } else if (fault && 'after' in fault)
      fault.after.then(
        () => forward(),
        () => forward(),
      );
    else if (fault) {
      req.resume();
      req.on('end', () => refuse(fault));
    } else forward();
  });
  const self: MisbehavingDynamo = {
    endpoint: await listen(server),
    seen,
    onRequest: () => undefined,
    dropHung: () => {
      for (const socket of hung) socket.destroy();
      hung.clear();
    },
    stop: () => close(server),
  };
  return self;
}

/** Why moto cannot run here, or undefined when it can (the skip reason; see skips.ts). */
export const motoUnavailable = motoMissing;

async function freePort(): Promise<number> {
  const server = createServer();
  await listen(server);
  const port = (server.address() as AddressInfo).port;
  await close(server);
  return port;
}

export async function startMoto(timeoutMs = 30_000): Promise<DynamoServer> {
  const port = await freePort();
  const child: ChildProcess = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill();
        throw new Error(`moto did not start on ${endpoint}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** A client for a loopback test server: explicit credentials, few retries, short timeouts. */
export function testDynamoClient(endpoint: string, maxAttempts = 1): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000 },
  });
}
