/**
 * The client helper's redirect policy against SSRF tricks (client/redirect-policy.ts and
 * how client/helper.ts applies it). Only 127.0.0.1 is ever connected to: every Location that names
 * a non-loopback address is one the policy refuses before any connection (checked on the policy
 * first), and the allowed paths lead to local servers that record what reaches them.
 */
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ClientHelper, startClientHelper } from '../../client/helper';
import { redirectPolicy } from '../../client/redirect-policy';
import { startUpstream, type Upstream } from '../helpers/recording-upstream';

const PRESIGNED =
  'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abab';
const SSE_SIGNED = PRESIGNED.replace(
  'X-Amz-SignedHeaders=host',
  'X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption-customer-algorithm%3Bx-amz-server-side-encryption-customer-key%3Bx-amz-server-side-encryption-customer-key-md5',
);
const at = (origin: string, query = PRESIGNED) => new URL(`${origin}/bucket/k?${query}`);
const REMOTE = 'https://abc.lambda-url.eu-west-1.on.aws';

/** A resolver stand-in (no DNS here): every name resolves to these addresses. */
const resolveTo =
  (...addresses: string[]) =>
  (_name: string, _options: unknown, callback: (...a: unknown[]) => void) =>
    callback(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );

/** What the policy's lookup hands node's connect for `name` (an error message, or the addresses). */
const lookupOf = (policy: ReturnType<typeof redirectPolicy>, name: string) =>
  new Promise<string>((resolve) =>
    policy.lookup(name, { all: true }, (err, addresses) =>
      resolve(
        err
          ? `refused: ${err.message}`
          : (addresses as { address: string }[]).map((a) => a.address).join(','),
      ),
    ),
  );

describe('redirect policy against SSRF tricks', () => {
  it('refuses the metadata address in every IPv4 notation a URL may carry', () => {
    for (const target of ['http://127.0.0.1:18080', REMOTE]) {
      const policy = redirectPolicy(new URL(target));
      for (const origin of [
        'https://2852039166', // decimal
        'https://0xa9fea9fe', // hex
        'https://0251.0376.0251.0376', // octal
        'https://169.254.43518', // short form
        'https://169.254.169.254.', // trailing dot
        'https://%31%36%39.254.169.254', // percent-encoded
        'https://\uff11\uff16\uff19\u3002254\u3002169\u3002254', // full-width digits and dots
        'HTTPS://169.254.169.254',
        'https://[::ffff:a9fe:a9fe]', // IPv4-mapped
        'https://[0:0:0:0:0:ffff:169.254.169.254]',
        'https://[FD00:EC2:0:0:0:0:0:254]',
        'https://[febf::1]', // end of fe80::/10
        'https://169.254.170.2', // ECS task credentials
        'https://169.254.170.23', // EKS Pod Identity Agent (IPv4)
        'https://[::169.254.169.254]', // IPv4-compatible
        'https://[64:ff9b::a9fe:a9fe]', // NAT64
        'https://100.100.100.200', // Alibaba Cloud's metadata
        'https://192.0.0.192', // Oracle Cloud's older metadata
        'https://168.63.129.16', // Azure's WireServer
        'https://[::ffff:100.100.100.200]',
        'https://[64:ff9b::6464:64c8]',
      ]) {
        expect(() => policy.check(at(origin)), `${origin} behind ${target}`).toThrow(/link-local/);
      }
    }
  });

  it('refuses the EKS Pod Identity Agent at its IPv6 address, as at its IPv4 one', () => {
    // The agent serves the pod's AWS credentials at 169.254.170.23 and [fd00:ec2::23]
    // (docs.aws.amazon.com/eks/latest/userguide/pod-id-agent-setup.html). The IPv4 one is refused
    // (169.254.0.0/16); the IPv6 one, like EC2's fd00:ec2::254, must be too.
    for (const target of ['http://127.0.0.1:18080', REMOTE]) {
      const policy = redirectPolicy(new URL(target));
      expect(() => policy.check(at('https://169.254.170.23'))).toThrow(/link-local/);
      expect(() => policy.check(at('https://[fd00:ec2::23]')), target).toThrow(/link-local|metadata/);
    }
  });

  it('refuses loopback in every notation, and names resolving to it, when the proxy is not on loopback', async () => {
    const policy = redirectPolicy(new URL(REMOTE), [], resolveTo('127.0.0.1') as never);
    for (const origin of [
      'https://2130706433',
      'https://0x7f.1',
      'https://127.1',
      'https://0',
      'https://[::ffff:127.0.0.1]',
      'https://[::ffff:0.0.0.0]',
      'https://[0::1]',
      'https://LOCALHOST',
      'https://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3', // ⓛⓞⓒⓐⓛⓗⓞⓢⓣ → localhost
    ]) {
      expect(() => policy.check(at(origin)), origin).toThrow(/loopback/);
    }
    // Names pass the check and are refused as they resolve, before any connection.
    expect(() => policy.check(at('https://localhost.'))).not.toThrow();
    expect(await lookupOf(policy, 'localhost.')).toMatch(/refused: .*loopback/);
    const mixed = redirectPolicy(
      new URL(REMOTE),
      [],
      resolveTo('52.1.2.3', '::ffff:169.254.169.254') as never,
    );
    expect(await lookupOf(mixed, 's3.example')).toMatch(/refused: .*link-local/);
  });

  it('userinfo names no host: the host after @ is the one checked', () => {
    const policy = redirectPolicy(new URL('http://127.0.0.1:18080'));
    expect(() => policy.check(at('http://s3.example@169.254.169.254'))).toThrow(/link-local/);
    expect(() => policy.check(at('http://169.254.169.254@s3.example'))).not.toThrow();
  });

  it('a name trusted as loopback for the SSE-C key over http must resolve to loopback', async () => {
    // The key may go over plain http only to this machine. `localhost` is taken for loopback by
    // its name alone, but it is connected to wherever it resolves (node asks the resolver; a
    // hosts file without it sends the name to DNS), which the lookup does not check against
    // loopback when the proxy is on loopback. A literal 192.0.2.10 is refused at once.
    const policy = redirectPolicy(new URL('http://127.0.0.1:18080'), [], resolveTo('192.0.2.10') as never);
    expect(() => policy.check(at('http://192.0.2.10:9000', SSE_SIGNED), true)).toThrow(/SSE-C/);
    expect(() => policy.check(at('http://localhost:9000', SSE_SIGNED), true)).not.toThrow();
    // Expected: refused as it resolves. Actual: 192.0.2.10 is handed to connect.
    expect(await lookupOf(policy, 'localhost')).toMatch(/refused/);
  });
});

let proxy: Upstream;
let s3: Upstream;
let helper: ClientHelper;

beforeAll(async () => {
  proxy = await startUpstream();
  s3 = await startUpstream();
  helper = await startClientHelper({ target: proxy.url });
});
afterAll(async () => {
  await helper?.close();
  await proxy?.stop();
  await s3?.stop();
});
beforeEach(() => {
  proxy.seen.length = 0;
  s3.seen.length = 0;
});

function get(path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: helper.port, method: 'GET', path, headers, agent: false, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const redirect =
  (...locations: string[]) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(307, [...locations.flatMap((l) => ['Location', l]), 'Content-Length', '0']);
    res.end();
  };

describe('the helper applies the policy on every hop', () => {
  it('a chain that starts at an allowed host and turns to the metadata service is refused there', async () => {
    proxy.answer = redirect(`${s3.url}/bucket/k?${PRESIGNED}`);
    s3.answer = redirect(`http://169.254.169.254/latest/meta-data/?${PRESIGNED}`);
    const before = helper.stats.redirectsFollowed;
    const r = await get('/datalake/k', { authorization: 'AWS4-HMAC-SHA256 Credential=x', cookie: 'c=1' });
    expect(r.status).toBe(502);
    expect(r.body).toContain('link-local');
    expect(s3.seen).toHaveLength(1);
    expect(s3.seen[0]!.headers.authorization).toBeUndefined();
    expect(s3.seen[0]!.headers.cookie).toBeUndefined();
    expect(helper.stats.redirectsFollowed - before).toBe(1);
  });

  it('a relative Location is resolved against the hop it came from, and checked', async () => {
    proxy.answer = redirect(`${s3.url}/bucket/k?${PRESIGNED}`);
    s3.answer = redirect(`//169.254.169.254/latest/?${PRESIGNED}`);
    const r = await get('/datalake/k');
    expect(r.status).toBe(502);
    expect(r.body).toContain('link-local');
  });

  it('with two Location headers, the refused first one is not traded for the second', async () => {
    proxy.answer = redirect(`http://169.254.169.254/?${PRESIGNED}`, `${s3.url}/bucket/k?${PRESIGNED}`);
    const r = await get('/datalake/k');
    expect(r.status).toBe(502);
    expect(s3.seen).toEqual([]);
  });

  it('Locations it cannot follow (zone ids, other schemes) reach the client untouched, unfetched', async () => {
    for (const location of [
      `http://[fe80::1%25eth0]/?${PRESIGNED}`,
      `file:///etc/passwd?${PRESIGNED}`,
      `ftp://169.254.169.254/?${PRESIGNED}`,
    ]) {
      proxy.answer = redirect(location);
      const r = await get('/datalake/k');
      expect(r.status, location).toBe(307);
    }
    expect(s3.seen).toEqual([]);
  });
});
