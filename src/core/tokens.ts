/**
 * Tokens: a JWT (HS512) carrying user_id, room_id, a fresh random secret `token`, jti, iat, exp,
 * and in its header the id (`kid`) of the stage's signing key that signed it (./signing-keys.ts).
 * The tokens table keeps the bcrypt hash of the secret under (user_id, token_id = jti), so a
 * token can be revoked one by one, per user, or per user and room, and a leaked signing key
 * alone is not enough to connect. docs/tokens.md specifies the format.
 */
import { createSecretKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import bcrypt from 'bcryptjs';
import { DeleteCommand, GetCommand, PutCommand, paginateQuery, paginateScan } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient, QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { InvalidInputError, TokenRefusedError } from './errors.js';
import { roomProblem, userProblem } from './envelope.js';
import { DEFAULT_BCRYPT_COST } from './defaults.js';
import type { KeySource, SigningKey } from './signing-keys.js';
import { bcryptCheck, type SecretCheck } from './token-cache.js';
import { batchWriteAll } from './batch-write.js';

export const TOKEN_ALGORITHM = 'HS512';
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
/** API Gateway closes every socket after 2 h; tokens live longer only for reconnects. Cap at 30 days. */
export const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export interface TokenStoreDeps {
  ddb: DynamoDBDocumentClient;
  table: string;
}

export interface TokenClaims {
  user_id: string;
  room_id: string;
  token: string;
  jti: string;
  iat: number;
  exp: number;
}

export interface IssuedToken {
  token: string;
  tokenId: string;
  userId: string;
  roomId: string;
  issuedAt: number;
  expiresAt: number;
}

export interface TokenRow {
  user_id: string;
  token_id: string;
  room_id: string;
  hash: string;
  issued_at: number;
  expires_at: number;
}

/** The secret's UTF-8 bytes as an HMAC key; a KeyObject, so jsonwebtoken never tries it as a PEM key. */
function keyOf(secret: string): KeyObject {
  if (!secret) throw new InvalidInputError('secret', 'No signing key was given: tokens can be neither signed nor verified without the stage\'s signing key.');
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

// The user id rule lives with the envelope, which also checks a message's recipient.
export { userProblem } from './envelope.js';

export async function issueToken(
  deps: TokenStoreDeps & { signingKey: Pick<SigningKey, 'kid' | 'secret'>; bcryptCost?: number; now?: () => number },
  input: { userId: string; roomId: string; ttlSeconds?: number },
): Promise<IssuedToken> {
  const up = userProblem(input.userId);
  if (up) throw new InvalidInputError('userId', `Invalid user id: it ${up}.`);
  const rp = roomProblem(input.roomId);
  if (rp) throw new InvalidInputError('roomId', `Invalid room id: it ${rp}.`);
  const ttl = input.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) {
    throw new InvalidInputError('ttlSeconds', `Invalid token lifetime: ${ttl} seconds. Must be between 1 second and 30 days.`);
  }
  const nowSec = Math.floor((deps.now?.() ?? Date.now()) / 1000);
  const secret = randomBytes(32).toString('base64url'); // 256 bits, fresh for every token
  const jti = randomUUID();
  const exp = nowSec + ttl;
  const claims: TokenClaims = { user_id: input.userId, room_id: input.roomId, token: secret, jti, iat: nowSec, exp };
  const token = jwt.sign(claims, keyOf(deps.signingKey.secret), { algorithm: TOKEN_ALGORITHM, keyid: deps.signingKey.kid });
  const hash = await bcrypt.hash(secret, deps.bcryptCost ?? DEFAULT_BCRYPT_COST);
  const row: TokenRow = { user_id: input.userId, token_id: jti, room_id: input.roomId, hash, issued_at: nowSec, expires_at: exp };
  await deps.ddb.send(new PutCommand({ TableName: deps.table, Item: row }));
  return { token, tokenId: jti, userId: input.userId, roomId: input.roomId, issuedAt: nowSec, expiresAt: exp };
}

/**
 * Check signature (with the key its `kid` names), algorithm and expiry only. Throws
 * TokenRefusedError with the reason.
 */
export async function verifyTokenSignature(token: string, keys: Pick<KeySource, 'secretFor'>, now?: number): Promise<TokenClaims> {
  if (typeof token !== 'string' || token.split('.').length !== 3) {
    throw new TokenRefusedError('malformed', 'The token is not a JWT (expected three dot-separated parts).');
  }
  // The header is read before verifying so that alg:none and HS256 are refused as 'algorithm',
  // whatever else is wrong with the token; verify pins the algorithm again.
  let header: { alg?: unknown; kid?: unknown } | null;
  try {
    header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
  } catch {
    header = null;
  }
  if (header === null || typeof header !== 'object') {
    throw new TokenRefusedError('malformed', 'The token header is not valid base64url JSON.');
  }
  if (header.alg !== TOKEN_ALGORITHM) {
    throw new TokenRefusedError('algorithm', `The token is signed with ${header.alg ?? 'no algorithm'}; only ${TOKEN_ALGORITHM} is accepted.`);
  }
  const secret = await keys.secretFor(typeof header.kid === 'string' ? header.kid : undefined);
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, keyOf(secret), {
      algorithms: [TOKEN_ALGORITHM],
      ...(now !== undefined ? { clockTimestamp: now } : {}),
    });
  } catch (err) {
    throw refusal(err);
  }
  if (payload === null || typeof payload !== 'object') throw new TokenRefusedError('malformed', 'The token\'s payload is not a JSON object.');
  for (const claim of ['user_id', 'room_id', 'token', 'jti'] as const) {
    if (typeof payload[claim] !== 'string' || payload[claim] === '') {
      throw new TokenRefusedError('claims', `The token has no ${claim} claim.`);
    }
  }
  if (typeof payload.exp !== 'number') throw new TokenRefusedError('claims', 'The token has no exp claim.');
  if (payload.iat !== undefined && typeof payload.iat !== 'number') throw new TokenRefusedError('claims', 'The token\'s iat claim is not a number.');
  return payload as unknown as TokenClaims;
}

/**
 * Why jsonwebtoken refused a token. Expiry and not-before have their own classes; every other
 * failure is a JsonWebTokenError told apart only by its message, which jsonwebtoken documents.
 */
function refusal(err: unknown): TokenRefusedError {
  if (err instanceof jwt.TokenExpiredError) {
    return new TokenRefusedError('expired', `The token expired at ${err.expiredAt.toISOString()}.`);
  }
  if (err instanceof jwt.NotBeforeError) {
    return new TokenRefusedError('claims', `The token's nbf claim is invalid: it is not valid before ${err.date.toISOString()}.`);
  }
  if (err instanceof jwt.JsonWebTokenError) {
    if (err.message === 'invalid signature') {
      return new TokenRefusedError('signature', 'The token signature does not match the stage\'s signing key it names (tampered, or signed for another stage).');
    }
    if (err.message === 'invalid algorithm') return new TokenRefusedError('algorithm', `Only ${TOKEN_ALGORITHM} tokens are accepted.`);
    const claim = /^invalid (exp|nbf) value$/.exec(err.message)?.[1];
    if (claim) return new TokenRefusedError('claims', `The token's ${claim} claim is invalid: it is not a number.`);
  }
  return new TokenRefusedError('malformed', 'The token could not be decoded.');
}

/**
 * A token's claims without verifying it, for display only (which token is this?); undefined
 * when it does not decode. Never use the result to decide anything.
 */
export function decodeUnverified(token: string): Record<string, unknown> | undefined {
  try {
    const claims: unknown = jwt.decode(token, { json: true });
    return claims !== null && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Full verification as the authorizer does it: signature, then the stored row (revocation),
 * then the bcrypt check of the secret, then room and user against the row.
 */
export async function verifyToken(
  deps: TokenStoreDeps & {
    keys: Pick<KeySource, 'secretFor'>;
    now?: () => number;
    /** The bcrypt step; a warm authorizer passes its cache of verified secrets (core/token-cache.ts). */
    checkSecret?: SecretCheck;
  },
  token: string,
): Promise<TokenClaims> {
  const nowSec = Math.floor((deps.now?.() ?? Date.now()) / 1000);
  const claims = await verifyTokenSignature(token, deps.keys, nowSec);
  const { Item } = await deps.ddb.send(
    new GetCommand({ TableName: deps.table, Key: { user_id: claims.user_id, token_id: claims.jti }, ConsistentRead: true }),
  );
  const row = Item as TokenRow | undefined;
  // DynamoDB TTL deletion lags by up to days: an expired row is treated as gone.
  if (!row || row.expires_at <= nowSec) {
    throw new TokenRefusedError('revoked', `Token ${claims.jti} of user ${claims.user_id} has been revoked or does not exist.`);
  }
  if (row.user_id !== claims.user_id) throw new TokenRefusedError('user-mismatch', 'The token\'s user does not match its record.');
  if (row.room_id !== claims.room_id) {
    throw new TokenRefusedError('room-mismatch', `The token claims room "${claims.room_id}" but was issued for another room.`);
  }
  if (!(await (deps.checkSecret ?? bcryptCheck)(claims.jti, claims.token, row.hash))) {
    throw new TokenRefusedError('secret-mismatch', 'The token\'s secret does not match the stored hash.');
  }
  return claims;
}

/**
 * A caller that knows which room a token must be for (`hermes token verify --room`, a backend
 * checking the token it is shown) refuses it for any other.
 */
export function checkTokenRoom(claims: Pick<TokenClaims, 'room_id'>, roomId: string | undefined): void {
  if (roomId !== undefined && claims.room_id !== roomId) {
    throw new TokenRefusedError('room-mismatch', `The token is for room "${claims.room_id}", not "${roomId}".`);
  }
}

export async function revokeToken(deps: TokenStoreDeps, userId: string, tokenId: string): Promise<boolean> {
  const res = await deps.ddb.send(
    new DeleteCommand({ TableName: deps.table, Key: { user_id: userId, token_id: tokenId }, ReturnValues: 'ALL_OLD' }),
  );
  return res.Attributes !== undefined;
}

/** Revoke all of a user's tokens, or only those for one room. Returns the revoked token ids. */
export async function revokeUserTokens(deps: TokenStoreDeps, userId: string, roomId?: string): Promise<string[]> {
  const rows = await listTokens(deps, { userId, includeExpired: true });
  const ids = rows.filter((r) => roomId === undefined || r.room_id === roomId).map((r) => r.token_id);
  await batchWriteAll(deps.ddb, deps.table, ids.map((id) => ({ DeleteRequest: { Key: { user_id: userId, token_id: id } } })));
  return ids;
}

/** Token rows (never the hashes) for a user, or for everyone when no user is given. */
export async function listTokens(
  deps: TokenStoreDeps,
  opts: { userId?: string; includeExpired?: boolean; now?: () => number } = {},
): Promise<Array<Omit<TokenRow, 'hash'>>> {
  const nowSec = Math.floor((opts.now?.() ?? Date.now()) / 1000);
  const out: Array<Omit<TokenRow, 'hash'>> = [];
  const common = { TableName: deps.table, ProjectionExpression: 'user_id, token_id, room_id, issued_at, expires_at' };
  const paging = { client: deps.ddb };
  const pages: AsyncIterable<Pick<QueryCommandOutput, 'Items'>> = opts.userId
    ? paginateQuery(paging, { ...common, KeyConditionExpression: 'user_id = :u', ExpressionAttributeValues: { ':u': opts.userId } })
    : paginateScan(paging, common);
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      const row = item as Omit<TokenRow, 'hash'>;
      if (opts.includeExpired || row.expires_at > nowSec) out.push(row);
    }
  }
  return out;
}
