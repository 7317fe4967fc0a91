/**
 * cdk-nag (v3, a CDK validation plugin) findings this design accepts, each with its reason.
 * Anything not acknowledged here fails `cdk synth`.
 */
import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

const nagId = (rule: string) => `AwsSolutions::${rule}`;

/** The function runtime is pinned to Node 22 on purpose. */
export function acknowledgePinnedRuntime(fn: IConstruct): void {
  Validations.of(fn).acknowledge({
    id: nagId('AwsSolutions-L1'),
    reason:
      'nodejs22.x on purpose: the bundle is built and tested for Node 22 (the pinned middy 6 / vitest 4 run on Node 20 and 22); moving to a newer runtime is a tested upgrade, not a default.',
  });
}

/** `bucket/prefix/*` is exactly a mapped table root: every file under it, nothing outside. */
export function acknowledgeTablePrefixWildcards(role: IConstruct, objectArns: string[]): void {
  for (const arn of objectArns) {
    Validations.of(role).acknowledge({
      id: nagId(`AwsSolutions-IAM5[Resource::${arn}]`),
      reason:
        'Object wildcard limited to one mapped Delta table root: the proxy must read every data, deletion-vector, CDC and _delta_log file under it; which of those a caller may see is decided per request by the proxy, and nothing outside the mapped prefixes is readable.',
    });
  }
}

/** The listing-token key is read at cold start; rotating it only ends open listing pages. */
export function acknowledgeListingKeyRotation(secret: IConstruct): void {
  Validations.of(secret).acknowledge({
    id: nagId('AwsSolutions-SMG4'),
    reason:
      'The key only seals listing continuation tokens (never data or credentials) and is read by the function at cold start; rotating it would invalidate the listings being paged at that moment (while instances started before and after it disagree) and nothing else.',
  });
}
