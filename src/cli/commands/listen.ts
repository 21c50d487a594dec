/**
 * `hermes listen --room R`: tail a room over WebSocket, like `kubectl logs -f`. Mints a
 * short-lived token through the core unless --token is given, prints every frame once, in seq
 * order (a readable line, or NDJSON with --json; anything else the server says goes to
 * stderr), reconnects when the connection drops, replaying what it missed, and stops for good
 * when a handshake is refused (token revoked or expired). With --since it first replays the
 * room's history after a seq or for a duration. The connection is the client library's
 * (../listen-connection.ts).
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import type { StageRecord } from '../../config/stage-record.js';
import type { CommandResult } from '../runner.js';

interface ListenOptions {
  room?: string;
  user?: string;
  token?: string;
  ttl?: string;
  count?: string;
  timeout?: string;
  send?: boolean;
  since?: string;
}

async function mintOrTake(ctx: CliContext, opts: ListenOptions): Promise<{ token: string; user: string; room: string; minted: boolean }> {
  const { UsageError } = await import('../../core/errors.js');
  if (opts.token !== undefined) {
    if (opts.ttl !== undefined) throw new UsageError('--ttl applies only to a token that hermes listen mints itself.', { hint: 'Drop --ttl, or drop --token.' });
    // Decoded without verification, for display: the server decides whether it is good.
    const { decodeUnverified } = await import('../../core/tokens.js');
    const claims = decodeUnverified(opts.token);
    if (!claims) throw new UsageError('Invalid --token value: it is not a JWT.', { hint: 'Pass the token printed by `hermes token issue`.' });
    const room = String(claims.room_id ?? '?');
    const user = String(claims.user_id ?? '?');
    if (opts.room !== undefined && opts.room !== room) {
      throw new UsageError(`--room "${opts.room}" does not match the token's room "${room}".`, { hint: 'A token joins only the room it was issued for; drop --room.' });
    }
    if (opts.user !== undefined && opts.user !== user) {
      throw new UsageError(`--user "${opts.user}" does not match the token's user "${user}".`, { hint: 'The user comes from the token; drop --user.' });
    }
    return { token: opts.token, user, room, minted: false };
  }
  const { parseDuration } = await import('../../config/parse.js');
  const { issueTokenFromFlags } = await import('../issue-token.js');
  const { randomBytes } = await import('node:crypto');
  const room = opts.room ?? (await ctx.ask('--room', 'Room to listen to'));
  const user = opts.user ?? `listener-${randomBytes(3).toString('hex')}`;
  const ttlSeconds = Math.round(parseDuration('--ttl', opts.ttl ?? '2h'));
  const issued = await issueTokenFromFlags(ctx, { userId: user, roomId: room, ttlSeconds });
  return { token: issued.token, user, room, minted: true };
}

/** Best effort: ask the core why the token is refused, when this machine can check it. */
async function refusalReason(ctx: CliContext, token: string, startedWith?: StageRecord): Promise<string | undefined> {
  const { verifyToken } = await import('../../core/tokens.js');
  const why = async (verify: () => Promise<unknown>) => {
    try {
      await verify();
      return undefined;
    } catch (err) {
      return (err as Error).name === 'TokenRefusedError' ? (err as Error).message : undefined;
    }
  };
  // A local stack that restarted while we listened is not a revocation: an in-memory one lost
  // its key and tables, a persisted one kept them (and is asked, at its new address).
  const now = startedWith && (await import('../../config/stage-record.js')).readStageRecord(ctx.config().stateDir.value, startedWith.stage);
  if (startedWith && now && (now.pid !== startedWith.pid || now.startedAt !== startedWith.startedAt)) {
    const restarted = `the local stack restarted (pid ${startedWith.pid} → ${now.pid})`;
    if (now.ephemeral || startedWith.ephemeral || !now.endpoints.ssm || !now.endpoints.dynamodb) {
      return `${restarted} in memory, so the key and tables that issued this token are gone; it was not revoked.`;
    }
    // The new stack, resolved again (its record has its new address) and reached as every
    // command reaches a stage: its own tables, and its keys from its parameter store.
    const [{ resolveConfig }, { stageAccess }, { readStageKeyRing }, { staticKeySource }] = await Promise.all([
      import('../../config/resolve.js'),
      import('../../config/stage-access.js'),
      import('../../config/signing-keys.js'),
      import('../../core/signing-keys.js'),
    ]);
    const restartedCfg = resolveConfig(ctx.opts, ctx.io.env, ctx.io.cwd);
    const restartedStage = stageAccess(() => restartedCfg);
    try {
      const ring = await readStageKeyRing(restartedCfg, restartedStage.credentials);
      const ddb = await restartedStage.ddb();
      const reason = await why(() => verifyToken({ ddb, table: restartedCfg.names.tokensTable, keys: staticKeySource(ring) }, token));
      return reason ? `${restarted}, and it refuses the token: ${reason}` : `${restarted} and was refusing connections while it started.`;
    } finally {
      restartedStage.close();
    }
  }
  return why(async () => verifyToken({ ddb: await ctx.ddb(), table: ctx.config().names.tokensTable, keys: await ctx.signingKeys() }, token));
}

async function listen(ctx: CliContext, opts: ListenOptions): Promise<CommandResult> {
  const { parseDuration, parseIntFlag } = await import('../../config/parse.js');
  const { HermesError } = await import('../../core/errors.js');
  const count = opts.count === undefined ? undefined : parseIntFlag('--count', opts.count, 1, Number.MAX_SAFE_INTEGER);
  const { parseSinceFlag, sinceSeq } = await import('../history-since.js');
  const sinceFlag = opts.since === undefined ? undefined : await parseSinceFlag(opts.since);
  const timeoutMs = opts.timeout === undefined ? undefined : parseDuration('--timeout', opts.timeout) * 1000;
  const cfg = ctx.config();
  const base = cfg.endpoints.websocket.value;
  if (!base) {
    const { notRecorded } = await import('../../config/stage-access.js');
    throw notRecorded(cfg, 'WebSocket endpoint', 'Set HERMES_WEBSOCKET_URL, or deploy the stage from here.');
  }
  const { token, user, room, minted } = await mintOrTake(ctx, opts);
  // What the local stack was when we started, to tell a restart from a revocation later.
  const startedWith = cfg.stage.value === 'local' ? (await import('../../config/stage-record.js')).readStageRecord(cfg.stateDir.value, 'local') : undefined;
  // A seq is the room's; a duration applies to the room's and the user's messages alike.
  const since = sinceFlag && {
    room: await sinceSeq(ctx, sinceFlag, { kind: 'room', id: room }),
    ...('seconds' in sinceFlag ? { user: await sinceSeq(ctx, sinceFlag, { kind: 'user', id: user }) } : {}),
  };

  const { openListenConnection, describeFailure } = await import('../listen-connection.js');
  const { formatFrame, humanDuration } = await import('../format.js');
  const stopper = new AbortController();
  const onAbort = () => stopper.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  if (ctx.signal.aborted) stopper.abort();
  let frames = 0;
  let timedOut = false;
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), stopper.abort()), timeoutMs);

  const connection = openListenConnection({
    url: base,
    token,
    since,
    signal: stopper.signal,
    onFrame(frame) {
      if (count !== undefined && frames >= count) return;
      frames++;
      ctx.out(ctx.json ? JSON.stringify(frame) : formatFrame(ctx.c, frame));
      if (count !== undefined && frames >= count) stopper.abort();
    },
    onEvent(e) {
      const c = ctx.c;
      if (e.kind === 'open') {
        ctx.info(e.reconnect ? c.green('reconnected') : c.dim(`listening to room ${room} as ${user} (${base}); Ctrl-C to stop`));
      } else if (e.kind === 'lost') {
        ctx.info(c.yellow(`connection lost (${e.code}); reconnecting in ${humanDuration(e.delayMs)}…`));
      } else if (e.kind === 'retry') {
        ctx.info(c.yellow(`reconnect failed (${e.error}); retrying in ${humanDuration(e.delayMs)}…`));
      } else if (e.kind === 'gap') {
        ctx.warn(`${e.stream === 'room' ? `room ${room}` : `user ${user}`}: messages ${e.from}-${e.to} are no longer kept (older than the stage's retention or beyond its cap) and were missed`);
      } else {
        // Not a frame, so not data for stdout: an error frame answering --send, or garbage.
        const p = e.problem;
        ctx.warn(p.source === 'server' ? `the server answered ${p.error}: ${p.message}` : p.message);
      }
    },
  });

  let lines: import('node:readline').Interface | undefined;
  if (opts.send) {
    const { createInterface } = await import('node:readline');
    lines = createInterface({ input: ctx.io.stdin, crlfDelay: Infinity });
    let lineNo = 0;
    lines.on('line', (line) => {
      lineNo++;
      if (!line.trim()) return;
      let data: unknown;
      try {
        data = JSON.parse(line);
      } catch {
        data = line;
      }
      try {
        connection.send(data);
      } catch (err) {
        // Too large for API Gateway: sending it would cost the whole connection (1009).
        ctx.warn(`standard input line ${lineNo} not sent: ${(err as Error).message}`);
      }
    });
  }

  try {
    const end = await connection.done;
    if (end.kind === 'refused') {
      const why = await refusalReason(ctx, token, startedWith);
      throw new HermesError(`The server refused the token (HTTP ${end.status}): ${why ?? 'it was revoked or has expired.'}`, {
        hint: minted ? 'Run `hermes listen` again to get a new token.' : 'Issue a new one with `hermes token issue`; `hermes token verify <jwt>` says why one is refused.',
      });
    }
    if (end.kind === 'failed') {
      if (end.close.status !== undefined) {
        throw new HermesError(`The WebSocket handshake with ${base} failed with HTTP ${end.close.status}.`, {
          hint: 'Look at the `hermes dev` output (or the stage\'s logs) for the authorizer or $connect error.',
        });
      }
      throw new HermesError(`Cannot connect to ${base}: ${describeFailure(end.close)}`, {
        hint: cfg.stage.value === 'local' ? 'Is `hermes dev` still running? Start it again, or check --state-dir.' : 'Check the stage and your network.',
      });
    }
    if (timedOut && count !== undefined && frames < count) {
      ctx.info(ctx.c.yellow(`timed out after ${humanDuration(timeoutMs ?? 0)} with ${frames} of ${count} frames`));
      return { exitCode: 1 };
    }
    return { exitCode: 0 };
  } finally {
    clearTimeout(timer);
    lines?.close();
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

export const register: Register = (program, action) => {
  program
    .command('listen')
    .description('tail a room over WebSocket: print every message as it arrives (like kubectl logs -f)')
    .option('--room <room>', 'room to listen to (taken from the token with --token)')
    .option('--user <user>', 'user id for the minted token (default: listener-<random>)')
    .option('--token <jwt>', 'connect with this token instead of minting one')
    .option('--ttl <duration>', 'lifetime of the minted token (default 2h)')
    .option('--count <n>', 'exit after n messages')
    .option('--timeout <duration>', 'exit after this long (exit 1 if --count messages did not arrive)')
    .option('--send', 'send each line of standard input to the room (JSON, or else as a string)')
    .option('--since <seq|duration>', 'first replay the room after this seq (0: all kept), or what was sent in this last duration (15m, 2h)')
    .addHelpText(
      'after',
      '\nWith --json, prints one frame per line (NDJSON), with its seq and, when replayed, "replay": true.\nReconnects when the connection drops and replays what it missed, in order; exits 1 when the\ntoken is refused (revoked or expired).',
    )
    .action(action((ctx, _args, opts) => listen(ctx, opts as ListenOptions)));
};
