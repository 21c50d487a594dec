/**
 * Deliver one message to its room: the single code path behind the queue trigger and the
 * `sendMessage` route. The frame is serialised once per message, not once per connection.
 * The room's connection ids are read from the room index (a Query, never a Scan) before any
 * is posted to. A room larger than `shardSize` is split into shards: all but the first are
 * put back on the queue, so several send-message invocations deliver them in parallel, and the
 * invocation that split the room delivers the first shard itself instead of waiting on the
 * queue. A shard message carries its ids and reads nothing.
 *
 * Under all of that is a deadline (`stopAt`, from the invocation's remaining time): when it
 * comes before every connection was posted to, the connections not reached go back on the
 * queue as shards of the same frame and the record counts as done. An invocation that ran out
 * of time would otherwise be retried whole, so the room would get the frame twice and, after
 * the queue's receive limit, the message would go to the dead-letter queue for being large.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { buildFrame, encodeFrame, SQS_MESSAGE_LIMIT, type QueueMessage } from './envelope.js';
import { fanOut, type FanoutDeps, type FanoutResult } from './fanout.js';
import { listRoomConnectionIds } from './connections.js';
import { publish } from './publish.js';

export interface DeliverDeps extends FanoutDeps {
  sqs?: Pick<SQSClient, 'send'>;
  queueUrl?: string;
  /** 0 disables sharding. */
  shardSize?: number;
}

export interface DeliverResult extends FanoutResult {
  frameId: string;
  /** How many shard messages were put on the queue (0 if none). */
  shards: number;
  /** Connections put back on the queue because the deadline came first (0 if none). */
  handedOver: number;
}

/**
 * How long before the end of an invocation fan-out stops starting posts: time for the posts in
 * flight to finish, the hand-over's SendMessageBatch, and the response. An invocation with
 * less than twice this left still gets half of its time, so every invocation makes progress.
 */
export const DEADLINE_MARGIN_MS = 5000;

/** The `stopAt` for an invocation with `remainingMs` left (the Lambda context's getRemainingTimeInMillis()). */
export function stopTimeFor(remainingMs: number, now = Date.now()): number {
  return now + remainingMs - Math.min(DEADLINE_MARGIN_MS, remainingMs / 2);
}

export async function deliverMessage(deps: DeliverDeps, msg: QueueMessage, frameId: string): Promise<DeliverResult> {
  const frame = buildFrame({ ...msg, id: frameId });
  const payload = encodeFrame(frame);
  if (msg.shard) {
    const r = await fanOut(deps, { connectionIds: msg.shard.connection_ids, payload });
    return r.unreached.length ? handOver(deps, msg, frameId, r, 0) : { ...r, frameId, shards: 0, handedOver: 0 };
  }
  const ids = await listRoomConnectionIds(deps, msg.room_id);
  const shardSize = deps.shardSize ?? 0;
  if (shardSize > 0 && ids.length > shardSize && deps.sqs && deps.queueUrl) {
    const [first, ...rest] = splitShards(msg, frameId, ids, shardSize);
    // Enqueue first, so the other invocations start while this one delivers its shard.
    await enqueue(deps, rest, msg.room_id);
    const r = await fanOut(deps, { connectionIds: first.shard!.connection_ids, payload });
    if (r.unreached.length) return handOver(deps, msg, frameId, r, rest.length);
    if (r.failed === 0) return { ...r, frameId, shards: rest.length, handedOver: 0 };
    // Retry exactly the connections that failed, as a shard of their own: failing this
    // record would make the queue deliver the whole room again, shards and all.
    const retry: QueueMessage = { ...first, shard: { ...first.shard!, connection_ids: r.failures.map((f) => f.connectionId) } };
    await enqueue(deps, [retry], msg.room_id);
    return { delivered: r.delivered, pruned: r.pruned, failed: 0, failures: [], unreached: [], frameId, shards: rest.length + 1, handedOver: 0 };
  }
  const r = await fanOut(deps, { connectionIds: ids, payload });
  return r.unreached.length ? handOver(deps, msg, frameId, r, 0) : { ...r, frameId, shards: 0, handedOver: 0 };
}

/**
 * The deadline came first: the connections not reached, and those that failed, go back on the
 * queue as shards of this frame (at most `shardSize` each, or as large as one SQS message
 * takes), and the record is done. Connections that got the frame do not get it again.
 */
async function handOver(deps: DeliverDeps, msg: QueueMessage, frameId: string, r: FanoutResult, shardsSoFar: number): Promise<DeliverResult> {
  if (!deps.sqs || !deps.queueUrl) throw new Error('Fan-out stopped at its deadline but there is no queue to hand the rest over to.');
  const ids = [...r.unreached, ...r.failures.map((f) => f.connectionId)];
  const shards = splitShards(msg, frameId, ids, deps.shardSize || ids.length);
  await enqueue(deps, shards, msg.room_id);
  deps.logger?.warn('fan-out: deadline reached, connections handed over to the queue', { room: msg.room_id, frameId, handedOver: ids.length, shards: shards.length });
  return { delivered: r.delivered, pruned: r.pruned, failed: 0, failures: [], unreached: [], frameId, shards: shardsSoFar + shards.length, handedOver: ids.length };
}

async function enqueue(deps: DeliverDeps, shards: QueueMessage[], roomId: string): Promise<void> {
  if (!shards.length) return;
  const res = await publish({ sqs: deps.sqs!, queueUrl: deps.queueUrl! }, shards);
  if (res.failed.length) {
    throw new Error(`Could not enqueue ${res.failed.length} of ${shards.length} shards of room ${roomId}: ${res.failed[0].message}`);
  }
}

/** Shards of at most `size` ids, each small enough for one SQS message. */
export function splitShards(msg: QueueMessage, frameId: string, ids: string[], size: number): QueueMessage[] {
  const base = Buffer.byteLength(JSON.stringify({ ...msg, id: frameId, shard: { connection_ids: [], index: 0, of: 0 } }));
  const perId = 24; // a 16-char id, its quotes and comma, with room to spare
  const fit = Math.max(1, Math.floor((SQS_MESSAGE_LIMIT - base - 64) / perId));
  const step = Math.min(size, fit);
  const out: QueueMessage[] = [];
  for (let i = 0; i < ids.length; i += step) out.push({ ...msg, id: frameId, shard: { connection_ids: ids.slice(i, i + step), index: 0, of: 0 } });
  out.forEach((m, i) => (m.shard = { ...m.shard!, index: i, of: out.length }));
  return out;
}
