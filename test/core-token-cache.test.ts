/**
 * The authorizer's cache of verified secrets (src/core/token-cache.ts): it skips bcrypt for a
 * token already verified in this container, and nothing else. verifyToken runs against a real
 * local DynamoDB (dynalite), so revocation and expiry are checked on the stored row.
 */
import { describe, it, expect } from 'vitest';
import jwt from 'jsonwebtoken';
import { useLocalDynamo } from './helpers/dynamo.js';
import { resourceNames } from '../src/stack/names.js';
import { issueToken, revokeToken, verifyToken, generateJwtSecret } from '../src/core/tokens.js';
import { bcryptCheck, createVerifiedSecrets, type SecretCheck } from '../src/core/token-cache.js';
import { TokenRefusedError } from '../src/core/errors.js';

const names = resourceNames('cache');
const db = useLocalDynamo(names);
const secret = generateJwtSecret();
const store = () => ({ ddb: db.ddb, table: names.tokensTable, secret });

/** bcrypt, counted. */
function countingBcrypt(): { verify: SecretCheck; calls: () => number } {
  let calls = 0;
  return { verify: (id, s, h) => (calls++, bcryptCheck(id, s, h)), calls: () => calls };
}

async function reason(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(TokenRefusedError);
  return (err as TokenRefusedError).reason;
}

describe('verified-secrets cache', () => {
  it('runs bcrypt once per token: a reconnect of the same token is accepted on the digest', async () => {
    const t = await issueToken({ ...store(), bcryptCost: 4 }, { userId: 'u1', roomId: 'r1' });
    const b = countingBcrypt();
    const secrets = createVerifiedSecrets({ verify: b.verify });
    for (let i = 0; i < 3; i++) await verifyToken({ ...store(), checkSecret: secrets.check }, t.token);
    expect(b.calls()).toBe(1);
    expect(secrets.stats()).toEqual({ entries: 1, hits: 2, misses: 1 });
  });

  it('still reads the row every time: a revoked token is refused although its secret is cached', async () => {
    const t = await issueToken({ ...store(), bcryptCost: 4 }, { userId: 'u2', roomId: 'r1' });
    const secrets = createVerifiedSecrets();
    await verifyToken({ ...store(), checkSecret: secrets.check }, t.token);
    await revokeToken(store(), 'u2', t.tokenId);
    expect(await reason(verifyToken({ ...store(), checkSecret: secrets.check }, t.token))).toBe('revoked');
  });

  it('still checks expiry every time, on the token and on the row', async () => {
    const t = await issueToken({ ...store(), bcryptCost: 4 }, { userId: 'u3', roomId: 'r1', ttlSeconds: 60 });
    const secrets = createVerifiedSecrets();
    await verifyToken({ ...store(), checkSecret: secrets.check }, t.token);
    const later = () => (t.expiresAt + 1) * 1000;
    expect(await reason(verifyToken({ ...store(), checkSecret: secrets.check, now: later }, t.token))).toBe('expired');
  });

  it('does not accept another secret under a cached token id, even one signed with the stage key', async () => {
    const t = await issueToken({ ...store(), bcryptCost: 4 }, { userId: 'u4', roomId: 'r1' });
    const b = countingBcrypt();
    const secrets = createVerifiedSecrets({ verify: b.verify });
    await verifyToken({ ...store(), checkSecret: secrets.check }, t.token);
    // Someone with the signing key but not the token's secret: same claims, another `token`.
    const claims = jwt.decode(t.token, { json: true })!;
    const forged = jwt.sign({ ...claims, token: 'not-the-secret' }, Buffer.from(secret, 'utf8'), { algorithm: 'HS512' });
    expect(await reason(verifyToken({ ...store(), checkSecret: secrets.check }, forged))).toBe('secret-mismatch');
    expect(b.calls()).toBe(2); // the forgery went to bcrypt, and was not remembered
    expect(await reason(verifyToken({ ...store(), checkSecret: secrets.check }, forged))).toBe('secret-mismatch');
    expect(b.calls()).toBe(3);
  });

  it('checks again when the stored hash changes, and forgets the least recently used token first', async () => {
    // A stand-in for bcrypt whose "hash" of s is `hash-of-s`, counted.
    const fake: SecretCheck = async (_id, s, h) => h === `hash-of-${s}`;
    let calls = 0;
    const secrets = createVerifiedSecrets({ maxEntries: 2, verify: (id, s, h) => (calls++, fake(id, s, h)) });
    expect(await secrets.check('a', 's', 'hash-of-s')).toBe(true);
    expect(await secrets.check('a', 's', 'hash-of-other')).toBe(false); // new hash: verified again, refused
    expect(calls).toBe(2);
    await secrets.check('b', 's', 'hash-of-s');
    await secrets.check('a', 's', 'hash-of-s'); // a is used again: b is now the oldest
    await secrets.check('c', 's', 'hash-of-s'); // evicts b
    calls = 0;
    await secrets.check('a', 's', 'hash-of-s');
    await secrets.check('c', 's', 'hash-of-s');
    expect(calls).toBe(0);
    await secrets.check('b', 's', 'hash-of-s');
    expect(calls).toBe(1);
    expect(secrets.stats().entries).toBe(2);
  });
});
