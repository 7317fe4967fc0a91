import { S3Error } from '../core/s3-error';

/** "AKID/20130524/us-east-1/s3/aws4_request", split into its parts. */
export interface CredentialScope {
  accessKeyId: string;
  /** yyyymmdd */
  shortDate: string;
  region: string;
  service: string;
}

/** Where the credential came from: S3 words its refusals differently for each. */
export type AuthForm = 'header' | 'query';

export const SIGNING_SERVICE = 's3';
const TERMINAL = 'aws4_request';

/** S3's refusal of a malformed part of the Authorization header or of the presigned query. */
export function malformed(form: AuthForm, detail: string): S3Error {
  return form === 'header'
    ? new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`)
    : new S3Error(
        'AuthorizationQueryParametersError',
        `Error parsing the X-Amz-Credential parameter; ${detail}`,
      );
}

/**
 * Parses a credential. The access key id is everything before the last four components
 * (key ids may contain "/"); any region is accepted, the service must be s3.
 */
export function parseCredentialScope(credential: string, form: AuthForm): CredentialScope {
  const parts = credential.split('/');
  if (parts.length < 5) {
    throw malformed(
      form,
      'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    );
  }
  const [shortDate, region, service, terminal] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (accessKeyId === '' || region === '') {
    throw malformed(
      form,
      'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    );
  }
  if (!/^\d{8}$/.test(shortDate)) {
    throw malformed(
      form,
      `incorrect date format "${shortDate}". This date in the credential must be in the format "yyyyMMdd".`,
    );
  }
  if (service !== SIGNING_SERVICE) {
    throw malformed(form, `incorrect service "${service}". This endpoint belongs to "${SIGNING_SERVICE}".`);
  }
  if (terminal !== TERMINAL) {
    throw malformed(form, `incorrect terminal "${terminal}". This endpoint uses "${TERMINAL}".`);
  }
  return { accessKeyId, shortDate, region, service };
}

export function scopeString(scope: CredentialScope): string {
  return `${scope.shortDate}/${scope.region}/${scope.service}/${TERMINAL}`;
}

/** The credential's day must be the request's day. */
export function checkScopeDate(scope: CredentialScope, longDate: string, form: AuthForm): void {
  if (longDate.slice(0, 8) !== scope.shortDate) {
    throw malformed(
      form,
      `Invalid credential date "${scope.shortDate}". This date is not the same as X-Amz-Date: "${longDate.slice(0, 8)}".`,
    );
  }
}
