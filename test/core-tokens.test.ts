/** Tokens against a real local DynamoDB (dynalite) on a free port. */
import { describe, it, expect } from 'vitest';
import { useLocalDynamo } from './helpers/dynamo.js';
import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { resourceNames } from '../src/stack/names.js';
import { issueToken, verifyToken, revokeToken, revokeUserTokens, listTokens } from '../src/core/tokens.js';
import { currentKey, newKeyRing, rotateKeyRing, staticKeySource } from '../src/core/signing-keys.js';
import { InvalidInputError, TokenRefusedError, UsageError } from '../src/core/errors.js';

const names = resourceNames('unit');
const decoded = (token: string) => jwt.decode(token, { json: true })!;
const db = useLocalDynamo(names);
const ring = newKeyRing();
const key = currentKey(ring);
const secret = key.secret;
const deps = () => ({ ddb: db.ddb, table: names.tokensTable, signingKey: key, keys: staticKeySource(ring), bcryptCost: 4 });

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
    const ca = decoded(a.token);
    expect(Object.keys(ca).sort()).toEqual(['exp', 'iat', 'jti', 'room_id', 'token', 'user_id']);
    expect(JSON.parse(Buffer.from(a.token.split('.')[0], 'base64url').toString()).alg).toBe('HS512');
    expect(Buffer.from(ca.token as string, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(ca.token).not.toBe(decoded(b.token).token);
    expect((ca.exp as number) - (ca.iat as number)).toBe(60);
    const claims = await verifyToken(deps(), a.token);
    expect(claims).toMatchObject({ user_id: 'u1', room_id: 'r1', jti: a.tokenId });
    // several live tokens per user
    expect((await listTokens(deps(), { userId: 'u1' })).length).toBeGreaterThanOrEqual(2);
  });

  it('never stores the secret itself, only its bcrypt hash', async () => {
    const t = await issueToken(deps(), { userId: 'u-hash', roomId: 'r', ttlSeconds: 60 });
    const raw = await db.ddb.send(new (await import('@aws-sdk/lib-dynamodb')).GetCommand({ TableName: names.tokensTable, Key: { user_id: 'u-hash', token_id: t.tokenId } }));
    const secretClaim = decoded(t.token).token as string;
    expect(JSON.stringify(raw.Item)).not.toContain(secretClaim);
    expect(raw.Item!.hash).toMatch(/^\$2[aby]\$04\$/);
  });

  it('gives the precise reason a token is refused', async () => {
    const t = await issueToken(deps(), { userId: 'u2', roomId: 'r2', ttlSeconds: 60 });
    const [h, p, s] = t.token.split('.');
    const claims = decoded(t.token);
    expect(await refusal('abc')).toBe('malformed');
    expect(await refusal(`${h}.${Buffer.from(JSON.stringify({ ...claims, room_id: 'x' })).toString('base64url')}.${s}`)).toBe('signature');
    const hs256 = jwt.sign({ ...claims }, secret, { algorithm: 'HS256', keyid: key.kid });
    expect(await refusal(hs256)).toBe('algorithm');
    expect(await refusal(t.token, () => Date.now() + 120_000)).toBe('expired');
    const wrongSecret = jwt.sign({ ...claims, token: 'guessed' }, secret, { algorithm: 'HS512', keyid: key.kid });
    expect(await refusal(wrongSecret)).toBe('secret-mismatch');
    const wrongRoom = jwt.sign({ ...claims, room_id: 'elsewhere' }, secret, { algorithm: 'HS512', keyid: key.kid });
    expect(await refusal(wrongRoom)).toBe('room-mismatch');
    expect(await revokeToken(deps(), 'u2', t.tokenId)).toBe(true);
    expect(await refusal(t.token)).toBe('revoked');
    void p;
  });

  it('pins HS512 and refuses unsigned, unusable and not-yet-valid tokens with their reason', async () => {
    const t = await issueToken(deps(), { userId: 'u5', roomId: 'r5', ttlSeconds: 60 });
    const [, p] = t.token.split('.');
    const claims = decoded(t.token);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    expect(await refusal(`${b64({ alg: 'none', typ: 'JWT' })}.${p}.`)).toBe('algorithm');
    expect(await refusal(`${b64({ typ: 'JWT' })}.${p}.x`)).toBe('algorithm');
    expect(await refusal(jwt.sign({ ...claims }, secret, { algorithm: 'HS384', keyid: key.kid }))).toBe('algorithm');
    expect(await refusal(`${b64('HS512')}.${p}.x`)).toBe('malformed');
    expect(await refusal(`!!.${p}.x`)).toBe('malformed');
    const { jti: _jti, ...noJti } = claims;
    expect(await refusal(jwt.sign(noJti, secret, { algorithm: 'HS512', keyid: key.kid }))).toBe('claims');
    expect(await refusal(jwt.sign({ ...claims, nbf: claims.iat! + 3600 }, secret, { algorithm: 'HS512', keyid: key.kid }))).toBe('claims');
    // jsonwebtoken refuses to sign a non-numeric exp, so this one is signed by hand.
    const body = `${b64({ alg: 'HS512', typ: 'JWT', kid: key.kid })}.${b64({ ...claims, exp: 'later' })}`;
    expect(await refusal(`${body}.${createHmac('sha512', secret).update(body).digest('base64url')}`)).toBe('claims');
    const err = await verifyToken(deps(), t.token.slice(0, -2)).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ reason: 'signature', message: expect.stringContaining('does not match the stage\'s signing key it names') });
  });

  it('names the signing key in the header (kid); a token of an unknown key or of a retired one is refused with that reason', async () => {
    const t = await issueToken(deps(), { userId: 'u6', roomId: 'r6', ttlSeconds: 60 });
    expect(JSON.parse(Buffer.from(t.token.split('.')[0], 'base64url').toString())).toEqual({ alg: 'HS512', typ: 'JWT', kid: key.kid });
    const claims = decoded(t.token);
    expect(await refusal(jwt.sign({ ...claims }, secret, { algorithm: 'HS512' }))).toBe('unknown-key');
    expect(await refusal(jwt.sign({ ...claims }, secret, { algorithm: 'HS512', keyid: 'k-nobody' }))).toBe('unknown-key');
    const rotated = rotateKeyRing(ring, 0).ring;
    const err = await verifyToken({ ...deps(), keys: staticKeySource(rotated) }, t.token).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ reason: 'retired-key', message: expect.stringMatching(new RegExp(`^retired key: the token was signed with key ${key.kid}`)) });
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

  it('revokes what DynamoDB leaves unprocessed too, sending it again', async () => {
    const issued = await Promise.all([1, 2, 3].map(() => issueToken(deps(), { userId: 'u-busy', roomId: 'r1', ttlSeconds: 60 })));
    // The first BatchWriteItem applies one delete and hands the others back, as a busy table does.
    let busy = true;
    const ddb = Object.assign(Object.create(db.ddb) as typeof db.ddb, {
      send: async (cmd: Parameters<typeof db.ddb.send>[0]) => {
        if (busy && cmd instanceof BatchWriteCommand) {
          busy = false;
          const [first, ...rest] = cmd.input.RequestItems![names.tokensTable];
          await db.ddb.send(new BatchWriteCommand({ RequestItems: { [names.tokensTable]: [first] } }));
          return { UnprocessedItems: { [names.tokensTable]: rest }, $metadata: {} };
        }
        return db.ddb.send(cmd as never);
      },
    });
    expect((await revokeUserTokens({ ddb, table: names.tokensTable }, 'u-busy')).sort()).toEqual(issued.map((t) => t.tokenId).sort());
    expect(busy).toBe(false);
    expect(await listTokens(deps(), { userId: 'u-busy', includeExpired: true })).toEqual([]);
  });

  it('rejects bad input with usage errors', async () => {
    await expect(issueToken(deps(), { userId: '', roomId: 'r' })).rejects.toThrow(UsageError);
    await expect(issueToken(deps(), { userId: 'u', roomId: ' ' })).rejects.toThrow(/room/);
    await expect(issueToken(deps(), { userId: 'u', roomId: 'r', ttlSeconds: 0 })).rejects.toThrow(/lifetime/);
  });

  it('names the refused input by its field, never by a CLI flag (the CLI adds those)', async () => {
    const cases: Array<[string, Parameters<typeof issueToken>[1], RegExp]> = [
      ['userId', { userId: '', roomId: 'r' }, /^Invalid user id: it must be a non-empty string\.$/],
      ['roomId', { userId: 'u', roomId: ' ' }, /^Invalid room id: /],
      ['ttlSeconds', { userId: 'u', roomId: 'r', ttlSeconds: 90 * 86400 }, /^Invalid token lifetime: 7776000 seconds\. Must be between 1 second and 30 days\.$/],
    ];
    for (const [field, input, message] of cases) {
      const err = await issueToken(deps(), input).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err).toMatchObject({ field, exitCode: 2, hint: undefined });
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toMatch(/--|hermes /);
    }
    const noSecret = await issueToken({ ...deps(), signingKey: { kid: key.kid, secret: '' } }, { userId: 'u', roomId: 'r' }).then(() => undefined, (e: unknown) => e);
    expect(noSecret).toMatchObject({ field: 'secret', hint: undefined });
    expect((noSecret as Error).message).not.toMatch(/--|hermes /);
  });
});
