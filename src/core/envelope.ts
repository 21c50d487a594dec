/**
 * The message envelope: what a backend puts on the queue, and the frame each connection gets.
 *   queue body: {"room_id": "...", "user_id": "...", "data": <any JSON>, "id"?: "..."}
 *           or: {"to_user_id": "...", "user_id": "...", "data": <any JSON>, "id"?: "..."}
 *   frame:      {"id", "room_id", "to_user_id"?, "user_id", "data", "sent_at", "seq"?}
 * The frame's type is the wire contract the client library shares (client/protocol.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Frame } from '../../client/protocol.js';
import { LimitError, MalformedMessageError } from './errors.js';
import type { StreamRef } from './history.js';

/** API Gateway WebSocket: one message (and one @connections POST) is at most 128 KB. */
export const APIGW_MESSAGE_LIMIT = 128 * 1024;
/** SQS: one message, and one SendMessageBatch request, is at most 256 KB. */
export const SQS_MESSAGE_LIMIT = 256 * 1024;

/** A message to a room (`room_id`) or to every connection of one user (`to_user_id`): exactly one of the two. */
export interface QueueMessage {
  id?: string;
  room_id?: string;
  to_user_id?: string;
  user_id?: string;
  data: unknown;
  /** Set when a large room's delivery was split: the shard of connection ids to deliver to. */
  shard?: Shard;
}

/**
 * One part of a large room's delivery. `seq` and `sent_at` are the frame's, so every shard
 * posts the same frame as the first (absent when the stage keeps no history).
 */
export interface Shard {
  connection_ids: string[];
  index: number;
  of: number;
  seq?: number;
  sent_at?: string;
}

/** The stream a message belongs to: its room's, or its user's. */
export function messageStream(msg: Pick<QueueMessage, 'room_id' | 'to_user_id'>): StreamRef {
  return msg.to_user_id !== undefined ? { kind: 'user', id: msg.to_user_id } : { kind: 'room', id: msg.room_id as string };
}

const ROOM_MAX = 256;

/** Validate a room id (used for flags, tokens and queue messages alike). Returns the problem, if any. */
export function roomProblem(room: unknown): string | undefined {
  if (typeof room !== 'string' || room.length === 0) return 'must be a non-empty string';
  if (room.length > ROOM_MAX) return `must be at most ${ROOM_MAX} characters`;
  if (room.trim() !== room) return 'must not start or end with white space';
  return undefined;
}

/** Parse and validate a queue message body. Throws MalformedMessageError (never retried). */
export function parseQueueMessage(body: string): QueueMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new MalformedMessageError(`The queue message is not JSON: ${truncate(body, 80)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MalformedMessageError('The queue message must be a JSON object with room_id and data.');
  }
  const m = parsed as Record<string, unknown>;
  const toUser = m.to_user_id !== undefined && m.to_user_id !== null;
  if (toUser && m.room_id !== undefined && m.room_id !== null) {
    throw new MalformedMessageError('The queue message has both room_id and to_user_id; a message goes to a room or to one user.');
  }
  if (toUser) {
    const problem = userProblem(m.to_user_id);
    if (problem) throw new MalformedMessageError(`The queue message's to_user_id ${problem}.`);
  } else {
    const problem = roomProblem(m.room_id);
    if (problem) throw new MalformedMessageError(`The queue message's room_id ${problem}${m.room_id === undefined ? ' (or give to_user_id to send to one user)' : ''}.`);
  }
  if (!('data' in m)) throw new MalformedMessageError('The queue message has no "data" field.');
  if (m.user_id !== undefined && m.user_id !== null && typeof m.user_id !== 'string') {
    throw new MalformedMessageError('The queue message\'s user_id must be a string when present.');
  }
  if (m.id !== undefined && (typeof m.id !== 'string' || m.id.length === 0 || m.id.length > 128)) {
    throw new MalformedMessageError('The queue message\'s id must be a string of 1-128 characters when present.');
  }
  const msg: QueueMessage = toUser ? { to_user_id: m.to_user_id as string, data: m.data } : { room_id: m.room_id as string, data: m.data };
  if (typeof m.user_id === 'string') msg.user_id = m.user_id;
  if (typeof m.id === 'string') msg.id = m.id;
  if (m.shard !== undefined) msg.shard = parseShard(m.shard);
  return msg;
}

function parseShard(s: unknown): Shard {
  const o = s as Record<string, unknown>;
  if (
    typeof o !== 'object' || o === null || !Array.isArray(o.connection_ids) ||
    !o.connection_ids.every((c) => typeof c === 'string') || typeof o.index !== 'number' || typeof o.of !== 'number' ||
    (o.seq !== undefined && !Number.isInteger(o.seq)) || (o.sent_at !== undefined && typeof o.sent_at !== 'string')
  ) {
    throw new MalformedMessageError('The queue message\'s shard must be {connection_ids: string[], index, of, seq?, sent_at?}.');
  }
  return {
    connection_ids: o.connection_ids as string[],
    index: o.index,
    of: o.of,
    ...(o.seq !== undefined ? { seq: o.seq as number } : {}),
    ...(o.sent_at !== undefined ? { sent_at: o.sent_at as string } : {}),
  };
}

/** Validate a user id: a token's, a sender's, a message's recipient. Returns the problem, if any. */
export function userProblem(user: unknown): string | undefined {
  if (typeof user !== 'string' || user.length === 0) return 'must be a non-empty string';
  if (user.length > 256) return 'must be at most 256 characters';
  return undefined;
}

export function buildFrame(msg: Pick<QueueMessage, 'id' | 'room_id' | 'to_user_id' | 'user_id' | 'data'>, now = new Date()): Frame {
  return {
    id: msg.id ?? randomUUID(),
    room_id: msg.to_user_id !== undefined ? null : (msg.room_id as string),
    ...(msg.to_user_id !== undefined ? { to_user_id: msg.to_user_id } : {}),
    user_id: msg.user_id ?? null,
    data: msg.data,
    sent_at: now.toISOString(),
  };
}

/**
 * JSON.stringify for a message: what cannot be encoded (a cycle, nesting deeper than the stack
 * allows, a BigInt) is malformed, never a transient failure, since retrying cannot help.
 */
function encodeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    const why = err instanceof RangeError ? 'it is nested too deeply' : (err as Error).message;
    throw new MalformedMessageError(`The message's data cannot be encoded as JSON: ${why}.`);
  }
}

/** Serialise a frame once and check it fits API Gateway's message limit. */
export function encodeFrame(frame: Frame): Buffer {
  const bytes = Buffer.from(encodeJson(frame), 'utf8');
  if (bytes.length > APIGW_MESSAGE_LIMIT) {
    throw new LimitError(
      'API Gateway WebSocket message limit (128 KB)',
      APIGW_MESSAGE_LIMIT,
      bytes.length,
      'Send a smaller "data" payload, or send a reference (a URL or key) and let clients fetch the content.',
    );
  }
  return bytes;
}

/** Build the queue body for a message and check both limits before anything is sent. */
export function encodeQueueMessage(msg: QueueMessage): string {
  const body = encodeJson(msg);
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > SQS_MESSAGE_LIMIT) {
    throw new LimitError('SQS message limit (256 KB)', SQS_MESSAGE_LIMIT, bytes, 'Send a smaller "data" payload.');
  }
  // The frame adds sent_at, maybe an id, and a seq; check what clients will finally receive.
  encodeFrame(widestFrame(buildFrame({ ...msg, id: msg.id ?? '00000000-0000-0000-0000-000000000000' })));
  return body;
}

/** The frame as large as it can get on the wire: with the longest seq and the replay mark. */
export function widestFrame(frame: Frame): Frame {
  return { ...frame, seq: Number.MAX_SAFE_INTEGER, replay: true };
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
