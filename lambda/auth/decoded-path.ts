/**
 * For transports that hand over an already percent-decoded path (API Gateway HTTP API payload
 * 2.0 was seen delivering `/a%2Fb` as `/a/b`; a Lambda Function URL adapter must check its own):
 * rebuilds the path the AWS SDKs sign, each segment RFC 3986-escaped once, slashes kept. It is
 * exact for every SDK-encoded key; a client that sent a reserved character raw (`=`, `+`) will
 * fail to verify, which is the safe direction. Transports that pass the raw path must not use it.
 */
export function reencodeDecodedPath(decodedPath: string): string {
  return decodedPath
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    )
    .join('/');
}
