/**
 * Which redirects the helper follows. The proxy answers a GET with a 307 to a presigned S3 URL;
 * a hostile or misconfigured proxy could name any URL instead, and the helper would fetch it from
 * the user's machine and hand the answer to the local client (the EC2 metadata service at
 * 169.254.169.254, a service on the user's network). So a Location is followed only when:
 * - it is a SigV4 presigned URL (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature in its
 *   query), the only thing the proxy's presigner writes, and the helper sends it no credential;
 * - it does not name or resolve to a link-local address (metadata services, fe80::/10,
 *   fd00:ec2::254, fd00:ec2::23), another cloud's metadata address (100.100.100.200,
 *   192.0.0.192, 168.63.129.16) or an unspecified one (0.0.0.0 reaches this machine);
 * - it names or resolves to a loopback address only when the proxy itself is on loopback (a local
 *   proxy with a local S3 stand-in, as in the tests);
 * - it keeps https when the proxy is reached over https (a presigned URL is a bearer credential),
 *   and is https (or loopback) when the follow-up carries the client's SSE-C key.
 * A host the user lists with --allow-redirect-host is exempt from the address and https rules
 * (not the presigned or SSE-C ones), for setups such as an S3 stand-in behind a local tunnel. Private addresses (10/8, …) stay allowed:
 * S3 through PrivateLink resolves to one.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** What a refused redirect throws; the helper answers it with 502, naming only the host. */
export class RedirectRefused extends Error {
  readonly code = 'ERR_REDIRECT_REFUSED';
  constructor(
    readonly host: string,
    readonly reason: string,
  ) {
    super(`redirect to ${host} refused: ${reason}`);
  }
}

const linkLocal = new BlockList();
linkLocal.addSubnet('169.254.0.0', 16, 'ipv4');
linkLocal.addSubnet('fe80::', 10, 'ipv6');
linkLocal.addAddress('fd00:ec2::254', 'ipv6'); // EC2's IPv6 metadata endpoint
linkLocal.addAddress('fd00:ec2::23', 'ipv6'); // EKS Pod Identity Agent's (credentials), as 169.254.170.23
// 169.254.0.0/16 embedded in IPv6: IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d), which a
// translator on the way could turn into the IPv4 address (IPv4-mapped ones BlockList maps itself).
linkLocal.addSubnet('::a9fe:0', 112, 'ipv6');
linkLocal.addSubnet('64:ff9b::a9fe:0', 112, 'ipv6');
// Other clouds' metadata and host services outside 169.254.0.0/16 (a helper on a VM there):
// Alibaba Cloud's metadata, Oracle Cloud's older one, Azure's WireServer. Also as embedded above.
for (const [address, hex] of [
  ['100.100.100.200', '6464:64c8'],
  ['192.0.0.192', 'c000:c0'],
  ['168.63.129.16', 'a83f:8110'],
] as const) {
  linkLocal.addAddress(address, 'ipv4');
  linkLocal.addAddress(`::${hex}`, 'ipv6');
  linkLocal.addAddress(`64:ff9b::${hex}`, 'ipv6');
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
// Unspecified addresses connect to this machine on Linux.
loopback.addSubnet('0.0.0.0', 8, 'ipv4');
loopback.addAddress('::', 'ipv6');

const family = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** `localhost` or a loopback literal (a bare host, lower case). */
const isLoopback = (host: string) =>
  host === 'localhost' || (isIP(host) > 0 && loopback.check(host, family(host)));

/** A URL's host without an IPv6 literal's brackets, in lower case. */
export function bareHost(url: URL): string {
  const { hostname } = url;
  return (hostname.startsWith('[') ? hostname.slice(1, -1) : hostname).toLowerCase();
}

/** The parameters every SigV4 presigned URL carries. */
const PRESIGNED = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature'];

export interface RedirectPolicy {
  /**
   * Throws RedirectRefused for a Location the helper must not follow (before any connection);
   * `sendsKey`: the follow-up would carry the client's SSE-C key.
   */
  check(location: URL, sendsKey?: boolean): void;
  /** dns.lookup for followed requests: a name resolving to a refused address fails to connect. */
  lookup: typeof dnsLookup;
}

export function redirectPolicy(
  target: URL,
  allowHosts: readonly string[] = [],
  resolve: typeof dnsLookup = dnsLookup,
): RedirectPolicy {
  const allowed = new Set(allowHosts.map((h) => h.toLowerCase().replace(/^\[(.*)\]$/, '$1')));
  const localProxy = isLoopback(bareHost(target));

  /** Why this address may not be connected to, or undefined. */
  const addressRefusal = (address: string): string | undefined => {
    const type = family(address);
    if (linkLocal.check(address, type)) return `${address} is a link-local or cloud metadata address`;
    if (loopback.check(address, type) && !localProxy)
      return `${address} is a loopback address and the proxy is not on loopback`;
    return undefined;
  };

  const check = (location: URL, sendsKey = false): void => {
    const host = bareHost(location);
    const query = location.searchParams;
    if (!PRESIGNED.every((p) => query.has(p)) || query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256')
      throw new RedirectRefused(host, 'not a presigned S3 URL');
    const local = isLoopback(host);
    // As S3 refuses SSE-C over http: the key is a secret, whatever host the user allows.
    if (sendsKey && location.protocol !== 'https:' && !local)
      throw new RedirectRefused(host, 'it would send the SSE-C key unencrypted (http)');
    if (allowed.has(host)) return;
    if (local && !localProxy)
      throw new RedirectRefused(host, `${host} is a loopback address and the proxy is not on loopback`);
    // Over the network the URL (a bearer credential) and the object must stay encrypted.
    if (target.protocol === 'https:' && location.protocol !== 'https:' && !local)
      throw new RedirectRefused(host, 'the proxy is reached over https and the redirect is not');
    const why = isIP(host) ? addressRefusal(host) : undefined;
    if (why) throw new RedirectRefused(host, why);
  };

  // Names are checked once resolved, on the addresses actually connected to.
  const lookup = ((
    hostname: string,
    options: LookupOptions,
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    resolve(hostname, { ...options, all: true } as LookupAllOptions, (err, addresses) => {
      if (err) return callback(err, []);
      // `localhost` counts as this machine by its name (the SSE-C and https rules trust it):
      // it must resolve there, whatever the resolver (a hosts file without it asks DNS) says.
      if (hostname.toLowerCase() === 'localhost') {
        const away = addresses.find(({ address }) => !loopback.check(address, family(address)));
        if (away)
          return callback(new RedirectRefused(hostname, `it resolves to ${away.address}, not loopback`), []);
      }
      if (!allowed.has(hostname.toLowerCase())) {
        for (const { address } of addresses) {
          const why = addressRefusal(address);
          if (why) return callback(new RedirectRefused(hostname, why), []);
        }
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  }) as typeof dnsLookup;

  return { check, lookup };
}
