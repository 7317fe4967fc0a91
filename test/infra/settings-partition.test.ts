/**
 * A role's credentials work in one partition only (aws, aws-cn, aws-us-gov), and IAM refuses a
 * policy naming a resource of another. Buckets or a bucket key named in another partition than
 * the stack's region is a deployment that cannot work: synth must say so, naming the setting.
 */
import { describe, expect, it } from 'vitest';
import { buildStack, SETTINGS } from '../infra/stack-fixture';

const CHINA = { account: '123456789012', region: 'cn-north-1' };
const KEY = (partition: string, region: string) =>
  `arn:${partition}:kms:${region}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

describe('settings in another partition than the stack', () => {
  it('refuses a bucket key ARN of another partition (IAM would refuse the role policy at deploy)', () => {
    expect(() => buildStack({ ...SETTINGS, kmsKeyArns: [KEY('aws', 'eu-west-1')] }, CHINA)).toThrow(
      /kmsKeyArns\[0\]: .*aws-cn/,
    );
    expect(() => buildStack({ ...SETTINGS, kmsKeyArns: [KEY('aws-cn', 'cn-north-1')] }, CHINA)).not.toThrow();
  });

  it("refuses a backendRegion of another partition (the role's credentials are refused there)", () => {
    expect(() => buildStack({ ...SETTINGS, backendRegion: 'cn-northwest-1' })).toThrow(
      /backendRegion: .*aws-cn/,
    );
    expect(() => buildStack({ ...SETTINGS, backendRegion: 'us-west-2' })).not.toThrow();
    // A stack without a region at synth cannot be checked: accepted.
    expect(() => buildStack({ ...SETTINGS, backendRegion: 'cn-northwest-1' }, {})).not.toThrow();
  });
});
