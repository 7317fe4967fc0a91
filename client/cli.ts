/**
 * `npx delta-proxy-client --target URL [--port N] [--host ADDR] [--verbose]
 * [--allow-redirect-host HOST]...`: starts the helper and prints how to point S3 clients at it.
 * Ctrl-C stops it.
 */
import { parseArgs } from 'node:util';
import { type ClientHelper, startClientHelper } from './helper';

const USAGE = `usage: delta-proxy-client --target URL [--port 18090] [--host 127.0.0.1] [--verbose]
                          [--allow-redirect-host HOST]...

Forwards S3 requests to the Delta Lake proxy at URL and follows its 307 redirects to presigned S3
URLs itself, without your credentials, so any S3 client reads big objects straight from S3.
It follows only presigned S3 URLs, never to link-local or cloud metadata addresses, to loopback only
when URL is on loopback, and over https when URL is https; --allow-redirect-host HOST (repeatable)
lifts the address and https rules for HOST.`;

/** What to tell the user: the endpoint, or for an https proxy the endpoint plus HTTP proxy. */
export function endpointHelp(helper: ClientHelper): string {
  const { target, url } = helper;
  if (target.protocol === 'http:') {
    return [
      'Point your S3 client at the helper (path-style, bucket datalake):',
      `  AWS_ENDPOINT_URL=${url}`,
      `  e.g. aws s3 ls s3://datalake/ --endpoint-url ${url}`,
    ].join('\n');
  }
  // SigV4 signs the Host header and a Function URL routes by it: the client must sign for the
  // proxy's own host, so it uses that host over http and reaches it through the helper.
  const endpoint = `http://${target.host}`;
  return [
    `Point your S3 client at the proxy's host over http, with the helper as its HTTP proxy`,
    `(the helper talks https to ${target.host}; your credentials sign for that host):`,
    `  AWS_ENDPOINT_URL=${endpoint}`,
    `  HTTP_PROXY=${url}`,
    `  e.g. HTTP_PROXY=${url} aws s3 ls s3://datalake/ --endpoint-url ${endpoint}`,
    `  pyarrow: S3FileSystem(endpoint_override="${target.host}", scheme="http", proxy_options="${url}")`,
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  let values: {
    target?: string;
    port?: string;
    host?: string;
    verbose?: boolean;
    help?: boolean;
    'allow-redirect-host'?: string[];
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        target: { type: 'string' },
        port: { type: 'string', default: '18090' },
        host: { type: 'string', default: '127.0.0.1' },
        verbose: { type: 'boolean', default: false },
        'allow-redirect-host': { type: 'string', multiple: true, default: [] },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help || !values.target) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port must be 0-65535, got "${values.port}"\n`);
    return 2;
  }
  let helper: ClientHelper;
  try {
    helper = await startClientHelper({
      target: values.target,
      port,
      host: values.host,
      allowRedirectHosts: values['allow-redirect-host'],
      log: values.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
    });
  } catch (e) {
    process.stderr.write(`delta-proxy-client: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    `delta-proxy-client on ${helper.url} → ${helper.target.origin} (follows the proxy's redirects itself)\n${endpointHelp(helper)}\n`,
  );
  // npx runs the bin under a shell: a SIGTERM to npx's process ends that shell only, and the
  // helper, re-parented, would go on serving. So under npx it also stops when its parent is gone
  // (run by node itself it does not: `nohup node bin/delta-proxy-client.mjs &` outlives its shell).
  const parent = process.ppid;
  let orphaned: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (process.env.npm_command === 'exec')
      orphaned = setInterval(() => {
        if (process.ppid !== parent) resolve();
      }, 250);
  });
  clearInterval(orphaned);
  await helper.close();
  return 0;
}
