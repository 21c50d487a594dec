/**
 * Fan-out and the send-message handler with the management API mocked at the SDK boundary
 * (aws-sdk-client-mock) and a real local DynamoDB for the connections table.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { useLocalDynamo } from './helpers/dynamo.js';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ApiGatewayManagementApiClient, PostToConnectionCommand, GoneException, LimitExceededException, ForbiddenException,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { resourceNames } from '../src/stack/names.js';
import { connectionRow, putConnection, getConnection, listRoomConnectionIds } from '../src/core/connections.js';
import { fanOut } from '../src/core/fanout.js';
import { createHandler } from '../lambdas/send-message.js';

const names = resourceNames('fanout');
const db = useLocalDynamo(names);
const management = mockClient(ApiGatewayManagementApiClient);
const client = new ApiGatewayManagementApiClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1/x', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

function sqsRecord(body: unknown, messageId: string): SQSRecord {
  return {
    messageId, receiptHandle: `rh-${messageId}`, body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1', SenderId: 'x', ApproximateFirstReceiveTimestamp: '1' },
    messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q', awsRegion: 'us-east-1',
  };
}

/** Rows connected five minutes ago by default: past the connect grace, so a 410 prunes them. */
async function seed(room: string, ids: string[], connectedAt?: number) {
  for (const id of ids) await putConnection({ ddb: db.ddb, table: names.connectionsTable }, connectionRow({ connectionId: id, roomId: room, userId: `u-${id}`, connectedAt: connectedAt ?? Date.now() - 5 * 60_000 }));
}

/** A room's connection ids, as deliverMessage reads them before fanning out. */
const room = async (roomId: string) => listRoomConnectionIds({ ddb: db.ddb, table: names.connectionsTable }, roomId);

beforeEach(() => management.reset());

describe('fanOut', () => {
  it('delivers the same bytes to every connection, prunes 410s by type, retries 429s, reports other failures', async () => {
    await seed('r-mixed', ['ok1', 'ok2', 'gone1', 'busy1', 'denied1']);
    let busyCalls = 0;
    management.on(PostToConnectionCommand).callsFake((input) => {
      if (input.ConnectionId === 'gone1') throw new GoneException({ message: '', $metadata: {} });
      if (input.ConnectionId === 'busy1' && busyCalls++ < 2) throw new LimitExceededException({ message: 'slow down', $metadata: {} });
      if (input.ConnectionId === 'denied1') throw new ForbiddenException({ message: 'Forbidden', $metadata: {} });
      return {};
    });
    const payload = Buffer.from('{"x":1}');
    const res = await fanOut({ ddb: db.ddb, table: names.connectionsTable, management: client, concurrency: 3, sleep: async () => {} }, { connectionIds: await room('r-mixed'), payload });
    expect(res).toMatchObject({ delivered: 3, pruned: 1, failed: 1 });
    expect(res.failures[0].connectionId).toBe('denied1');
    expect(await getConnection({ ddb: db.ddb, table: names.connectionsTable }, 'gone1')).toBeUndefined();
    expect(await getConnection({ ddb: db.ddb, table: names.connectionsTable }, 'denied1')).toBeDefined();
    for (const call of management.commandCalls(PostToConnectionCommand)) expect(call.args[0].input.Data).toBe(payload);
  });

  it('keeps a row that answers 410 within the connect grace: its $connect may still be running', async () => {
    await seed('r-young', ['young1'], Date.now());
    await seed('r-young', ['old1']);
    management.on(PostToConnectionCommand).rejects(new GoneException({ message: '', $metadata: {} }));
    const res = await fanOut({ ddb: db.ddb, table: names.connectionsTable, management: client }, { connectionIds: await room('r-young'), payload: Buffer.from('x') });
    expect(res).toMatchObject({ delivered: 0, pruned: 1, failed: 0 });
    expect(await getConnection({ ddb: db.ddb, table: names.connectionsTable }, 'young1')).toBeDefined();
    expect(await getConnection({ ddb: db.ddb, table: names.connectionsTable }, 'old1')).toBeUndefined();
    // With no grace the young row goes too.
    const again = await fanOut({ ddb: db.ddb, table: names.connectionsTable, management: client, connectGraceSeconds: 0 }, { connectionIds: await room('r-young'), payload: Buffer.from('x') });
    expect(again.pruned).toBe(1);
    expect(await getConnection({ ddb: db.ddb, table: names.connectionsTable }, 'young1')).toBeUndefined();
  });

  it('delivers to each of 120 connections exactly once with concurrency bounded', async () => {
    const ids = Array.from({ length: 120 }, (_, i) => `big-${i}`);
    await seed('r-big', ids);
    let inFlight = 0;
    let peak = 0;
    management.on(PostToConnectionCommand).callsFake(async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return {};
    });
    const res = await fanOut({ ddb: db.ddb, table: names.connectionsTable, management: client, concurrency: 7 }, { connectionIds: await room('r-big'), payload: Buffer.from('x') });
    expect(res.delivered).toBe(120);
    expect(peak).toBeLessThanOrEqual(7);
    const delivered = new Set(management.commandCalls(PostToConnectionCommand).map((c) => c.args[0].input.ConnectionId));
    expect(delivered).toEqual(new Set(ids));
  });
});

describe('send-message handler (SQS trigger)', () => {
  const env = () => ({
    HERMES_STAGE: 'fanout', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
    HERMES_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:1/fanout', HERMES_FANOUT_CONCURRENCY: '4',
  });

  it('delivers every record of the batch, not just the first', async () => {
    await seed('batch-a', ['ba1']);
    await seed('batch-b', ['bb1']);
    management.on(PostToConnectionCommand).resolves({});
    const handler = createHandler(env(), { logger: quiet, management: () => client });
    const res = await handler({ Records: [sqsRecord({ room_id: 'batch-a', data: 1 }, 'm1'), sqsRecord({ room_id: 'batch-b', data: 2 }, 'm2')] });
    expect(res).toEqual({ batchItemFailures: [] });
    const targets = management.commandCalls(PostToConnectionCommand).map((c) => c.args[0].input.ConnectionId).sort();
    expect(targets).toEqual(['ba1', 'bb1']);
  });

  it('reports only the record whose delivery failed transiently; the frame id stays the SQS message id for dedup', async () => {
    await seed('tr-ok', ['t-ok']);
    await seed('tr-bad', ['t-bad']);
    management.on(PostToConnectionCommand).callsFake((input) => {
      if (input.ConnectionId === 't-bad') throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      return {};
    });
    const handler = createHandler(env(), { logger: quiet, management: () => client });
    const res = await handler({ Records: [sqsRecord({ room_id: 'tr-ok', data: 'a' }, 'ok-1'), sqsRecord({ room_id: 'tr-bad', data: 'b' }, 'bad-1')] });
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad-1' }] });
    const okCall = management.commandCalls(PostToConnectionCommand).find((c) => c.args[0].input.ConnectionId === 't-ok')!;
    expect(JSON.parse(Buffer.from(okCall.args[0].input.Data as Uint8Array).toString()).id).toBe('ok-1');
  });

  it('fails a malformed record (so redrive dead-letters it) when no DLQ URL is configured, without failing the others', async () => {
    await seed('mf-ok', ['mf1']);
    management.on(PostToConnectionCommand).resolves({});
    const handler = createHandler(env(), { logger: quiet, management: () => client });
    const res = await handler({ Records: [sqsRecord('garbage', 'g-1'), sqsRecord({ room_id: 'mf-ok', data: 1 }, 'fine-1')] });
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: 'g-1' }] });
  });

  it('lists every record when all of them failed, rather than throwing', async () => {
    await seed('all-bad', ['ab1']);
    management.on(PostToConnectionCommand).rejects(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
    const handler = createHandler(env(), { logger: quiet, management: () => client });
    const res = await handler({ Records: [sqsRecord({ room_id: 'all-bad', data: 1 }, 'ab-1'), sqsRecord({ room_id: 'all-bad', data: 2 }, 'ab-2')] });
    expect((res as { batchItemFailures: Array<{ itemIdentifier: string }> }).batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['ab-1', 'ab-2']);
  });

  it('dead-letters a record whose frame is over the WebSocket limit, with the reason, and succeeds it', async () => {
    const sqsMock = mockClient(SQSClient);
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'dead-1' });
    const sqs = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const handler = createHandler({ ...env(), HERMES_DLQ_URL: 'http://127.0.0.1:1/123456789012/dlq' }, { logger: quiet, management: () => client, sqs });
    const body = JSON.stringify({ room_id: 'huge', data: 'x'.repeat(140_000) });
    const res = await handler({ Records: [sqsRecord(body, 'big-1')] });
    expect(res).toEqual({ batchItemFailures: [] });
    const sent = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sent).toHaveLength(1);
    expect(sent[0].MessageBody).toBe(body);
    expect(sent[0].MessageAttributes?.hermes_error?.StringValue).toMatch(/API Gateway WebSocket message limit/);
    expect(sent[0].MessageAttributes?.hermes_source_message_id?.StringValue).toBe('big-1');
    expect(management.commandCalls(PostToConnectionCommand)).toHaveLength(0);
    sqsMock.restore();
  });
});

describe('room index', () => {
  it('returns both of two connections whose ids collide in dynalite\'s 24-bit index hash', async () => {
    // dynalite keys an index entry by the index key plus the first 6 hex digits of
    // md5("Outliers" + table key); without connection_id in the index key, two connections of
    // one room whose ids share those digits overwrite each other (likely in a room of ~5,000).
    const { createHash } = await import('node:crypto');
    const { listRoomConnectionIds } = await import('../src/core/connections.js');
    const seen = new Map<string, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair && i < 200_000; i++) {
      const id = `c-${i}`;
      const h = createHash('md5').update('Outliers').update(id).digest('hex').slice(0, 6);
      const other = seen.get(h);
      if (other) pair = [other, id];
      else seen.set(h, id);
    }
    expect(pair).toBeDefined();
    await seed('r-collide', pair!);
    expect((await listRoomConnectionIds({ ddb: db.ddb, table: names.connectionsTable }, 'r-collide')).sort()).toEqual([...pair!].sort());
  });
});
