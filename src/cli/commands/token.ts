/**
 * `hermes token issue|list|revoke|verify`: the tokens a browser connects with. All of it is
 * core tokens.ts; this file reads flags and shapes output. The signing secret is never printed.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../runner.js';

async function store(ctx: CliContext) {
  return { ddb: await ctx.ddb(), table: ctx.config().names.tokensTable };
}

const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();

async function issue(ctx: CliContext, opts: { user?: string; room?: string; ttl?: string }): Promise<CommandResult> {
  const { issueTokenFromFlags } = await import('../issue-token.js');
  const { parseDuration } = await import('../../config/parse.js');
  const user = opts.user ?? (await ctx.ask('--user', 'User id'));
  const room = opts.room ?? (await ctx.ask('--room', 'Room'));
  const ttlSeconds = opts.ttl === undefined ? undefined : Math.round(parseDuration('--ttl', opts.ttl));
  const t = await issueTokenFromFlags(ctx, { userId: user, roomId: room, ttlSeconds });
  const ws = ctx.config().endpoints.websocket.value;
  return {
    data: {
      token: t.token,
      tokenId: t.tokenId,
      user: t.userId,
      room: t.roomId,
      issuedAt: iso(t.issuedAt),
      expiresAt: iso(t.expiresAt),
      url: ws ? `${ws}?token=${encodeURIComponent(t.token)}` : null,
    },
    text: t.token,
  };
}

async function list(ctx: CliContext, opts: { user?: string; includeExpired?: boolean }): Promise<CommandResult> {
  const { listTokens } = await import('../../core/tokens.js');
  const { table, utcSeconds, relative } = await import('../format.js');
  const rows = await listTokens(await store(ctx), { userId: opts.user, includeExpired: opts.includeExpired });
  rows.sort((a, b) => a.issued_at - b.issued_at || a.token_id.localeCompare(b.token_id));
  const data = rows.map((r) => ({ tokenId: r.token_id, user: r.user_id, room: r.room_id, issuedAt: iso(r.issued_at), expiresAt: iso(r.expires_at) }));
  if (rows.length === 0) {
    ctx.info(opts.user ? `User ${opts.user} has no live tokens.` : 'There are no live tokens.');
    return { data, text: '' };
  }
  const text = table(
    ctx.c,
    ['TOKEN ID', 'USER', 'ROOM', 'ISSUED', 'EXPIRES'],
    rows.map((r) => [r.token_id, r.user_id, r.room_id, utcSeconds(r.issued_at), `${utcSeconds(r.expires_at)} (${relative(r.expires_at)})`]),
  );
  return { data, text };
}

async function revoke(ctx: CliContext, opts: { user?: string; id?: string; room?: string; all?: boolean }): Promise<CommandResult> {
  const { UsageError, HermesError } = await import('../../core/errors.js');
  const chosen = [opts.id !== undefined && '--id', opts.room !== undefined && '--room', opts.all && '--all'].filter(Boolean);
  if (chosen.length !== 1) {
    throw new UsageError(
      chosen.length === 0 ? 'Say which tokens to revoke.' : `Give only one of ${chosen.join(', ')}.`,
      { hint: 'Use --id <token id> for one token, --room <room> for the user\'s tokens in a room, or --all for all of them.' },
    );
  }
  const user = opts.user ?? (await ctx.ask('--user', 'User whose tokens to revoke'));
  const { revokeToken, revokeUserTokens } = await import('../../core/tokens.js');
  const deps = await store(ctx);
  let ids: string[];
  let scope: string;
  if (opts.id !== undefined) {
    if (!(await revokeToken(deps, user, opts.id))) {
      throw new HermesError(`User ${user} has no token ${opts.id} (already revoked, expired, or a typo).`, {
        hint: `List the user's tokens with \`hermes token list --user ${user}\`.`,
      });
    }
    ids = [opts.id];
    scope = '';
  } else {
    await ctx.confirm(opts.all ? `revoke every token of user "${user}"` : `revoke every token of user "${user}" for room "${opts.room}"`);
    ids = await revokeUserTokens(deps, user, opts.room);
    scope = opts.room === undefined ? '' : ` for room ${opts.room}`;
  }
  const closed = await closeRevokedConnections(ctx, user, ids, opts.id !== undefined ? 'id' : opts.room !== undefined ? 'room' : 'all', opts.room);
  const revokedText =
    opts.id !== undefined
      ? `revoked token ${opts.id} of ${user}`
      : ids.length === 0
        ? `${user} had no tokens${scope}; nothing revoked`
        : `revoked ${ids.length} token${ids.length === 1 ? '' : 's'} of ${user}${scope}`;
  const lines = [ids.length ? `${revokedText}; ${closed.text}` : revokedText];
  if (closed.failed.length) {
    lines.push(ctx.c.red(`${closed.failed.length} connection${closed.failed.length === 1 ? '' : 's'} opened with ${ids.length === 1 ? 'it' : 'them'} could not be closed and stay open:`));
    for (const f of closed.failed) lines.push(`  ${f.connectionId}: ${f.error}`);
  }
  return {
    data: {
      user,
      ...(opts.room !== undefined ? { room: opts.room } : {}),
      revoked: ids,
      closedConnections: closed.closed,
      ...(closed.failed.length ? { failedConnections: closed.failed } : {}),
    },
    text: lines.join('\n'),
    exitCode: closed.failed.length ? 1 : 0,
  };
}

/**
 * Revoking refuses new connections; the open ones are closed here, since API Gateway never
 * authorizes an open socket again (docs/api-gateway-websocket.md §2.4).
 */
async function closeRevokedConnections(
  ctx: CliContext,
  userId: string,
  tokenIds: string[],
  scope: 'id' | 'room' | 'all',
  roomId?: string,
): Promise<{ closed: string[]; failed: Array<{ connectionId: string; error: string }>; text: string }> {
  if (!tokenIds.length) return { closed: [], failed: [], text: '' };
  const { connectionsOfRevokedTokens, closeConnections } = await import('../../core/close-connections.js');
  const { connectionStore } = await import('../stage-resources.js');
  const { plural } = await import('../format.js');
  const connections = await connectionStore(ctx);
  const open = await connectionsOfRevokedTokens(connections, { userId, tokenIds, scope, roomId });
  if (!open.length) return { closed: [], failed: [], text: `no connection was open with ${tokenIds.length === 1 ? 'it' : 'them'}` };
  const result = await closeConnections({ ...connections, management: await ctx.management() }, open, ctx.signal);
  // A connection that was already gone (410) is closed as far as anyone can tell.
  const closed = [...result.closed, ...result.alreadyGone];
  return { closed, failed: result.failed, text: `closed ${plural(closed.length, 'connection')} opened with ${tokenIds.length === 1 ? 'it' : 'them'}` };
}

async function verify(ctx: CliContext, jwt: string | undefined, opts: { room?: string }): Promise<CommandResult> {
  const { verifyToken, decodeUnverified, checkTokenRoom } = await import('../../core/tokens.js');
  const { TokenRefusedError, UsageError } = await import('../../core/errors.js');
  let token = jwt;
  if (token === undefined || token === '-') {
    if (token === undefined && ctx.io.stdin.isTTY) {
      throw new UsageError('Missing the token to verify.', { hint: 'Pass it as an argument: hermes token verify <jwt> (or - to read standard input).' });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of ctx.io.stdin) chunks.push(Buffer.from(chunk as Buffer));
    token = Buffer.concat(chunks).toString('utf8');
  }
  token = token.trim();
  if (!token) throw new UsageError('The token to verify is empty.', { hint: 'Pass it as an argument: hermes token verify <jwt>.' });
  const { utcSeconds, relative } = await import('../format.js');
  const c = ctx.c;
  try {
    const claims = await verifyToken({ ...(await store(ctx)), keys: await ctx.signingKeys() }, token);
    checkTokenRoom(claims, opts.room);
    const shown = { user_id: claims.user_id, room_id: claims.room_id, jti: claims.jti, iat: claims.iat, exp: claims.exp };
    return {
      data: { valid: true, claims: shown },
      text: `${c.green('valid')}: token ${claims.jti} of user ${claims.user_id} for room ${claims.room_id}, expires ${utcSeconds(claims.exp)} (${relative(claims.exp)})`,
    };
  } catch (err) {
    if (!(err instanceof TokenRefusedError)) throw err;
    const claims = displayClaims(decodeUnverified(token));
    return {
      data: { valid: false, reason: err.reason, message: err.message, ...(claims ? { claims } : {}) },
      text: `${c.red('refused')} (${err.reason}): ${err.message}`,
      exitCode: 1,
    };
  }
}

/** The claims of a refused token without its secret, to help tell which one it is. */
function displayClaims(claims: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!claims) return undefined;
  const { token: _secret, ...rest } = claims;
  return rest;
}

export const register: Register = (program, action) => {
  const token = program.command('token').description('issue, list, revoke and check connection tokens');
  token
    .command('issue')
    .description('issue a token for a user and a room; prints the JWT (with --json, also its id, expiry and the URL to connect to)')
    .option('--user <user>', 'user id the token is for')
    .option('--room <room>', 'room the token may join')
    .option('--ttl <duration>', 'lifetime, e.g. 15m, 1h, 7d (default 1h, at most 30d)')
    .action(action((ctx, _args, opts) => issue(ctx, opts)));
  token
    .command('list')
    .description('list live tokens (never their secrets)')
    .option('--user <user>', 'only this user\'s tokens')
    .option('--include-expired', 'also list expired tokens not yet removed by the table\'s TTL')
    .action(action((ctx, _args, opts) => list(ctx, opts)));
  token
    .command('revoke')
    .description('revoke a user\'s tokens: one (--id), per room (--room) or all (--all); new connections with them are refused')
    .option('--user <user>', 'user whose tokens to revoke')
    .option('--id <tokenId>', 'the token id (jti) to revoke')
    .option('--room <room>', 'revoke the user\'s tokens for this room')
    .option('--all', 'revoke all of the user\'s tokens')
    .option('-y, --yes', 'do not ask for confirmation (--room, --all)')
    .action(action((ctx, _args, opts) => revoke(ctx, opts)));
  token
    .command('verify')
    .description('check a token as the authorizer would and say why it would be refused; exit 1 when refused')
    .argument('[jwt]', 'the token (- reads standard input)')
    .option('--room <room>', 'also require the token to be for this room')
    .action(action((ctx, args, opts) => verify(ctx, args[0] as string | undefined, opts)));
};
