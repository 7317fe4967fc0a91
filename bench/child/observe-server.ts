/**
 * The proxy process of `npm run bench -- observe`: the core in each observation set-up behind its
 * own node:http server on 127.0.0.1, all in this one process (so that JIT and heap state are
 * shared and only the set-up differs), the clock fixed at the signing time of the bench's
 * requests. Reports the ports, then its CPU time whenever asked (IPC).
 */
import { startNodeServer } from '../../lambda/adapters/node-server';
import { parseConfig } from '../../lambda/config';
import { S3Backend } from '../../lambda/storage/s3-backend';
import { devNullWriter, observedCore, VARIANTS } from './observed-cores';

const [endpoint, signedAt, settings] = process.argv.slice(2) as [string, string, string];
const clock = { now: () => Number(signedAt) };
const config = parseConfig({
  ...JSON.parse(settings),
  s3: { endpoint, forcePathStyle: true, region: 'us-east-1' },
});
const sink = devNullWriter();
const ports: Record<string, number> = {};
const servers: { close(): Promise<void> }[] = [];
for (const variant of VARIANTS) {
  // One backend client per set-up, as each would have in its own deployment.
  const storage = new S3Backend({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const server = await startNodeServer(
    observedCore(variant, config, storage, clock, sink.write),
    '127.0.0.1',
    0,
  );
  servers.push(server);
  ports[variant] = server.port;
}
process.send!({ ports });
process.on('message', (message) => {
  if (message === 'cpu') process.send!({ cpu: process.cpuUsage() });
  if (message === 'stop') void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0));
});
