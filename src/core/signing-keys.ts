/**
 * A stage's signing keys: the key ring kept in one SSM SecureString parameter (deployed) or in
 * the local stack's parameter store (docs/tokens.md). Tokens carry the id of the key that
 * signed them (`kid`). Rotation makes a new key current; the previous one keeps verifying until
 * its grace period ends, after which its secret is dropped and only its id is remembered, so a
 * token it signed is refused as signed by a "retired key" rather than an unknown one.
 */
import { randomBytes } from 'node:crypto';
import { TokenRefusedError } from './errors.js';

export interface SigningKey {
  kid: string;
  /** The HS512 key, base64url; never logged or printed. */
  secret: string;
  createdAt: string;
  /** When set, the key stops verifying at this time (ISO 8601). */
  retiresAt?: string;
}

export interface KeyRing {
  v: 1;
  /** The kid new tokens are signed with. */
  current: string;
  keys: SigningKey[];
  /** Keys past their grace: ids only, so their tokens are refused with the right reason. */
  retired: Array<{ kid: string; retiredAt: string }>;
}

/** Keys that verify at once (the current one and those in their grace period); keeps the parameter under SSM's 4 KB. */
export const MAX_ACTIVE_KEYS = 8;
const MAX_RETIRED_IDS = 32;

/** A new random signing key: 512 bits, the HS512 block size. */
export function generateSecret(): string {
  return randomBytes(64).toString('base64url');
}

function newKid(now: Date): string {
  return `k${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
}

export function newKeyRing(now = new Date()): KeyRing {
  const key: SigningKey = { kid: newKid(now), secret: generateSecret(), createdAt: now.toISOString() };
  return { v: 1, current: key.kid, keys: [key], retired: [] };
}

/** A ring read from storage; throws when it is not one (never echoing the value). */
export function parseKeyRing(text: string, where: string): KeyRing {
  let ring: KeyRing;
  try {
    ring = JSON.parse(text) as KeyRing;
  } catch {
    throw new Error(`${where} does not hold a hermes key ring (not JSON).`);
  }
  const ok =
    ring?.v === 1 &&
    Array.isArray(ring.keys) &&
    ring.keys.every((k) => typeof k?.kid === 'string' && typeof k.secret === 'string' && k.secret.length >= 32) &&
    ring.keys.some((k) => k.kid === ring.current) &&
    Array.isArray(ring.retired ?? []);
  if (!ok) throw new Error(`${where} does not hold a valid hermes key ring.`);
  return { ...ring, retired: ring.retired ?? [] };
}

export function serializeKeyRing(ring: KeyRing): string {
  return JSON.stringify(ring);
}

export function currentKey(ring: KeyRing): SigningKey {
  return ring.keys.find((k) => k.kid === ring.current)!;
}

const retiredBy = (k: SigningKey, now: Date) => k.retiresAt !== undefined && Date.parse(k.retiresAt) <= now.getTime();

/** Moves keys whose grace ended to the retired ids (dropping their secrets). */
export function pruneKeyRing(ring: KeyRing, now = new Date()): KeyRing {
  const gone = ring.keys.filter((k) => retiredBy(k, now) && k.kid !== ring.current);
  if (!gone.length) return ring;
  return {
    ...ring,
    keys: ring.keys.filter((k) => !gone.includes(k)),
    retired: [...ring.retired, ...gone.map((k) => ({ kid: k.kid, retiredAt: k.retiresAt! }))].slice(-MAX_RETIRED_IDS),
  };
}

/** A new current key; the previous one verifies for `graceSeconds` more (0: retired at once). */
export function rotateKeyRing(ring: KeyRing, graceSeconds: number, now = new Date()): { ring: KeyRing; added: SigningKey; retiring: SigningKey } {
  const retiring = currentKey(ring);
  const until = new Date(now.getTime() + graceSeconds * 1000).toISOString();
  const keys = ring.keys.map((k) => (k.kid === retiring.kid && (!k.retiresAt || k.retiresAt > until) ? { ...k, retiresAt: until } : k));
  const added: SigningKey = { kid: newKid(now), secret: generateSecret(), createdAt: now.toISOString() };
  const next = pruneKeyRing({ ...ring, current: added.kid, keys: [...keys, added] }, now);
  if (next.keys.length > MAX_ACTIVE_KEYS) {
    throw new Error(`${next.keys.length - 1} keys would still be verifying; at most ${MAX_ACTIVE_KEYS - 1} may be in their grace period at once.`);
  }
  return { ring: next, added, retiring: next.keys.find((k) => k.kid === retiring.kid) ?? { ...retiring, retiresAt: until } };
}

/**
 * The secret that verifies a token signed with `kid`, or a refusal: a key whose grace ended is a
 * "retired key", an id the ring never had is an "unknown key".
 */
export function secretFor(ring: KeyRing, kid: string | undefined, now = new Date()): string {
  if (!kid) throw new TokenRefusedError('unknown-key', 'The token carries no key id (kid); tokens are signed with a key of the stage\'s key ring.');
  const key = ring.keys.find((k) => k.kid === kid);
  if (key && !retiredBy(key, now)) return key.secret;
  const retiredAt = key?.retiresAt ?? ring.retired.find((r) => r.kid === kid)?.retiredAt;
  if (retiredAt) {
    throw new TokenRefusedError('retired-key', `retired key: the token was signed with key ${kid}, which stopped verifying at ${retiredAt} (rotated with \`hermes secret rotate\`); issue a new token.`);
  }
  throw new TokenRefusedError('unknown-key', `The token was signed with key ${kid}, which this stage does not have (a token for another stage?).`);
}

export interface KeySource {
  /** The key new tokens are signed with. */
  current(): Promise<SigningKey>;
  /** The secret for a token's kid (refreshing once when the kid is new to it); throws TokenRefusedError. */
  secretFor(kid: string | undefined): Promise<string>;
}

/**
 * A key ring loaded once and cached, as the authorizer keeps it per container: reloaded when
 * older than `maxAgeMs` (so a rotation reaches warm containers), and when a token names a kid the
 * cached ring does not know, at most once per `refetchMs` (a token signed with a key made since,
 * without letting made-up kids turn every connect into a read).
 */
export function cachedKeySource(load: () => Promise<KeyRing>, opts: { maxAgeMs?: number; refetchMs?: number; now?: () => number } = {}): KeySource {
  const maxAgeMs = opts.maxAgeMs ?? 60_000;
  const refetchMs = opts.refetchMs ?? 10_000;
  const now = opts.now ?? Date.now;
  let cached: { ring: Promise<KeyRing>; at: number } | undefined;
  const fetch = () => {
    const entry = { ring: load(), at: now() };
    cached = entry;
    entry.ring.catch(() => {
      if (cached === entry) cached = undefined; // a failed load is not cached
    });
    return entry.ring;
  };
  const ring = () => (cached && now() - cached.at < maxAgeMs ? cached.ring : fetch());
  return {
    current: async () => currentKey(await ring()),
    async secretFor(kid) {
      const r = await ring();
      const known = kid !== undefined && (r.keys.some((k) => k.kid === kid) || r.retired.some((x) => x.kid === kid));
      if (!known && kid && cached && now() - cached.at >= refetchMs) return secretFor(await fetch(), kid, new Date(now()));
      return secretFor(r, kid, new Date(now()));
    },
  };
}

/** A fixed ring (tests, a backend that holds the ring itself). */
export function staticKeySource(ring: KeyRing): KeySource {
  return { current: async () => currentKey(ring), secretFor: async (kid) => secretFor(ring, kid) };
}
