import type { SseCustomer } from './storage-backend';

/**
 * The SDK's SSE-C fields for a GetObject or HeadObject (none without SSE-C). The key is already
 * base64 (checked by the S3 layer), which the SDK sends as is; it computes the same MD5 the
 * client sent.
 */
export function sseCustomerParams(sse: SseCustomer | undefined) {
  if (!sse) return {};
  return { SSECustomerAlgorithm: sse.algorithm, SSECustomerKey: sse.key, SSECustomerKeyMD5: sse.keyMd5 };
}
