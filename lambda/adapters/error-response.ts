/**
 * The adapter's last line of defence: whatever escapes the core becomes S3 XML with a request
 * id, never a stack or plain text. S3Errors keep their code and status; anything else is an
 * InternalError whose details go to the log only.
 */
import { isS3Error, S3ErrorCodes } from '../core/s3-error';
import type { ProxyResponse } from '../core/types';

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

export function escapeXml(text: string): string {
  // Characters XML 1.0 cannot carry at all are dropped rather than escaped.
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

export function errorResponse(error: unknown, requestId: string, resource: string): ProxyResponse {
  const [status, code, message] = isS3Error(error)
    ? [error.status, error.code, error.message]
    : [S3ErrorCodes.InternalError[0], 'InternalError', S3ErrorCodes.InternalError[1]];
  const extra = isS3Error(error)
    ? Object.entries(error.extra)
        .filter(([name]) => /^[A-Za-z][A-Za-z0-9]*$/.test(name))
        .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
        .join('')
    : '';
  const headers: Record<string, string> = { 'x-amz-request-id': requestId };
  // 304 and HEAD answers carry no body; every other error is the S3 XML document.
  if (status === 304) return { status, headers };
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${extra}` +
    `<Resource>${escapeXml(resource)}</Resource><RequestId>${escapeXml(requestId)}</RequestId></Error>`;
  headers['content-type'] = 'application/xml';
  headers['content-length'] = String(Buffer.byteLength(body));
  return { status, headers, body };
}
