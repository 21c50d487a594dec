/**
 * The bcrypt step of token verification, remembered by a warm authorizer. bcrypt (cost 10) is
 * 70-120 ms of CPU per `$connect`, and after a gateway restart every client reconnects at
 * once with a token it used before. A token whose secret this container has already checked
 * against its stored hash is accepted on a constant-time comparison of digests instead.
 *
 * Only this step is remembered: verifyToken (core/tokens.ts) still checks the signature and
 * the expiry and reads the token's row on every connect, so a revoked or expired token is
 * refused as before. Why this is safe: docs/tokens.md, "The authorizer's verification cache".
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';

/** Whether `secret` is the one `storedHash` was made from; `tokenId` is the token's jti. */
export type SecretCheck = (tokenId: string, secret: string, storedHash: string) => Promise<boolean>;

export const bcryptCheck: SecretCheck = (_tokenId, secret, storedHash) => bcrypt.compare(secret, storedHash);

export interface VerifiedSecrets {
  check: SecretCheck;
  stats(): { entries: number; hits: number; misses: number };
}

/** Tokens remembered per container; the least recently used is forgotten first. */
export const DEFAULT_MAX_VERIFIED = 10_000;

/**
 * One digest binds the stored hash and the secret: a bcrypt hash is 60 printable characters, so
 * `hash NUL secret` cannot be read two ways. A row re-issued with a new hash, or another secret
 * presented under the same token id, does not match and goes to bcrypt.
 */
function digest(storedHash: string, secret: string): Buffer {
  return createHash('sha256').update(storedHash).update('\0').update(secret).digest();
}

export function createVerifiedSecrets(opts: { maxEntries?: number; verify?: SecretCheck } = {}): VerifiedSecrets {
  const max = opts.maxEntries ?? DEFAULT_MAX_VERIFIED;
  const verify = opts.verify ?? bcryptCheck;
  const known = new Map<string, Buffer>();
  let hits = 0;
  let misses = 0;
  return {
    async check(tokenId, secret, storedHash) {
      const d = digest(storedHash, secret);
      const seen = known.get(tokenId);
      if (seen && timingSafeEqual(seen, d)) {
        hits++;
        known.delete(tokenId); // most recently used goes last
        known.set(tokenId, seen);
        return true;
      }
      misses++;
      // Only successes are remembered: a wrong secret costs bcrypt every time, as without the cache.
      if (!(await verify(tokenId, secret, storedHash))) return false;
      known.delete(tokenId);
      known.set(tokenId, d);
      if (known.size > max) known.delete(known.keys().next().value!);
      return true;
    },
    stats: () => ({ entries: known.size, hits, misses }),
  };
}
