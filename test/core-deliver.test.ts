/**
 * Large rooms (src/core/deliver.ts), the path the fan-out bench measures on a room of 5,000:
 * split into shards, the rest re-enqueued, the first delivered in place, a failure in it
 * retried as a shard of exactly the failed connections; and the deadline: connections not
 * reached before it are handed over to the queue, each exactly once. The queue and @connections are fakes
 * at the SDK boundary; the connections table is a real local DynamoDB.
 */
import { describe, it, expect } from 'vitest';
import { useLocalDynamo } from './helpers/dynamo.js';
import { ForbiddenException, type PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { resourceNames } from '../src/stack/names.js';
import { connectionRow, putConnection } from '../src/core/connections.js';
import { deliverMessage, splitShards } from '../src/core/deliver.js';
import { stopTimeFor, DEADLINE_MARGIN_MS } from '../src/core/deadline.js';
import { createHandler } from '../lambdas/send-message.js';
import type { Context, SQSEvent } from 'aws-lambda';
import { parseQueueMessage, type QueueMessage } from '../src/core/envelope.js';
import { createSequencer } from '../src/core/sequencer.js';

const names = resourceNames('shards');
const db = useLocalDynamo(names);


async function seed(room: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${room}-c${i}`);
  for (const id of ids) await putConnection({ ddb: db.ddb, table: names.connectionsTable }, connectionRow({ connectionId: id, roomId: room, userId: 'u', connectedAt: Date.now() }));
  return ids;
}

function fakes(fail: (id: string) => boolean = () => false) {
  const posted: string[] = [];
  const refused: string[] = [];
  const enqueued: QueueMessage[] = [];
  const management = {
    send: async (cmd: PostToConnectionCommand) => {
      const id = cmd.input.ConnectionId!;
      if (fail(id)) {
        refused.push(id);
        throw new ForbiddenException({ message: 'Forbidden', $metadata: { httpStatusCode: 403 } });
      }
      posted.push(id);
      return { $metadata: {} };
    },
  };
  const sqs = {
    // publish() sends one message with SendMessage and several with SendMessageBatch.
    send: async (cmd: SendMessageBatchCommand | SendMessageCommand) => {
      if ('MessageBody' in cmd.input) {
        enqueued.push(parseQueueMessage(cmd.input.MessageBody!));
        return { MessageId: 'm-single' };
      }
      const entries = cmd.input.Entries ?? [];
      for (const e of entries) enqueued.push(parseQueueMessage(e.MessageBody!));
      return { Successful: entries.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}` })), Failed: [] };
    },
  };
  return { posted, refused, enqueued, management, sqs: sqs as unknown as SQSClient };
}

const deps = (f: ReturnType<typeof fakes>, shardSize: number) => ({
  ddb: db.ddb,
  table: names.connectionsTable,
  management: f.management as never,
  sqs: f.sqs,
  queueUrl: 'http://queue',
  shardSize,
  concurrency: 4,
});

describe('large rooms', () => {
  it('enqueues all shards but the first and delivers the first in place; every connection exactly once', async () => {
    // Prepare
    const ids = await seed('big', 7);
    const f = fakes();
    // Act
    const res = await deliverMessage(deps(f, 3), { room_id: 'big', data: 'hi' }, 'frame-1');
    // Assess: shards of 3, 3, 1; the first three posted here, two shards on the queue.
    expect(res).toMatchObject({ delivered: 3, failed: 0, shards: 2, frameId: 'frame-1' });
    expect(f.enqueued.map((m) => m.shard)).toEqual([
      { connection_ids: expect.any(Array), index: 1, of: 3, sent_at: expect.any(String) },
      { connection_ids: expect.any(Array), index: 2, of: 3, sent_at: expect.any(String) },
    ]);
    // Every shard posts the frame the first one did: the same sent_at.
    expect(new Set(f.enqueued.map((m) => m.shard!.sent_at)).size).toBe(1);
    expect(f.enqueued.every((m) => m.id === 'frame-1' && m.room_id === 'big')).toBe(true);
    const everyone = [...f.posted, ...f.enqueued.flatMap((m) => m.shard!.connection_ids)].sort();
    expect(everyone).toEqual([...ids].sort());
  });

  it('delivers a shard message to exactly its connections, with the original frame id', async () => {
    await seed('big2', 4);
    const f = fakes();
    const [, second] = splitShards({ room_id: 'big2', data: 1 }, 'frame-2', ['big2-c2', 'big2-c3'], 1);
    const res = await deliverMessage(deps(f, 1), second, 'sqs-message-id');
    expect(res).toMatchObject({ delivered: 1, shards: 0, frameId: 'sqs-message-id' });
    expect(f.posted).toEqual(['big2-c3']);
    expect(f.enqueued).toEqual([]);
  });

  it('retries only the failed connections of the first shard, as a shard of their own', async () => {
    const ids = await seed('big3', 5);
    let calls = 0;
    const f = fakes(() => calls++ === 1); // the second post of the first shard is refused
    const res = await deliverMessage(deps(f, 3), { room_id: 'big3', data: 'x' }, 'frame-3');
    expect(res).toMatchObject({ delivered: 2, failed: 0, shards: 2 }); // the second shard, and the retry
    expect(f.refused).toHaveLength(1);
    const retry = f.enqueued.at(-1)!;
    expect(retry.shard?.connection_ids).toEqual(f.refused);
    expect(retry.id).toBe('frame-3');
    const everyone = [...f.posted, ...f.enqueued.flatMap((m) => m.shard!.connection_ids)].sort();
    expect(everyone).toEqual([...ids].sort());
  });

  it('delivers a room at or under the shard size directly, with nothing enqueued', async () => {
    await seed('small', 3);
    const f = fakes();
    const res = await deliverMessage(deps(f, 3), { room_id: 'small', data: 'x' }, 'frame-4');
    expect(res).toMatchObject({ delivered: 3, shards: 0 });
    expect(f.enqueued).toEqual([]);
  });
});

describe('the deadline', () => {
  /** A clock that reads the number of posts started: the deadline comes after `n` posts. */
  const afterPosts = (f: ReturnType<typeof fakes>, n: number) => ({ now: () => f.posted.length + f.refused.length, stopAt: n });
  const everyoneOnce = (f: ReturnType<typeof fakes>) => [...f.posted, ...f.enqueued.flatMap((m) => m.shard!.connection_ids)].sort();

  it('hands exactly the connections not reached back to the queue, shards off', async () => {
    const ids = await seed('late', 10);
    const f = fakes();
    const res = await deliverMessage({ ...deps(f, 0), concurrency: 2, ...afterPosts(f, 4) }, { room_id: 'late', data: 'x' }, 'frame-5');
    expect(f.posted).toEqual(ids.slice(0, 4));
    expect(res).toMatchObject({ delivered: 4, failed: 0, handedOver: 6, shards: 1, unreached: [] });
    expect(f.enqueued).toHaveLength(1);
    expect(f.enqueued[0]).toMatchObject({ id: 'frame-5', room_id: 'late', shard: { connection_ids: ids.slice(4), index: 0, of: 1 } });
    expect(everyoneOnce(f)).toEqual([...ids].sort()); // no one twice, no one left out
  });

  it('with history, the handed-over shards carry the frame’s seq and sent_at, so they post the same frame', async () => {
    const ids = await seed('late-seq', 6);
    const f = fakes();
    const sequencer = createSequencer({ ddb: db.ddb, table: names.historyTable, retentionSeconds: 3600, maxPerStream: 0 });
    const res = await deliverMessage({ ...deps(f, 0), concurrency: 1, sequencer, ...afterPosts(f, 2) }, { room_id: 'late-seq', data: 'x' }, 'frame-seq');
    expect(res).toMatchObject({ seq: 1, fresh: true, delivered: 2, handedOver: 4 });
    expect(f.enqueued).toEqual([expect.objectContaining({ id: 'frame-seq', shard: expect.objectContaining({ connection_ids: ids.slice(2), seq: 1, sent_at: expect.any(String) }) })]);
  });

  it('hands over what a shard message did not reach, with the failed connections, in shards of the shard size', async () => {
    const ids = await seed('late2', 8);
    let calls = 0;
    const f = fakes(() => calls++ === 0); // the first post is refused
    const [shard] = splitShards({ room_id: 'late2', data: 1 }, 'frame-6', ids, 8);
    const res = await deliverMessage({ ...deps(f, 3), ...afterPosts(f, 3) }, shard, 'frame-6');
    expect(res).toMatchObject({ delivered: 2, failed: 0, handedOver: 6, shards: 2 });
    expect(f.enqueued.map((m) => m.shard!.connection_ids.length)).toEqual([3, 3]);
    expect(f.enqueued.flatMap((m) => m.shard!.connection_ids).sort()).toEqual([...ids.slice(3), f.refused[0]].sort());
    expect(everyoneOnce(f)).toEqual([...ids].sort());
  });

  it('in a sharded room, hands over what the first shard did not reach, after enqueuing the other shards', async () => {
    const ids = await seed('late3', 7);
    const f = fakes();
    const res = await deliverMessage({ ...deps(f, 3), concurrency: 1, ...afterPosts(f, 1) }, { room_id: 'late3', data: 'x' }, 'frame-7');
    expect(res).toMatchObject({ delivered: 1, handedOver: 2, shards: 3 });
    expect(everyoneOnce(f)).toEqual([...ids].sort());
  });

  it('leaves a margin before the end of the invocation, and half the time of a short one', () => {
    expect(stopTimeFor(30_000, 1000)).toBe(1000 + 30_000 - DEADLINE_MARGIN_MS);
    expect(stopTimeFor(2000, 1000)).toBe(2000);
  });

  it('send-message reads the deadline from the Lambda context: the record is done, the rest is on the queue', async () => {
    const ids = await seed('late4', 20);
    const f = fakes();
    // Each post takes 25 ms, one at a time: 500 ms for the room, against a context with 400 ms
    // left (stop after 200 ms). However slow the machine, every connection is posted to or
    // handed over exactly once, and the record is not failed.
    const slow = { send: async (cmd: PostToConnectionCommand) => (await new Promise((r) => setTimeout(r, 25)), f.management.send(cmd)) };
    const handler = createHandler(
      { AWS_REGION: 'us-east-1', HERMES_STAGE: 'shards', HERMES_QUEUE_URL: 'http://queue', HERMES_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:1/shards', HERMES_FANOUT_CONCURRENCY: '1', HERMES_SHARD_SIZE: '0' },
      { ddb: db.ddb, sqs: f.sqs, management: () => slow as never, logger: { info: () => {}, warn: () => {}, error: () => {} } },
    );
    const event = { Records: [{ messageId: 'm-1', body: JSON.stringify({ room_id: 'late4', data: 'x', id: 'frame-8' }), attributes: {}, messageAttributes: {} }] } as unknown as SQSEvent;
    const context = { awsRequestId: 'r-1', getRemainingTimeInMillis: () => 400 } as unknown as Context;
    const res = await handler(event, context);
    expect(res).toEqual({ batchItemFailures: [] });
    expect(f.posted.length).toBeLessThan(ids.length);
    expect(f.enqueued.every((m) => m.id === 'frame-8')).toBe(true);
    expect(everyoneOnce(f)).toEqual([...ids].sort());
  });
});
