/** Tokens against a real local DynamoDB (dynalite) on a free port. */
import { describe, it, expect } from 'vitest';
import { useLocalDynamo } from './helpers/dynamo.js';
import { SignJWT, decodeJwt } from 'jose';
import { resourceNames } from '../src/stack/names.js';
import { issueToken, verifyToken, revokeToken, revokeUserTokens, listTokens, generateJwtSecret } from '../src/core/tokens.js';
import { TokenRefusedError, UsageError } from '../src/core/errors.js';

const names = resourceNames('unit');
const db = useLocalDynamo(names);
const secret = generateJwtSecret();
const deps = () => ({ ddb: db.ddb, table: names.tokensTable, secret, bcryptCost: 4 });

async function refusal(token: string, now?: () => number): Promise<string> {
  try {
    await verifyToken({ ...deps(), now }, token);
  } catch (err) {
    expect(err).toBeInstanceOf(TokenRefusedError);
    return (err as TokenRefusedError).reason;
  }
  throw new Error('token was accepted');
}


describe('tokens', () => {
  it('issues an HS512 JWT with the documented claims and a fresh 256-bit secret each time', async () => {
    const a = await issueToken(deps(), { userId: 'u1', roomId: 'r1', ttlSeconds: 60 });
    const b = await issueToken(deps(), { userId: 'u1', roomId: 'r1', ttlSeconds: 60 });
    const ca = decodeJwt(a.token);
    expect(Object.keys(ca).sort()).toEqual(['exp', 'iat', 'jti', 'room_id', 'token', 'user_id']);
    expect(JSON.parse(Buffer.from(a.token.split('.')[0], 'base64url').toString()).alg).toBe('HS512');
    expect(Buffer.from(ca.token as string, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(ca.token).not.toBe(decodeJwt(b.token).token);
    expect((ca.exp as number) - (ca.iat as number)).toBe(60);
    const claims = await verifyToken(deps(), a.token);
    expect(claims).toMatchObject({ user_id: 'u1', room_id: 'r1', jti: a.tokenId });
    // several live tokens per user
    expect((await listTokens(deps(), { userId: 'u1' })).length).toBeGreaterThanOrEqual(2);
  });

  it('never stores the secret itself, only its bcrypt hash', async () => {
    const t = await issueToken(deps(), { userId: 'u-hash', roomId: 'r', ttlSeconds: 60 });
    const raw = await db.ddb.send(new (await import('@aws-sdk/lib-dynamodb')).GetCommand({ TableName: names.tokensTable, Key: { user_id: 'u-hash', token_id: t.tokenId } }));
    const secretClaim = decodeJwt(t.token).token as string;
    expect(JSON.stringify(raw.Item)).not.toContain(secretClaim);
    expect(raw.Item!.hash).toMatch(/^\$2[aby]\$04\$/);
  });

  it('gives the precise reason a token is refused', async () => {
    const t = await issueToken(deps(), { userId: 'u2', roomId: 'r2', ttlSeconds: 60 });
    const [h, p, s] = t.token.split('.');
    const claims = decodeJwt(t.token);
    expect(await refusal('abc')).toBe('malformed');
    expect(await refusal(`${h}.${Buffer.from(JSON.stringify({ ...claims, room_id: 'x' })).toString('base64url')}.${s}`)).toBe('signature');
    const hs256 = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
    expect(await refusal(hs256)).toBe('algorithm');
    expect(await refusal(t.token, () => Date.now() + 120_000)).toBe('expired');
    const wrongSecret = await new SignJWT({ ...claims, token: 'guessed' }).setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode(secret));
    expect(await refusal(wrongSecret)).toBe('secret-mismatch');
    const wrongRoom = await new SignJWT({ ...claims, room_id: 'elsewhere' }).setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode(secret));
    expect(await refusal(wrongRoom)).toBe('room-mismatch');
    expect(await revokeToken(deps(), 'u2', t.tokenId)).toBe(true);
    expect(await refusal(t.token)).toBe('revoked');
    void p;
  });

  it('revokes all of a user\'s tokens, or only those of one room', async () => {
    const r1a = await issueToken(deps(), { userId: 'u3', roomId: 'r1', ttlSeconds: 60 });
    const r1b = await issueToken(deps(), { userId: 'u3', roomId: 'r1', ttlSeconds: 60 });
    const r2 = await issueToken(deps(), { userId: 'u3', roomId: 'r2', ttlSeconds: 60 });
    const other = await issueToken(deps(), { userId: 'u4', roomId: 'r1', ttlSeconds: 60 });
    expect((await revokeUserTokens(deps(), 'u3', 'r1')).sort()).toEqual([r1a.tokenId, r1b.tokenId].sort());
    await verifyToken(deps(), r2.token);
    expect(await revokeUserTokens(deps(), 'u3')).toEqual([r2.tokenId]);
    await verifyToken(deps(), other.token);
  });

  it('rejects bad input with usage errors', async () => {
    await expect(issueToken(deps(), { userId: '', roomId: 'r' })).rejects.toThrow(UsageError);
    await expect(issueToken(deps(), { userId: 'u', roomId: ' ' })).rejects.toThrow(/room/);
    await expect(issueToken(deps(), { userId: 'u', roomId: 'r', ttlSeconds: 0 })).rejects.toThrow(/lifetime/);
  });
});
