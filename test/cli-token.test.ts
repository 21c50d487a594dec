/**
 * `hermes token issue|list|revoke|verify` against the real local stack, run in-process.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import jwt from 'jsonwebtoken';
import { startCliStack, type CliStack, type CliResult } from './helpers/cli.js';
import { connect, refusedStatus } from './helpers/ws.js';
import { issueToken } from '../src/core/tokens.js';

let s: CliStack;
const outputs: CliResult[] = [];

async function hermes(argv: string[], opts: Parameters<CliStack['run']>[1] = {}): Promise<CliResult> {
  const r = await s.run(argv, opts);
  outputs.push(r);
  return r;
}

async function issue(user: string, room: string, extra: string[] = []) {
  const r = await hermes(['token', 'issue', '--user', user, '--room', room, '--json', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { token: string; tokenId: string; user: string; room: string; expiresAt: string; url: string };
}

beforeAll(async () => {
  s = await startCliStack();
});

afterAll(async () => {
  // No command ever shows the signing secret, whatever it printed.
  for (const r of outputs) {
    expect(r.stdout).not.toContain((await s.stack.signingKeys.current()).secret);
    expect(r.stderr).not.toContain((await s.stack.signingKeys.current()).secret);
  }
  await s?.close();
});

describe('hermes token issue', () => {
  it('prints the JWT alone on stdout, and it connects', async () => {
    const r = await hermes(['token', 'issue', '--user', 'alice', '--room', 'lobby']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(r.stderr).toBe('');
    const client = await connect(s.stack.endpoints.websocket, r.stdout.trim());
    await client.close();
  });

  it('gives id, user, room, expiry and the URL to connect to with --json', async () => {
    const before = Date.now();
    const t = await issue('bob', 'lobby', ['--ttl', '15m']);
    expect(t).toMatchObject({ user: 'bob', room: 'lobby' });
    expect(t.tokenId).toMatch(/^[0-9a-f-]{36}$/);
    const ttl = Date.parse(t.expiresAt) - before;
    expect(ttl).toBeGreaterThan(14 * 60_000);
    expect(ttl).toBeLessThanOrEqual(15 * 60_000 + 1000);
    expect(t.url).toBe(`${s.stack.endpoints.websocket}?token=${t.token}`);
    const client = await connect(t.url);
    await client.close();
  });

  it('is a usage error (exit 2) without --user when no one can be asked, or with a bad --ttl', async () => {
    const missing = await hermes(['token', 'issue', '--room', 'lobby']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--user');
    const badTtl = await hermes(['token', 'issue', '--user', 'a', '--room', 'lobby', '--ttl', 'soon']);
    expect(badTtl.code).toBe(2);
    expect(badTtl.stderr).toContain('Invalid --ttl value');
    const tooLong = await hermes(['token', 'issue', '--user', 'a', '--room', 'lobby', '--ttl', '90d']);
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain('30 days');
  });

  it('names the flag behind an input the core refuses: the message is the core\'s, the hint the CLI\'s', async () => {
    const cases: Array<[string[], string, string]> = [
      [['--user', '', '--room', 'lobby'], 'Invalid user id: it must be a non-empty string.', 'Pass --user with the id of the user the token is for.'],
      [['--user', 'a', '--room', ' '], 'Invalid room id: ', 'Pass --room with the room the token may join.'],
      [['--user', 'a', '--room', 'lobby', '--ttl', '90d'], 'Invalid token lifetime: 7776000 seconds.', 'Use --ttl with a value such as 15m, 1h or 7d.'],
    ];
    for (const [flags, message, hint] of cases) {
      const r = await hermes(['token', 'issue', ...flags]);
      expect(r.code).toBe(2);
      const [first, second, ...rest] = r.stderr.trimEnd().split('\n');
      expect(first.startsWith(`error: ${message}`), r.stderr).toBe(true);
      expect(second).toBe(hint);
      expect(rest).toEqual([]);
      expect(r.stdout).toBe('');
    }
    // listen mints its token through the same path, so a bad room names --room there too.
    const listen = await hermes(['listen', '--room', ' ', '--count', '1']);
    expect(listen.code).toBe(2);
    expect(listen.stderr).toContain('Pass --room with the room the token may join.');
  });
});

describe('hermes token list', () => {
  it('lists live tokens as a table, and as JSON, optionally for one user', async () => {
    const a = await issue('carol', 'room-1');
    const b = await issue('carol', 'room-2');
    const other = await issue('dan', 'room-1');
    const table = await hermes(['token', 'list', '--user', 'carol']);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TOKEN ID\s+USER\s+ROOM\s+ISSUED\s+EXPIRES$/);
    expect(lines).toHaveLength(3);
    expect(table.stdout).toContain(a.tokenId);
    expect(table.stdout).toContain(b.tokenId);
    expect(table.stdout).not.toContain(other.tokenId);

    const json = await hermes(['token', 'list', '--json']);
    const rows = JSON.parse(json.stdout) as Array<Record<string, string>>;
    expect(rows).toEqual(expect.arrayContaining([expect.objectContaining({ tokenId: other.tokenId, user: 'dan', room: 'room-1' })]));
    expect(JSON.stringify(rows)).not.toContain('hash');

    const none = await hermes(['token', 'list', '--user', 'nobody', '--json']);
    expect(JSON.parse(none.stdout)).toEqual([]);
  });
});

describe('hermes token revoke', () => {
  it('revokes one token by id: it no longer connects and verify says revoked', async () => {
    const keep = await issue('erin', 'room-1');
    const gone = await issue('erin', 'room-1');
    const r = await hermes(['token', 'revoke', '--user', 'erin', '--id', gone.tokenId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ user: 'erin', revoked: [gone.tokenId], closedConnections: [] });
    expect([401, 403]).toContain(await refusedStatus(s.stack.endpoints.websocket, gone.token));
    await (await connect(gone.url.replace(gone.token, keep.token))).close();

    const v = await hermes(['token', 'verify', gone.token, '--json']);
    expect(v.code).toBe(1);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: false, reason: 'revoked' });

    const again = await hermes(['token', 'revoke', '--user', 'erin', '--id', gone.tokenId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`has no token ${gone.tokenId}`);
  });

  it('needs exactly one of --id, --room, --all (exit 2)', async () => {
    const none = await hermes(['token', 'revoke', '--user', 'erin']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--id');
    const two = await hermes(['token', 'revoke', '--user', 'erin', '--id', 'x', '--all']);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('Give only one of --id, --all');
  });

  it('asks before revoking per room or all; --yes confirms when no one is at the keyboard', async () => {
    const r1 = await issue('frank', 'room-1');
    const r2 = await issue('frank', 'room-2');
    const refused = await hermes(['token', 'revoke', '--user', 'frank', '--all']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');

    const room = await hermes(['token', 'revoke', '--user', 'frank', '--room', 'room-1', '--yes', '--json']);
    expect(room.code, room.stderr).toBe(0);
    expect(JSON.parse(room.stdout)).toEqual({ user: 'frank', room: 'room-1', revoked: [r1.tokenId], closedConnections: [] });

    const all = await hermes(['token', 'revoke', '--user', 'frank', '--all', '-y']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('revoked 1 token of frank');
    const left = await hermes(['token', 'list', '--user', 'frank', '--json']);
    expect(JSON.parse(left.stdout)).toEqual([]);
    void r2;
  });

  it('closes the connections opened with the revoked token, and says how many; other tokens\' stay open', async () => {
    const doomed = await issue('gail', 'room-9');
    const other = await issue('gail', 'room-9');
    const a = await connect(s.stack.endpoints.websocket, doomed.token);
    const b = await connect(s.stack.endpoints.websocket, doomed.token);
    const c = await connect(s.stack.endpoints.websocket, other.token);
    const r = await hermes(['token', 'revoke', '--user', 'gail', '--id', doomed.tokenId]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`revoked token ${doomed.tokenId} of gail; closed 2 connections opened with it`);
    expect(await a.closed).toEqual({ code: 1000, reason: 'Connection Closed Normally' });
    expect((await b.closed).code).toBe(1000);
    expect(c.ws.readyState).toBe(c.ws.OPEN);

    const all = await hermes(['token', 'revoke', '--user', 'gail', '--all', '--yes', '--json']);
    expect(JSON.parse(all.stdout)).toMatchObject({ revoked: [other.tokenId], closedConnections: [expect.any(String)] });
    expect((await c.closed).code).toBe(1000);
  });
});

describe('hermes token verify', () => {
  it('says a good token is valid (exit 0) with its claims', async () => {
    const t = await issue('gina', 'room-9');
    const human = await hermes(['token', 'verify', t.token]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`valid: token ${t.tokenId} of user gina for room room-9`);
    const json = await hermes(['token', 'verify', t.token, '--json']);
    const v = JSON.parse(json.stdout);
    expect(v).toMatchObject({ valid: true, claims: { user_id: 'gina', room_id: 'room-9', jti: t.tokenId } });
    expect(v.claims.token).toBeUndefined(); // the token's own secret is not echoed
    const stdin = await hermes(['token', 'verify', '-'], { stdin: `${t.token}\n` });
    expect(stdin.code).toBe(0);
  });

  it('names the reason a token is refused (exit 1): signature, expired, algorithm, room', async () => {
    const t = await issue('hank', 'room-3');
    const [h, p, sig] = t.token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, room_id: 'admin' })).toString('base64url');
    const reason = async (jwt: string, extra: string[] = []) => {
      const r = await hermes(['token', 'verify', jwt, '--json', ...extra]);
      expect(r.code, r.stderr).toBe(1);
      return JSON.parse(r.stdout) as { valid: boolean; reason: string; message: string };
    };

    expect((await reason(`${h}.${forged}.${sig}`)).reason).toBe('signature');
    const otherSecret = jwt.sign(claims, 'x'.repeat(64), { algorithm: 'HS512', keyid: (await s.stack.signingKeys.current()).kid });
    expect((await reason(otherSecret)).reason).toBe('signature');
    expect((await reason(jwt.sign(claims, 'x'.repeat(64), { algorithm: 'HS512', keyid: 'k-elsewhere' }))).reason).toBe('unknown-key');

    const old = await issueToken(
      { ddb: s.stack.ddb, table: s.stack.names.tokensTable, signingKey: await s.stack.signingKeys.current(), bcryptCost: 4, now: () => Date.now() - 3 * 3600_000 },
      { userId: 'hank', roomId: 'room-3', ttlSeconds: 60 },
    );
    const expired = await reason(old.token);
    expect(expired).toMatchObject({ valid: false, reason: 'expired' });
    expect(expired.message).toContain('expired at');

    const hs256 = jwt.sign(claims, (await s.stack.signingKeys.current()).secret, { algorithm: 'HS256' });
    expect((await reason(hs256)).reason).toBe('algorithm');

    expect((await reason(t.token, ['--room', 'room-4'])).reason).toBe('room-mismatch');
    expect((await reason('not-a-jwt')).reason).toBe('malformed');

    const human = await hermes(['token', 'verify', `${h}.${forged}.${sig}`]);
    expect(human.stdout).toMatch(/^refused \(signature\): /);
  });
});
