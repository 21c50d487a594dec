/**
 * `hermes publish`: put messages on the stage's queue, as a backend would. One message from
 * text (`{type, data: text}`, the subscriber convention) or --data JSON; many from an NDJSON
 * --file or standard input. To a room (--room), or to every connection of one user (--to-user).
 * Sent through core publish; every message's id is reported, and an
 * entry the queue rejects makes the exit code 1.
 */
import type { Register } from '../runner.js';
import type { CliContext } from '../context.js';
import type { CommandResult } from '../runner.js';
import type { SQSClient } from '@aws-sdk/client-sqs';

interface PublishOptions {
  room?: string;
  toUser?: string;
  type?: string;
  data?: string;
  file?: string;
  user?: string;
  id?: string;
}

/** More messages than this are summarised instead of listed one per line, and show progress. */
const LIST_MAX = 10;
const PROGRESS_MIN = 100;

async function publish(ctx: CliContext, words: string[], opts: PublishOptions): Promise<CommandResult> {
  const { UsageError } = await import('../../core/errors.js');
  const { roomProblem, userProblem } = await import('../../core/envelope.js');
  const input = await import('../publish-input.js');

  const text = words.length ? words.join(' ') : undefined;
  const fromStdin = text === '-' || opts.file === '-' || (text === undefined && opts.data === undefined && opts.file === undefined && !ctx.io.stdin.isTTY);
  const sources = [text !== undefined && text !== '-' && 'message text', opts.data !== undefined && '--data', opts.file !== undefined && '--file', text === '-' && 'standard input (-)'].filter(Boolean);
  if (sources.length > 1) throw new UsageError(`Give only one of: ${sources.join(', ')}.`, { hint: 'One message from text or --data, or many from --file or standard input.' });
  if (sources.length === 0 && !fromStdin) {
    throw new UsageError('Nothing to publish.', { hint: 'Give the message text, --data <json>, --file <ndjson>, or pipe NDJSON on standard input.' });
  }
  const single = !fromStdin && opts.file === undefined;
  if (opts.type !== undefined && (opts.data !== undefined || !single)) {
    throw new UsageError('--type applies only to a message given as text.', { hint: 'With --data, put the type inside the JSON: {"type": "info", "data": "..."}.' });
  }
  if (opts.id !== undefined && !single) throw new UsageError('--id applies only to a single message.', { hint: 'In a file, give each line its own "id".' });
  if (opts.id !== undefined && (opts.id.length === 0 || opts.id.length > 128)) throw new UsageError('Invalid --id value: it must be 1-128 characters.');
  if (opts.room !== undefined && opts.toUser !== undefined) {
    throw new UsageError('Give --room or --to-user, not both.', { hint: 'A message goes to a room, or to every connection of one user.' });
  }
  if (opts.room !== undefined) {
    const problem = roomProblem(opts.room);
    if (problem) throw new UsageError(`Invalid --room value${opts.room ? ` "${opts.room}"` : ''}: the room ${problem}.`, { hint: 'For example --room demo.' });
  }
  if (opts.toUser !== undefined) {
    const problem = userProblem(opts.toUser);
    if (problem) throw new UsageError(`Invalid --to-user value: the user ${problem}.`, { hint: 'For example --to-user alice.' });
  }
  const user = opts.user ?? 'hermes-cli';
  const up = userProblem(user);
  if (up) throw new UsageError(`Invalid --user value: the sender ${up}.`, { hint: 'Leave it out to send as "hermes-cli".' });

  let data: unknown;
  if (opts.data !== undefined) {
    const { parseJsonFlag } = await import('../../config/parse.js');
    data = parseJsonFlag('--data', opts.data);
  } else if (text !== undefined && text !== '-') {
    data = { type: opts.type ?? 'info', data: text };
  }
  const room = single && opts.toUser === undefined ? (opts.room ?? (await ctx.ask('--room', 'Room to publish to'))) : opts.room;
  const { queueUrl } = ctx.requireQueue();

  const source = fromStdin ? 'standard input' : (opts.file ?? '');
  const to = opts.toUser !== undefined ? { to_user_id: opts.toUser } : { room_id: room as string };
  const items = single
    ? [{ message: { ...to, user_id: user, data, ...(opts.id !== undefined ? { id: opts.id } : {}) } }]
    : await input.parseNdjson(fromStdin ? input.streamLines(ctx.io.stdin) : await input.fileLines(source), { source, room, toUser: opts.toUser, user });
  input.checkLimits(items, source);

  const result = await send(ctx, queueUrl, items.map((i) => i.message));
  const at = (index: number): { index: number; line?: number; room?: string; toUser?: string } => {
    const m = items[index].message;
    return { index, ...(items[index].line !== undefined ? { line: items[index].line } : {}), ...(m.to_user_id !== undefined ? { toUser: m.to_user_id } : { room: m.room_id }) };
  };
  const where = (s: { room?: string; toUser?: string }) => (s.toUser !== undefined ? `to user ${s.toUser}` : `room ${s.room}`);
  const sent = result.sent.map((s) => ({ ...at(s.index), id: s.id ?? s.messageId, messageId: s.messageId }));
  const failed = result.failed.map((f) => ({ ...at(f.index), code: f.code, message: f.message }));

  const c = ctx.c;
  for (const f of failed) {
    ctx.info(`${c.red('failed:')} ${f.line !== undefined ? `line ${f.line}` : 'message'} (${where(f)}): ${f.code}${f.message ? `: ${f.message}` : ''}`);
  }
  let human: string;
  if (items.length <= LIST_MAX) {
    human = sent.map((s) => `${c.green('sent')} ${s.id}  ${c.dim(`${where(s)}${s.line !== undefined ? `, line ${s.line}` : ''}`)}`).join('\n');
  } else {
    const rooms = new Set(sent.filter((s) => s.room !== undefined).map((s) => s.room));
    const users = new Set(sent.filter((s) => s.toUser !== undefined).map((s) => s.toUser));
    const to = [rooms.size && `${rooms.size} room${rooms.size === 1 ? '' : 's'}`, users.size && `${users.size} user${users.size === 1 ? '' : 's'}`].filter(Boolean).join(' and ');
    human = `${c.green('sent')} ${sent.length} of ${items.length} messages to ${to || 'nobody'}`;
  }
  return { data: { sent, failed }, text: human, exitCode: failed.length ? 1 : 0 };
}

/**
 * Publish through the core with progress for large inputs. The client is wrapped so that once
 * the endpoint proves unreachable, later batches fail at once instead of each waiting through
 * the SDK's retries; and when nothing at all was sent, that one cause is the error shown.
 */
async function send(ctx: CliContext, queueUrl: string, messages: import('../../core/envelope.js').QueueMessage[]) {
  const { publish: publishCore } = await import('../../core/publish.js');
  const sqs = await ctx.sqs();
  let unreachable: unknown;
  const guarded: Pick<SQSClient, 'send'> = {
    send: (async (command: Parameters<SQSClient['send']>[0]) => {
      if (unreachable) throw unreachable;
      try {
        return await sqs.send(command);
      } catch (err) {
        // No HTTP status: the request never got an answer (refused, reset, DNS), not an SQS error.
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === undefined) unreachable = err;
        throw err;
      }
    }) as SQSClient['send'],
  };
  let shown = 0;
  const onProgress =
    messages.length >= PROGRESS_MIN
      ? (done: number, total: number) => {
          if (done < total && done - shown < total / 10) return;
          shown = done;
          ctx.info(ctx.c.dim(`published ${done}/${total}`));
        }
      : undefined;
  const result = await publishCore({ sqs: guarded, queueUrl }, messages, { onProgress });
  if (result.sent.length === 0 && unreachable) throw unreachable;
  return result;
}

export const register: Register = (program, action) => {
  program
    .command('publish')
    .description('publish messages to a room through the queue, as a backend does')
    .argument('[text...]', 'message text, sent as {"type": <--type>, "data": <text>}; - reads NDJSON from standard input')
    .option('--room <room>', 'room to publish to (with --file or standard input: every line is the data of a message to it)')
    .option('--to-user <user>', "publish to every connection of this user, in any room, instead of a room (with --file: every line is the data)")
    .option('--type <type>', 'type of a text message (default info)')
    .option('--data <json>', 'send this JSON as the message data instead of text')
    .option('--file <ndjson>', 'publish every line of this NDJSON file (- for standard input)')
    .option('--user <user>', 'sender user id (default hermes-cli)')
    .option('--id <id>', 'message id, which clients see as the frame id (default: the queue message id)')
    .addHelpText(
      'after',
      '\nNDJSON lines are full messages {"room_id" or "to_user_id", "user_id"?, "data", "id"?}, or with --room or --to-user just the data.\nExamples:\n  hermes publish --room demo "Backup job finished"\n  hermes publish --room demo --data \'{"type":"warning","data":"Disk 91% full"}\'\n  hermes publish --to-user alice --type success "Your export is ready"\n  hermes publish --file messages.ndjson',
    )
    .action(action((ctx, args, opts) => publish(ctx, (args[0] as string[] | undefined) ?? [], opts as PublishOptions)));
};
