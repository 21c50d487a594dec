/**
 * The key ring (src/core/signing-keys.ts) on plain data: rotation with a grace period, retired
 * keys remembered by id only, and the cached source the authorizer keeps per container.
 */
import { describe, it, expect } from 'vitest';
import {
  MAX_ACTIVE_KEYS, cachedKeySource, currentKey, newKeyRing, parseKeyRing, rotateKeyRing, secretFor, serializeKeyRing,
} from '../src/core/signing-keys.js';
import { TokenRefusedError } from '../src/core/errors.js';
import { createHandler as createAuthorizer } from '../lambdas/authorizer.js';

const at = (iso: string) => new Date(iso);
const reasonOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(TokenRefusedError);
    return (err as TokenRefusedError).reason;
  }
  return 'accepted';
};

describe('signing key ring', () => {
  it('starts with one 512-bit key and round-trips through its stored form', () => {
    const ring = newKeyRing(at('2026-01-02T00:00:00Z'));
    expect(ring.keys).toHaveLength(1);
    expect(currentKey(ring).kid).toMatch(/^k20260102-[0-9a-f]{6}$/);
    expect(Buffer.from(currentKey(ring).secret, 'base64url')).toHaveLength(64);
    expect(parseKeyRing(serializeKeyRing(ring), 'p')).toEqual(ring);
    expect(() => parseKeyRing('{"v":1,"current":"x","keys":[]}', 'SSM parameter /p')).toThrow(/SSM parameter \/p does not hold a valid hermes key ring/);
    expect(() => parseKeyRing('secret-looking text', 'p')).toThrow(/not JSON/);
  });

  it('rotation: the previous key verifies until the grace ends, then only its id is kept and its tokens are "retired key"', () => {
    const t0 = at('2026-01-01T00:00:00Z');
    const ring = newKeyRing(t0);
    const old = currentKey(ring);
    const { ring: next, added, retiring } = rotateKeyRing(ring, 7200, t0);
    expect(next.current).toBe(added.kid);
    expect(retiring).toMatchObject({ kid: old.kid, retiresAt: '2026-01-01T02:00:00.000Z' });
    expect(secretFor(next, old.kid, at('2026-01-01T01:59:59Z'))).toBe(old.secret);
    expect(reasonOf(() => secretFor(next, old.kid, at('2026-01-01T02:00:00Z')))).toBe('retired-key');
    // The next rotation drops the old secret for good; the id stays for the reason.
    const later = rotateKeyRing(next, 0, at('2026-01-01T03:00:00Z')).ring;
    expect(later.keys.map((k) => k.kid)).toEqual([later.current]);
    expect(JSON.stringify(later)).not.toContain(old.secret);
    expect(later.retired.map((r) => r.kid)).toEqual([old.kid, added.kid]);
    expect(reasonOf(() => secretFor(later, old.kid))).toBe('retired-key');
    expect(reasonOf(() => secretFor(later, 'k-never'))).toBe('unknown-key');
    expect(reasonOf(() => secretFor(later, undefined))).toBe('unknown-key');
  });

  it(`refuses a rotation that would leave more than ${MAX_ACTIVE_KEYS} keys verifying (SSM's 4 KB)`, () => {
    let ring = newKeyRing();
    for (let i = 0; i < MAX_ACTIVE_KEYS - 1; i++) ring = rotateKeyRing(ring, 3600).ring;
    expect(serializeKeyRing(ring).length).toBeLessThan(4096);
    expect(() => rotateKeyRing(ring, 3600)).toThrow(/at most 7 may be in their grace period/);
  });

  it('the cached source reads once, again after max age, and on an unknown kid at most once per refetch interval', async () => {
    let now = 0;
    let ring = newKeyRing();
    let loads = 0;
    const keys = cachedKeySource(async () => (loads++, ring), { maxAgeMs: 60_000, refetchMs: 10_000, now: () => now });
    const first = currentKey(ring);
    expect(await keys.secretFor(first.kid)).toBe(first.secret);
    expect(await keys.secretFor(first.kid)).toBe(first.secret);
    expect(loads).toBe(1);
    ring = rotateKeyRing(ring, 0).ring; // rotated elsewhere
    const made = currentKey(ring);
    // a token of the new key within the refetch interval: not re-read yet
    await expect(keys.secretFor(made.kid)).rejects.toMatchObject({ reason: 'unknown-key' });
    now = 10_000;
    expect(await keys.secretFor(made.kid)).toBe(made.secret);
    expect(loads).toBe(2);
    await expect(keys.secretFor('k-made-up')).rejects.toMatchObject({ reason: 'unknown-key' });
    expect(loads).toBe(2); // made-up kids do not turn every connect into a read
    await expect(keys.secretFor(first.kid)).rejects.toMatchObject({ reason: 'retired-key' });
    now = 80_000;
    await keys.current();
    expect(loads).toBe(3);
  });

  it('a failed load is not cached', async () => {
    let fail = true;
    const ring = newKeyRing();
    const keys = cachedKeySource(async () => {
      if (fail) throw new Error('throttled');
      return ring;
    });
    await expect(keys.current()).rejects.toThrow('throttled');
    fail = false;
    expect((await keys.current()).kid).toBe(ring.current);
  });
});

describe('the authorizer\'s key source', () => {
  it('without credentials to read the keys with, refuses with "Unauthorized" and logs why', async () => {
    // A non-loopback SSM endpoint and no keys in the environment: nothing to sign the read with.
    const lines: string[] = [];
    const logger = { info: (l: string) => lines.push(l), warn: (l: string) => lines.push(l), error: (l: string) => lines.push(l) };
    const handler = createAuthorizer(
      { AWS_REGION: 'us-east-1', HERMES_STAGE: 'keys', HERMES_SIGNING_KEYS_PARAMETER: '/hermes/keys/signing-keys', AWS_ENDPOINT_URL_SSM: 'https://ssm.example.invalid' },
      { logger },
    );
    const token = `${Buffer.from(JSON.stringify({ alg: 'HS512', kid: 'k1' })).toString('base64url')}.e30.sig`;
    const event = { type: 'REQUEST', methodArn: 'arn:aws:execute-api:us-east-1:1:api/keys/$connect', queryStringParameters: { token } } as never;
    await expect(handler(event)).rejects.toThrow(/^Unauthorized$/);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 'ERROR', message: 'authorizer failed', error: expect.stringMatching(/No AWS credentials/) }),
    ]);
  });
});
