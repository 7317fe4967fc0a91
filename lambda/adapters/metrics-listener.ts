/**
 * The local server's Prometheus listener: `GET /metrics` on its own port (`metricsPort`, same
 * host as the proxy), so that scraping needs no S3 signature and never mixes with S3 traffic.
 */
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { MetricsText } from '../pipeline/metrics-endpoint';

/** Hosts that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * The warning the local server prints when its metrics port answers other hosts: it has no
 * authentication (the proxy's own /metrics takes `metricsToken`). Undefined on loopback.
 */
export function metricsExposureWarning(host: string): string | undefined {
  if (isLoopbackHost(host)) return undefined;
  return `the metrics port answers on ${host} without authentication: keep it behind a network policy, or scrape the proxy's /metrics with metricsToken`;
}

export interface MetricsListener {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startMetricsListener(
  render: () => Promise<MetricsText>,
  host: string,
  port: number,
): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('GET /metrics\n');
      return;
    }
    render().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics failed\n'),
    );
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
