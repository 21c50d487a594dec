/**
 * What `hermes publish` sends, read from flags, a file or standard input, and checked before
 * anything goes to the queue: an error names the line of the file and the problem, once.
 */
import { createInterface } from 'node:readline';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { HermesError, LimitError, MalformedMessageError, UsageError } from '../core/errors.js';
import { encodeQueueMessage, parseQueueMessage, type QueueMessage } from '../core/envelope.js';

export interface InputMessage {
  message: QueueMessage;
  /** 1-based line of the NDJSON input it came from. */
  line?: number;
}

export interface NdjsonOptions {
  /** Shown in errors: the file name or "standard input". */
  source: string;
  /** With a room, every line is the data of a message to it; without, a full message. */
  room?: string;
  /** With a user, every line is the data of a message to that user (all their connections). */
  toUser?: string;
  /** Sender for lines that do not name one. */
  user: string;
}

const FULL_MESSAGE_HINT =
  'Each line must be a message like {"room_id": "demo", "data": {...}} or {"to_user_id": "alice", "data": {...}}; or pass --room or --to-user to send each line as the data.';

/** Messages from NDJSON lines; blank lines are skipped. */
export async function parseNdjson(lines: AsyncIterable<string>, opts: NdjsonOptions): Promise<InputMessage[]> {
  const out: InputMessage[] = [];
  let n = 0;
  for await (const raw of lines) {
    n++;
    const text = n === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (!text.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const flag = opts.room !== undefined ? '--room' : opts.toUser !== undefined ? '--to-user' : undefined;
      throw new UsageError(`Line ${n} of ${opts.source} is not JSON (${(err as Error).message}).`, {
        hint: flag === undefined ? FULL_MESSAGE_HINT : `With ${flag}, each line is one JSON value: the data of one message.`,
      });
    }
    if (opts.room !== undefined) {
      out.push({ message: { room_id: opts.room, user_id: opts.user, data: value }, line: n });
      continue;
    }
    if (opts.toUser !== undefined) {
      out.push({ message: { to_user_id: opts.toUser, user_id: opts.user, data: value }, line: n });
      continue;
    }
    if (value && typeof value === 'object' && 'shard' in value) {
      throw new UsageError(`Line ${n} of ${opts.source} has a "shard" field, which hermes sets itself when it splits large rooms.`, {
        hint: 'Remove the field.',
      });
    }
    let message: QueueMessage;
    try {
      message = parseQueueMessage(text);
    } catch (err) {
      if (!(err instanceof MalformedMessageError)) throw err;
      throw new UsageError(`Line ${n} of ${opts.source}: ${err.message.replace('The queue message', 'the message')}`, { hint: FULL_MESSAGE_HINT });
    }
    out.push({ message: { ...message, user_id: message.user_id ?? opts.user }, line: n });
  }
  if (out.length === 0) {
    throw new UsageError(`There are no messages in ${opts.source}.`, { hint: 'Give one JSON message per line.' });
  }
  return out;
}

/** Lines of a file, with a clear error when it cannot be read. */
export async function fileLines(file: string): Promise<AsyncIterable<string>> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`Cannot read --file ${file}${code === 'ENOENT' ? ': no such file' : `: ${(err as Error).message}`}.`, {
      hint: 'Give the path of an NDJSON file, or - to read standard input.',
    });
  }
  return streamLines(createReadStream(file));
}

export function streamLines(input: NodeJS.ReadableStream): AsyncIterable<string> {
  return createInterface({ input, crlfDelay: Infinity });
}

/**
 * Check every message against the SQS and API Gateway limits before the first is sent, so a
 * file is never half-published; the error names the line.
 */
export function checkLimits(items: InputMessage[], source: string): void {
  for (const { message, line } of items) {
    try {
      encodeQueueMessage(message);
    } catch (err) {
      if (line === undefined || !(err instanceof LimitError)) throw err;
      throw new HermesError(`Line ${line} of ${source}: ${err.message}`, { hint: err.hint, cause: err });
    }
  }
}
