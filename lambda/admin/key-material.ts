/** Random identifiers and secrets for the admin CLI (node:crypto, uniform, no modulo bias). */
import { randomBytes, randomInt } from 'node:crypto';

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `DLP` + 17 upper-case letters/digits: 20 characters, like an AWS access key id (~88 bits). */
export function newAccessKeyId(): string {
  let id = 'DLP';
  for (let i = 0; i < 17; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** 40 characters of base64url (240 random bits), safe in config files, shells and SigV4. */
export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64url');
}

/** A short grant id (DynamoDB sort key suffix). */
export function newGrantId(): string {
  return randomBytes(6).toString('hex');
}
