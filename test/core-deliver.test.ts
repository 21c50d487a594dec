/**
 * Large rooms (src/core/deliver.ts), the path the fan-out bench measures on a room of 5,000:
 * split into shards, the rest re-enqueued, the first delivered in place, a failure in it
 * retried as a shard of exactly the failed connections. The queue and @connections are fakes
 * at the SDK boundary; the connections table is a real local DynamoDB.
 */
import { describe, it, expect } from 'vitest';
import { useLocalDynamo } from './helpers/dynamo.js';
import { ForbiddenException, type PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { resourceNames } from '../src/stack/names.js';
import { connectionRow, putConnection } from '../src/core/connections.js';
import { deliverMessage, splitShards } from '../src/core/deliver.js';
import { parseQueueMessage, type QueueMessage } from '../src/core/envelope.js';

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
