/**
 * Access key items (dynamo-schema.ts): what the proxy reads of one, or why it refuses it. Only an
 * item written as the schema says signs; anything else (an attribute outside the schema, which may
 * be a restriction such as an expiry the proxy would not apply, a missing or mistyped attribute, a
 * status other than active/revoked, an `accessKeyId` copy that disagrees with the pk) cannot sign.
 * A reason never quotes the secret.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ANONYMOUS } from '../core/principal';
import { keyPk } from './dynamo-schema';

/** The attributes of an access key item. */
const KEY_ITEM_ATTRIBUTES = new Set([
  'pk',
  'sk',
  'accessKeyId',
  'principal',
  'secret',
  'status',
  'createdAt',
  'revokedAt',
]);

/** config.ts's minimum for a secret access key. */
export const MIN_SECRET_LENGTH = 8;

type Item = Record<string, AttributeValue>;

/**
 * Why an item that is not revoked cannot sign, its secret aside (checked by secretProblem; admin
 * listings never read it). 'revoked' for a revoked key: kept for audit, not malformed.
 */
export function keyItemProblem(item: Item): string | 'revoked' | undefined {
  const status = item.status?.S;
  if (status === 'revoked') return 'revoked';
  if (status === undefined) return 'no `status` string attribute';
  if (status !== 'active')
    return `\`status\` is ${JSON.stringify(status.slice(0, 40))}, not "active" or "revoked"`;
  const unknown = Object.keys(item).filter((k) => !KEY_ITEM_ATTRIBUTES.has(k));
  if (unknown.length) return `unknown attribute(s): ${unknown.sort().join(', ').slice(0, 200)}`;
  // Written for another key id than the one it is stored (and looked up) under.
  if (item.accessKeyId !== undefined && keyPk(item.accessKeyId.S ?? '') !== item.pk?.S)
    return '`accessKeyId` disagrees with the pk';
  const principal = item.principal?.S;
  if (principal === undefined) return 'no `principal` string attribute';
  if (principal === '') return '`principal` is empty';
  // Reserved for unsigned callers: a key signing as it would blur the two (config.ts refuses it).
  if (principal === ANONYMOUS.name)
    return `\`principal\` is "${ANONYMOUS.name}", reserved for unsigned callers`;
  if (item.revokedAt !== undefined) return '`revokedAt` is set but `status` is "active"';
  return undefined;
}

/** Why the item's secret cannot sign; never quotes it. */
export function secretProblem(item: Item): string | undefined {
  const secret = item.secret?.S;
  if (secret === undefined) return 'no `secret` string attribute';
  if (secret.length < MIN_SECRET_LENGTH) return `\`secret\` is shorter than ${MIN_SECRET_LENGTH} characters`;
  return undefined;
}

/** What the proxy reads of a key item: its principal and secret, 'revoked', or why it refuses it. */
export function readKeyItem(
  item: Item,
): { principal: string; secret: string } | 'revoked' | { problem: string } {
  const problem = keyItemProblem(item) ?? secretProblem(item);
  if (problem === 'revoked') return 'revoked';
  if (problem !== undefined) return { problem };
  return { principal: item.principal!.S!, secret: item.secret!.S! };
}
