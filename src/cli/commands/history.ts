/**
 * `hermes history --room R` (or `--user U`): the messages the stage keeps for a room, or for
 * one user, oldest first, read from the history table (src/core/history.ts) with the stage's
 * retention and cap. `--since` a seq or a duration, `--limit` the newest N.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../runner.js';

interface HistoryOptions {
  room?: string;
  user?: string;
  since?: string;
  limit?: string;
}

const DEFAULT_LIMIT = 50;

async function history(ctx: CliContext, opts: HistoryOptions): Promise<CommandResult> {
  const { UsageError, HermesError } = await import('../../core/errors.js');
  const { parseIntFlag, nonEmpty } = await import('../../config/parse.js');
  const { roomProblem, userProblem } = await import('../../core/envelope.js');
  const room = nonEmpty('--room', opts.room);
  const user = nonEmpty('--user', opts.user);
  if ((room === undefined) === (user === undefined)) {
    throw new UsageError(room === undefined ? 'Say whose history: --room or --user.' : 'Give --room or --user, not both.', {
      hint: 'For example `hermes history --room demo`, or `hermes history --user alice` for the messages sent to one user.',
    });
  }
  const problem = room !== undefined ? roomProblem(room) : userProblem(user);
  if (problem) throw new UsageError(`Invalid ${room !== undefined ? '--room' : '--user'} value: it ${problem}.`);
  const limit = opts.limit === undefined ? DEFAULT_LIMIT : parseIntFlag('--limit', opts.limit, 1, 100_000);
  const { parseSinceFlag, sinceSeq } = await import('../history-since.js');
  const since = opts.since === undefined ? undefined : await parseSinceFlag(opts.since);

  const { readRecent, streamKey } = await import('../../core/history.js');
  const { historyStore } = await import('../stage-resources.js');
  const { formatFrame, plural } = await import('../format.js');
  const stream = room !== undefined ? ({ kind: 'room', id: room } as const) : ({ kind: 'user', id: user! } as const);
  const store = await historyStore(ctx);
  const cfg = ctx.config();
  if (store.retentionSeconds === 0) ctx.warn(`Stage ${cfg.stage.value} is set to keep no history (historyRetention 0); showing what the table still has.`);
  let read;
  try {
    const after = since === undefined ? undefined : await sinceSeq(ctx, since, stream);
    read = await readRecent(store, stream, { limit, ...(after !== undefined ? { since: after } : {}) });
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') {
      throw new HermesError(`Stage ${cfg.stage.value} has no history table (${cfg.names.historyTable}).`, {
        hint: cfg.local ? 'Restart `hermes dev`: the local stack creates it.' : `Deploy the stage again with this version of hermes: \`hermes deploy --stage ${cfg.stage.value}\`.`,
      });
    }
    throw err;
  }
  const frames = read.messages.reverse().map((m) => JSON.parse(m.payload) as import('../../../client/protocol.js').Frame);
  const name = room !== undefined ? `room ${room}` : `user ${user}`;
  const data = { stream: streamKey(stream), head: read.head, messages: frames };
  if (frames.length === 0) {
    return { data, text: read.head === 0 ? `No messages for ${name}.` : `No messages kept for ${name}${since ? ' in that range' : ''} (its last seq is ${read.head}).` };
  }
  const c = ctx.c;
  const width = String(read.head).length;
  const lines = frames.map((f) => `${c.dim(`#${String(f.seq).padStart(width)}`)}  ${formatFrame(c, f)}`);
  ctx.info(c.dim(`${plural(frames.length, 'message')} of ${name}, seq ${frames[0].seq}-${frames[frames.length - 1].seq} (last seq ${read.head})`));
  return { data, text: lines.join('\n') };
}

export const register: Register = (program, action) => {
  program
    .command('history')
    .description("print the messages the stage keeps for a room (or for one user), oldest first")
    .option('--room <room>', 'the room whose messages to print')
    .option('--user <user>', 'the messages sent to this user (hermes publish --to-user), instead of a room')
    .option('--since <seq|duration>', 'only those after this seq, or sent in this last duration (15m, 2h)')
    .option('--limit <n>', `at most the newest n (default ${DEFAULT_LIMIT})`)
    .addHelpText('after', '\nWith --json, prints {"stream", "head", "messages": [frames…]}: each frame as connections got it, with its seq.')
    .action(action((ctx, _args, opts) => history(ctx, opts as HistoryOptions)));
};
