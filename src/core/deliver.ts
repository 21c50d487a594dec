/**
 * Deliver one message to its room: the single code path behind the queue trigger and the
 * `sendMessage` route. The frame is serialised once per message, not once per connection.
 * The room's connection ids are read from the room index (a Query, never a Scan) before any
 * is posted to. A room larger than `shardSize` is split into shards: all but the first are
 * put back on the queue, so several send-message invocations deliver them in parallel, and the
 * invocation that split the room delivers the first shard itself instead of waiting on the
 * queue. A shard message carries its ids and reads nothing.
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
}

export async function deliverMessage(deps: DeliverDeps, msg: QueueMessage, frameId: string): Promise<DeliverResult> {
  const frame = buildFrame({ ...msg, id: frameId });
  const payload = encodeFrame(frame);
  if (msg.shard) {
    const r = await fanOut(deps, { connectionIds: msg.shard.connection_ids, payload });
    return { ...r, frameId, shards: 0 };
  }
  const ids = await listRoomConnectionIds(deps, msg.room_id);
  const shardSize = deps.shardSize ?? 0;
  if (shardSize > 0 && ids.length > shardSize && deps.sqs && deps.queueUrl) {
    const [first, ...rest] = splitShards(msg, frameId, ids, shardSize);
    // Enqueue first, so the other invocations start while this one delivers its shard.
    await enqueue(deps, rest, msg.room_id);
    const r = await fanOut(deps, { connectionIds: first.shard!.connection_ids, payload });
    if (r.failed === 0) return { ...r, frameId, shards: rest.length };
    // Retry exactly the connections that failed, as a shard of their own: failing this
    // record would make the queue deliver the whole room again, shards and all.
    const retry: QueueMessage = { ...first, shard: { ...first.shard!, connection_ids: r.failures.map((f) => f.connectionId) } };
    await enqueue(deps, [retry], msg.room_id);
    return { delivered: r.delivered, pruned: r.pruned, failed: 0, failures: [], frameId, shards: rest.length + 1 };
  }
  const r = await fanOut(deps, { connectionIds: ids, payload });
  return { ...r, frameId, shards: 0 };
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
