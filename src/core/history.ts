/**
 * The history table: every message accepted for a stream (a room, or one user) is kept at its
 * sequence number, with a TTL, and a stream's high-water mark never expires. This module holds
 * the table's reads and writes; the assignment of numbers is ./sequencer.ts, the replay of a
 * stream after a number is ./replay.ts. How and why: docs/architecture.md, "History and
 * sequence numbers".
 *
 *   {stream_id: "room:demo", seq: 42, frame_id: "job-42", frame: "<the frame's JSON>", sent_ms, expires_at}
 *   {stream_id: "room:demo", seq: 9007199254740991, last: 42}   the high-water mark (HEAD_SEQ), no TTL
 */
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { FRAME_INDEX } from '../stack/names.js';
import { TTL_ATTRIBUTE } from '../stack/tables.js';
import { batchWriteAll } from './batch-write.js';

/** A room's stream, or the stream of messages to one user (in whatever room they are). */
export type StreamKind = 'room' | 'user';
export interface StreamRef {
  kind: StreamKind;
  id: string;
}

/** The partition key of a stream: `room:<room id>` or `user:<user id>`. */
export const streamKey = (s: StreamRef): string => `${s.kind}:${s.id}`;

/**
 * Where a stream's high-water mark lives: above every message (numbered from 1), so that one
 * Query, newest first, reads the mark and the newest message together.
 */
export const HEAD_SEQ = Number.MAX_SAFE_INTEGER;

export interface HistoryDeps {
  ddb: DynamoDBDocumentClient;
  table: string;
  /** How long a message is kept (its TTL). */
  retentionSeconds: number;
  /** Messages kept per stream; older ones are trimmed, and never replayed. 0 = no cap. */
  maxPerStream: number;
  /** Epoch ms; tests move time. */
  now?: () => number;
}

/** A message as the table keeps it: the frame's exact JSON, as it was posted. */
export interface StoredMessage {
  seq: number;
  frameId: string;
  /** The frame's JSON text, `seq` included: what every connection got. */
  payload: string;
  sentMs: number;
  expiresAt: number;
}

const nowMs = (deps: HistoryDeps) => (deps.now ?? Date.now)();

/** Its TTL has passed (DynamoDB deletes expired items days late, so every reader checks). */
const expired = (deps: HistoryDeps, expiresAt: number) => expiresAt * 1000 <= nowMs(deps);

function toStored(item: Record<string, unknown>): StoredMessage {
  return {
    seq: item.seq as number,
    frameId: item.frame_id as string,
    payload: item.frame as string,
    sentMs: item.sent_ms as number,
    expiresAt: item[TTL_ATTRIBUTE] as number,
  };
}

/**
 * The highest number the stream has given: the larger of its high-water mark and its newest
 * item, both read consistently, in one request. The newest item covers a writer that stopped between its put
 * and raising the mark; the mark covers items TTL or the cap have deleted.
 */
export async function readHead(deps: HistoryDeps, stream: StreamRef): Promise<number> {
  const res = await deps.ddb.send(
    new QueryCommand({
      TableName: deps.table,
      KeyConditionExpression: 'stream_id = :s',
      ExpressionAttributeValues: { ':s': streamKey(stream) },
      ExpressionAttributeNames: { '#last': 'last' },
      ProjectionExpression: 'seq, #last',
      ScanIndexForward: false,
      Limit: 2,
      ConsistentRead: true,
    }),
  );
  let head = 0;
  for (const item of res.Items ?? []) head = Math.max(head, item.seq === HEAD_SEQ ? ((item.last as number | undefined) ?? 0) : (item.seq as number));
  return head;
}

/** A consistent Query of a stream's messages numbered `from`..`to` (the mark, at the top, is never in range). */
function rangeQuery(deps: HistoryDeps, stream: StreamRef, from: number, to: number, extra: Partial<QueryCommandInput> = {}): QueryCommand {
  return new QueryCommand({
    TableName: deps.table,
    KeyConditionExpression: 'stream_id = :s AND seq BETWEEN :from AND :to',
    ExpressionAttributeValues: { ':s': streamKey(stream), ':from': from, ':to': to },
    ConsistentRead: true,
    ...extra,
  });
}

/** The number a frame id already has in the stream, read consistently from the frame index. */
export async function findFrameSeq(deps: HistoryDeps, stream: StreamRef, frameId: string): Promise<number | undefined> {
  const res = await deps.ddb.send(
    new QueryCommand({
      TableName: deps.table,
      IndexName: FRAME_INDEX,
      KeyConditionExpression: 'stream_id = :s AND frame_id = :f',
      ExpressionAttributeValues: { ':s': streamKey(stream), ':f': frameId },
      ProjectionExpression: 'seq',
      ConsistentRead: true,
    }),
  );
  // More than one only if a duplicate arrived after the first copy expired (docs: idempotency window).
  const seqs = (res.Items ?? []).map((i) => i.seq as number);
  return seqs.length ? Math.min(...seqs) : undefined;
}

export async function getMessage(deps: HistoryDeps, stream: StreamRef, seq: number): Promise<StoredMessage | undefined> {
  const res = await deps.ddb.send(new GetCommand({ TableName: deps.table, Key: { stream_id: streamKey(stream), seq }, ConsistentRead: true }));
  return res.Item ? toStored(res.Item) : undefined;
}

/**
 * Put a message at `seq` if nobody has: the put is both the allocation of the number and the
 * record, so there is no moment where a number is taken without its message. False when the
 * number is taken.
 */
export async function putMessage(deps: HistoryDeps, stream: StreamRef, m: Omit<StoredMessage, 'expiresAt'>): Promise<StoredMessage | undefined> {
  const expiresAt = Math.floor(nowMs(deps) / 1000) + deps.retentionSeconds;
  try {
    await deps.ddb.send(
      new PutCommand({
        TableName: deps.table,
        Item: { stream_id: streamKey(stream), seq: m.seq, frame_id: m.frameId, frame: m.payload, sent_ms: m.sentMs, [TTL_ATTRIBUTE]: expiresAt },
        ConditionExpression: 'attribute_not_exists(seq)',
      }),
    );
    return { ...m, expiresAt };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return undefined;
    throw err;
  }
}

/** Raise the high-water mark to `seq`, never lower it. */
export async function raiseHead(deps: HistoryDeps, stream: StreamRef, seq: number): Promise<void> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: { stream_id: streamKey(stream), seq: HEAD_SEQ },
        UpdateExpression: 'SET #last = :n',
        ConditionExpression: 'attribute_not_exists(#last) OR #last < :n',
        ExpressionAttributeNames: { '#last': 'last' },
        ExpressionAttributeValues: { ':n': seq },
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err; // already at or past it
  }
}

/** Trimming deletes this many messages at a time, when a stream's head reaches a multiple of it past the cap. */
export const TRIM_BATCH = 25;

/**
 * The numbers to delete now that `seq` was given: every TRIM_BATCH-th number past the cap
 * trims the TRIM_BATCH oldest that the cap no longer keeps. Each number is given once, so each
 * batch is trimmed by one writer; if it fails, TTL deletes those items later and readers
 * already skip them.
 */
export function trimRange(maxPerStream: number, seq: number): { from: number; to: number } | undefined {
  if (maxPerStream <= 0 || seq <= maxPerStream || (seq - maxPerStream) % TRIM_BATCH !== 0) return undefined;
  const to = seq - maxPerStream;
  return { from: Math.max(1, to - TRIM_BATCH + 1), to };
}

/** Few attempts: the sequencer waits for the trim before it answers, and TTL deletes what is left. */
export async function trim(deps: HistoryDeps, stream: StreamRef, range: { from: number; to: number }): Promise<void> {
  const key = streamKey(stream);
  const requests = Array.from({ length: range.to - range.from + 1 }, (_, i) => ({ DeleteRequest: { Key: { stream_id: key, seq: range.from + i } } }));
  await batchWriteAll(deps.ddb, deps.table, requests, { maxAttempts: 3 });
}

/** The oldest number a reader may still return, given the head: the cap hides older ones before they are trimmed. */
export const oldestKept = (deps: HistoryDeps, head: number): number => (deps.maxPerStream > 0 ? Math.max(1, head - deps.maxPerStream + 1) : 1);

export interface HistoryPage {
  /** The stream's head when read: every number up to it is either here, lost, or past `through`. */
  head: number;
  /** Messages after `since`, oldest first, at most `limit`, none expired or past the cap. */
  messages: StoredMessage[];
  /** Numbers in (since, through] that are gone: expired or beyond the cap. */
  lost: Array<{ from: number; to: number }>;
  /** The last number this page covers (`head`, or `until`, unless `more`). */
  through: number;
  /** True when the stream has messages after `through` up to `head` that did not fit. */
  more: boolean;
}

/**
 * A stream's messages after `since` (exclusive), up to the head as read first (or `until`). Every number up
 * to that head was written before the head was read (numbers are taken in order, each after the
 * previous one's put), so a consistent read that does not find one proves it is gone.
 */
export async function readAfter(deps: HistoryDeps, stream: StreamRef, since: number, limit: number, until?: number): Promise<HistoryPage> {
  const head = await readHead(deps, stream);
  // Only up to `until` when the reader asks for a hole, not everything after it.
  const end = until === undefined ? head : Math.min(head, until);
  const messages: StoredMessage[] = [];
  const lost: HistoryPage['lost'] = [];
  let expected = since + 1;
  const floor = oldestKept(deps, head);
  if (expected < floor && expected <= end) {
    lost.push({ from: expected, to: Math.min(floor - 1, end) });
    expected = floor;
  }
  let startKey: Record<string, unknown> | undefined;
  let through = Math.max(since, 0);
  let more = false;
  const from = expected; // the same key condition on every page, as ExclusiveStartKey requires
  while (from <= end) {
    const res = await deps.ddb.send(rangeQuery(deps, stream, from, end, { Limit: limit - messages.length + 1, ExclusiveStartKey: startKey }));
    for (const item of res.Items ?? []) {
      const m = toStored(item);
      if (expired(deps, m.expiresAt)) continue;
      if (messages.length === limit) {
        more = true;
        break;
      }
      if (m.seq > expected) lost.push({ from: expected, to: m.seq - 1 });
      messages.push(m);
      expected = m.seq + 1;
    }
    startKey = res.LastEvaluatedKey;
    if (more || !startKey) break;
  }
  if (more) {
    through = expected - 1;
  } else {
    if (expected <= end) lost.push({ from: expected, to: end });
    through = Math.max(through, end);
  }
  return { head, messages, lost, through, more };
}

/**
 * A stream's messages, newest first, for `hermes history`: at most `limit`, and only those
 * after `since` (a number) or sent at or after `sinceMs`.
 */
export async function readRecent(
  deps: HistoryDeps,
  stream: StreamRef,
  opts: { limit: number; since?: number; sinceMs?: number },
): Promise<{ head: number; messages: StoredMessage[] }> {
  const head = await readHead(deps, stream);
  const floor = Math.max(oldestKept(deps, head), (opts.since ?? 0) + 1);
  const out: StoredMessage[] = [];
  let startKey: Record<string, unknown> | undefined;
  while (floor <= head && out.length < opts.limit) {
    const res = await deps.ddb.send(
      rangeQuery(deps, stream, floor, head, { ScanIndexForward: false, Limit: Math.min(1000, opts.limit - out.length), ExclusiveStartKey: startKey }),
    );
    let older = false;
    for (const item of res.Items ?? []) {
      const m = toStored(item);
      if (expired(deps, m.expiresAt)) continue;
      if (opts.sinceMs !== undefined && m.sentMs < opts.sinceMs) {
        older = true;
        break;
      }
      out.push(m);
      if (out.length === opts.limit) break;
    }
    startKey = res.LastEvaluatedKey;
    if (older || !startKey) break;
  }
  return { head, messages: out };
}

/**
 * The `since` that replays what a stream got from `sinceMs` on: the seq before its oldest kept
 * message sent at or after then (the head when there is none). Reads keys and times only.
 */
export async function seqBefore(deps: HistoryDeps, stream: StreamRef, sinceMs: number): Promise<number> {
  const head = await readHead(deps, stream);
  const floor = oldestKept(deps, head);
  let since = head;
  let startKey: Record<string, unknown> | undefined;
  do {
    const res = await deps.ddb.send(
      rangeQuery(deps, stream, floor, Math.max(floor, head), {
        ProjectionExpression: 'seq, sent_ms, #ttl',
        ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
        ScanIndexForward: false,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of res.Items ?? []) {
      if (expired(deps, item[TTL_ATTRIBUTE] as number)) continue;
      if ((item.sent_ms as number) < sinceMs) return since;
      since = (item.seq as number) - 1;
    }
    startKey = res.LastEvaluatedKey;
  } while (startKey);
  return since;
}

/** The frame of a stored message, as a resume sends it again: the same JSON with `"replay": true`. */
export function replayPayload(payload: string): string {
  return `${payload.slice(0, payload.lastIndexOf('}'))},"replay":true}`;
}
