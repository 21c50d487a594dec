/**
 * Deliver one message to its room, or to one user: the single code path behind the queue
 * trigger and the `sendMessage` route. The frame is serialised once per message, not once per
 * connection. When the stage keeps history, the frame is first numbered in its stream and kept
 * (./sequencer.ts); a redelivered message gets the number and frame it had. The connection ids
 * are read from the room index, or the user index for a message to one user (a Query, never a
 * Scan), before any is posted to. A room larger than `shardSize` is split into shards: all but the first are
 * put back on the queue, so several send-message invocations deliver them in parallel, and the
 * invocation that split the room delivers the first shard itself instead of waiting on the
 * queue. A shard message carries its ids and reads nothing.
 *
 * Under all of that is a deadline (`stopAt`, from the invocation's remaining time, ./deadline.ts): when it
 * comes before every connection was posted to, the connections not reached go back on the
 * queue as shards of the same frame and the record counts as done. An invocation that ran out
 * of time would otherwise be retried whole, so the room would get the frame twice and, after
 * the queue's receive limit, the message would go to the dead-letter queue for being large.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Frame } from '../../client/protocol.js';
import { buildFrame, encodeFrame, messageStream, SQS_MESSAGE_LIMIT, widestFrame, type QueueMessage, type Shard } from './envelope.js';
import { fanOut, type FanoutDeps, type FanoutResult } from './fanout.js';
import { listRoomConnectionIds, listUserConnectionIds } from './connections.js';
import { publish } from './publish.js';
import { streamKey, type StreamRef } from './history.js';
import type { Sequencer } from './sequencer.js';

export interface DeliverDeps extends FanoutDeps {
  sqs?: Pick<SQSClient, 'send'>;
  queueUrl?: string;
  /** 0 disables sharding. */
  shardSize?: number;
  /** Numbers and keeps each message in its stream; absent when the stage keeps no history. */
  sequencer?: Sequencer;
}

export interface DeliverResult extends FanoutResult {
  frameId: string;
  /** The frame's number in its stream, when the stage keeps history. */
  seq?: number;
  /** False when the message already had its number: a redelivery. */
  fresh: boolean;
  /** How many shard messages were put on the queue (0 if none). */
  shards: number;
  /** Connections put back on the queue as shards: the deadline came first, or (in a room split into shards) their post failed. */
  handedOver: number;
}

export async function deliverMessage(deps: DeliverDeps, msg: QueueMessage, frameId: string): Promise<DeliverResult> {
  const stream = messageStream(msg);
  if (msg.shard) {
    const frame = shardFrame(msg, msg.shard, frameId);
    const r = await fanOut(deps, { connectionIds: msg.shard.connection_ids, payload: encodeFrame(frame) });
    const done = { frameId, seq: frame.seq, fresh: true };
    return r.unreached.length ? handOver(deps, msg, frame, r, 0, done) : { ...r, ...done, shards: 0, handedOver: 0 };
  }
  const { frame, payload, fresh } = await prepare(deps, stream, buildFrame({ ...msg, id: frameId }));
  const done = { frameId, seq: frame.seq, fresh };
  const ids = stream.kind === 'user' ? await listUserConnectionIds(deps, stream.id) : await listRoomConnectionIds(deps, stream.id);
  const shardSize = deps.shardSize ?? 0;
  if (shardSize > 0 && ids.length > shardSize && deps.sqs && deps.queueUrl) {
    const [first, ...rest] = splitShards(msg, frameId, ids, shardSize, frame);
    // Enqueue first, so the other invocations start while this one delivers its shard.
    await enqueue(deps, rest, stream);
    const r = await fanOut(deps, { connectionIds: first.shard!.connection_ids, payload });
    // The connections that failed go back as well, exactly those: failing this record would
    // make the queue deliver the whole room again, shards and all.
    if (r.unreached.length || r.failed) return handOver(deps, msg, frame, r, rest.length, done);
    return { ...r, ...done, shards: rest.length, handedOver: 0 };
  }
  const r = await fanOut(deps, { connectionIds: ids, payload });
  return r.unreached.length ? handOver(deps, msg, frame, r, 0, done) : { ...r, ...done, shards: 0, handedOver: 0 };
}

/**
 * The frame and its bytes. With history, the size is checked before the frame is numbered (a
 * frame too large to post must not take a number), and the stored frame is what is posted.
 */
async function prepare(deps: DeliverDeps, stream: StreamRef, frame: Frame): Promise<{ frame: Frame; payload: Uint8Array; fresh: boolean }> {
  if (!deps.sequencer) return { frame, payload: encodeFrame(frame), fresh: true };
  encodeFrame(widestFrame(frame));
  const s = await deps.sequencer.assign(stream, frame);
  return { frame: s.frame, payload: Buffer.from(s.payload, 'utf8'), fresh: s.fresh };
}

/** A shard posts the frame the first shard posted: same sent_at, same seq. */
function shardFrame(msg: QueueMessage, shard: Shard, frameId: string): Frame {
  const frame = buildFrame({ ...msg, id: frameId });
  if (shard.sent_at !== undefined) frame.sent_at = shard.sent_at;
  return shard.seq !== undefined ? { ...frame, seq: shard.seq } : frame;
}

/**
 * The connections this invocation did not get the frame to (not reached before the deadline,
 * and those that failed) go back on the queue as shards of this frame (at most `shardSize`
 * each, or as large as one SQS message takes), and the record is done. Connections that got
 * the frame do not get it again.
 */
async function handOver(
  deps: DeliverDeps,
  msg: QueueMessage,
  frame: Frame,
  r: FanoutResult,
  shardsSoFar: number,
  done: Pick<DeliverResult, 'frameId' | 'seq' | 'fresh'>,
): Promise<DeliverResult> {
  if (!deps.sqs || !deps.queueUrl) throw new Error('Fan-out stopped at its deadline but there is no queue to hand the rest over to.');
  const ids = [...r.unreached, ...r.failures.map((f) => f.connectionId)];
  const stream = messageStream(msg);
  // The shards carry the frame's seq and sent_at, so what they post is what was posted so far.
  const shards = splitShards({ ...msg, shard: undefined }, frame.id, ids, deps.shardSize || ids.length, frame);
  await enqueue(deps, shards, stream);
  deps.logger?.warn(`fan-out: ${r.unreached.length ? 'deadline reached' : 'posts failed'}, connections handed over to the queue`, {
    stream: streamKey(stream), frameId: frame.id, handedOver: ids.length, unreached: r.unreached.length, failed: r.failures.length, shards: shards.length,
  });
  return { delivered: r.delivered, pruned: r.pruned, failed: 0, failures: [], unreached: [], ...done, shards: shardsSoFar + shards.length, handedOver: ids.length };
}

async function enqueue(deps: DeliverDeps, shards: QueueMessage[], stream: StreamRef): Promise<void> {
  if (!shards.length) return;
  const res = await publish({ sqs: deps.sqs!, queueUrl: deps.queueUrl! }, shards);
  if (res.failed.length) {
    throw new Error(`Could not enqueue ${res.failed.length} of ${shards.length} shards of ${streamKey(stream)}: ${res.failed[0].message}`);
  }
}

/** Shards of at most `size` ids, each small enough for one SQS message, carrying the frame's seq and sent_at. */
export function splitShards(msg: QueueMessage, frameId: string, ids: string[], size: number, frame?: Pick<Frame, 'seq' | 'sent_at'>): QueueMessage[] {
  const same: Pick<Shard, 'seq' | 'sent_at'> = frame ? { sent_at: frame.sent_at, ...(frame.seq !== undefined ? { seq: frame.seq } : {}) } : {};
  const base = Buffer.byteLength(JSON.stringify({ ...msg, id: frameId, shard: { connection_ids: [], index: 0, of: 0, ...same } }));
  const perId = 24; // a 16-char id, its quotes and comma, with room to spare
  const fit = Math.max(1, Math.floor((SQS_MESSAGE_LIMIT - base - 64) / perId));
  const step = Math.min(size, fit);
  const out: QueueMessage[] = [];
  for (let i = 0; i < ids.length; i += step) out.push({ ...msg, id: frameId, shard: { connection_ids: ids.slice(i, i + step), index: 0, of: 0, ...same } });
  out.forEach((m, i) => (m.shard = { ...m.shard!, index: i, of: out.length }));
  return out;
}
