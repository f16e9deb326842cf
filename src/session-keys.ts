/**
 * Session ids and secrets (PROTOCOL.md, Sessions): the randomness and hashing the hub is
 * given, since a machine touches neither.
 *
 * A secret is 128 random bits in base64url; the server keeps only its SHA-256. A hash that
 * leaked would not let anyone resume: it cannot be turned back into the secret, and a
 * resume must show the secret itself. No salt is needed for that: the secrets are random,
 * not chosen by people, so there is no dictionary to try.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SessionKeys } from '../machines/hub.machine.js';

const SECRET_BYTES = 16;
const ID_BYTES = 9;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

export const sessionKeys: SessionKeys = {
  // Letters first: a session id is a record key, and an all-digit key would sort apart.
  newId: () => `s${randomBytes(ID_BYTES).toString('base64url')}`,
  newSecret: () => {
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    return { secret, hash: hashSecret(secret) };
  },
  hash: hashSecret,
};
