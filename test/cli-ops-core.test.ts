/**
 * The core behind the operator verbs, with the management API and SQS mocked at the SDK
 * boundary (aws-sdk-client-mock) and a real local DynamoDB for the connections table:
 * pruning decisions, closing connections, and the dead-letter moves that must never lose one.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { useLocalDynamo } from './helpers/dynamo.js';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ApiGatewayManagementApiClient, GetConnectionCommand, DeleteConnectionCommand, GoneException, LimitExceededException, ForbiddenException,
} from '@aws-sdk/client-apigatewaymanagementapi';
import {
  SQSClient, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, DeleteMessageBatchCommand,
  ChangeMessageVisibilityBatchCommand, StartMessageMoveTaskCommand, UnsupportedOperation, type Message,
} from '@aws-sdk/client-sqs';
import { resourceNames } from '../src/stack/names.js';
import { connectionRow, putConnection, getConnection, type ConnectionRow } from '../src/core/connections.js';
import { pruneStale } from '../src/core/prune.js';
import { closeConnections } from '../src/core/disconnect.js';
import { peekDeadLetters, redriveDeadLetters, toDeadLetter } from '../src/core/dlq.js';
import { HERMES_ERROR_ATTRIBUTE, HERMES_SOURCE_ID_ATTRIBUTE } from '../src/core/dead-letter.js';
import { DEAD_LETTER_ATTRIBUTES } from '../lambdas/send-message.js';

const names = resourceNames('opscore');
const db = useLocalDynamo(names);
const management = mockClient(ApiGatewayManagementApiClient);
const mgmt = new ApiGatewayManagementApiClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1/x', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
const store = () => ({ ddb: db.ddb, table: names.connectionsTable });
const noSleep = { sleep: async () => {} };
const meta = { $metadata: {} };

async function seed(rows: ConnectionRow[]) {
  for (const r of rows) await putConnection(store(), r);
}

beforeEach(() => {
  management.reset();
  sqsMock.reset();
});

describe('pruneStale', () => {
  it('removes 410s and rows past 2 h, keeps live, young and unprobeable rows, and retries throttled probes', async () => {
    // Prepare
    const now = Date.now();
    const row = (id: string, ageMs: number) => connectionRow({ connectionId: id, roomId: 'p', userId: `u-${id}`, connectedAt: now - ageMs });
    await seed([
      row('live', 600_000),
      row('gone', 600_000),
      row('old', 3 * 3600_000),
      { ...row('ttl', 600_000), expires_at: Math.floor(now / 1000) - 1 },
      row('young', 5_000),
      row('forbidden', 600_000),
      row('throttled', 600_000),
    ]);
    management.on(GetConnectionCommand).callsFake((input: { ConnectionId: string }) => {
      switch (input.ConnectionId) {
        case 'gone':
        case 'young':
          throw new GoneException({ message: '', ...meta });
        case 'forbidden':
          throw new ForbiddenException({ message: 'Forbidden', ...meta });
        default:
          return { ConnectedAt: new Date(now - 600_000), LastActiveAt: new Date(now - 1000) };
      }
    });
    management.on(GetConnectionCommand, { ConnectionId: 'throttled' })
      .rejectsOnce(new LimitExceededException({ message: 'slow down', ...meta }))
      .resolves({ LastActiveAt: new Date(now) });
    const deps = { ...store(), management: mgmt, retry: noSleep };

    // Act: a dry run first, then the real one
    const dry = await pruneStale(deps, { dryRun: true, now: () => now });
    const real = await pruneStale(deps, { now: () => now });

    // Assess
    for (const r of [dry, real]) {
      expect(Object.fromEntries(r.removed.map((e) => [e.connectionId, e.reason]))).toEqual({ gone: 'gone', old: 'expired', ttl: 'expired' });
      expect(r).toMatchObject({ scanned: 7, kept: 2, skippedYoung: 1, probed: 4, interrupted: false });
      expect(r.errors).toEqual([{ connectionId: 'forbidden', roomId: 'p', userId: 'u-forbidden', error: expect.stringMatching(/^probe failed: ForbiddenException/) }]);
    }
    const probed = management.commandCalls(GetConnectionCommand).map((c) => c.args[0].input.ConnectionId);
    expect(probed).not.toContain('old'); // expired rows need no probe
    expect(probed).not.toContain('young'); // may still be inside $connect
    for (const id of ['gone', 'old', 'ttl']) expect(await getConnection(store(), id)).toBeUndefined();
    for (const id of ['live', 'young', 'forbidden', 'throttled']) expect(await getConnection(store(), id)).toBeDefined();
  });
});

describe('closeConnections', () => {
  it('closes, counts 410 as already gone (deleting the row either way), and reports other failures keeping the row', async () => {
    await seed(['c1', 'c2', 'c3'].map((id) => connectionRow({ connectionId: id, roomId: 'd', userId: 'u', connectedAt: Date.now() })));
    management.on(DeleteConnectionCommand, { ConnectionId: 'c1' }).resolves({});
    management.on(DeleteConnectionCommand, { ConnectionId: 'c2' }).rejects(new GoneException({ message: '', ...meta }));
    management.on(DeleteConnectionCommand, { ConnectionId: 'c3' }).rejects(new ForbiddenException({ message: 'Forbidden', ...meta }));

    const r = await closeConnections({ ...store(), management: mgmt, retry: noSleep }, ['c1', 'c2', 'c3']);

    expect(r).toEqual({ closed: ['c1'], alreadyGone: ['c2'], failed: [{ connectionId: 'c3', error: 'ForbiddenException: Forbidden' }] });
    expect(await getConnection(store(), 'c1')).toBeUndefined();
    expect(await getConnection(store(), 'c2')).toBeUndefined();
    expect(await getConnection(store(), 'c3')).toBeDefined();
  });
});

const DLQ = 'http://sqs.local/123456789012/hermes-x-messages-dlq';
const MAIN = 'http://sqs.local/123456789012/hermes-x-messages';
const message = (id: string, body: string, attrs: Message['MessageAttributes'] = {}): Message => ({
  MessageId: id,
  ReceiptHandle: `rh-${id}`,
  Body: body,
  Attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1700000000000' },
  MessageAttributes: attrs,
});

describe('dead letters', () => {
  it('uses the attribute names send-message writes', () => {
    expect(DEAD_LETTER_ATTRIBUTES).toEqual({ error: HERMES_ERROR_ATTRIBUTE, sourceMessageId: HERMES_SOURCE_ID_ATTRIBUTE });
  });

  it('tells hermes dead letters from redriven ones', () => {
    const hermes = toDeadLetter(message('a', 'x', {
      hermes_error: { DataType: 'String', StringValue: 'The queue message is not JSON' },
      hermes_source_message_id: { DataType: 'String', StringValue: 'src-1' },
    }), 5);
    expect(hermes).toMatchObject({ origin: 'hermes', reason: 'The queue message is not JSON', sourceMessageId: 'src-1', sentAt: '2023-11-14T22:13:20.000Z' });
    expect(toDeadLetter(message('b', 'y'), 5)).toMatchObject({ origin: 'redrive', reason: 'exceeded maxReceiveCount (5 receives)' });
  });

  it('makes what it listed visible again even when a later receive fails', async () => {
    sqsMock.on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('m1', 'one'), message('m2', 'two')] })
      .rejects(new Error('connection reset'));
    sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });

    await expect(peekDeadLetters({ sqs, dlqUrl: DLQ }, { limit: 5 })).rejects.toThrow('connection reset');

    const restored = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    expect(restored.map((e) => [e.ReceiptHandle, e.VisibilityTimeout])).toEqual([['rh-m1', 0], ['rh-m2', 0]]);
  });

  it('copies back without the hermes attributes and deletes only what was sent', async () => {
    // Prepare: two dead letters; the main queue takes the first and refuses the second.
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '2', ApproximateNumberOfMessagesNotVisible: '0', QueueArn: 'arn:aws:sqs:us-east-1:123456789012:q' } });
    sqsMock.on(StartMessageMoveTaskCommand).rejects(new UnsupportedOperation({ message: 'not here', ...meta }));
    sqsMock.on(ReceiveMessageCommand).resolvesOnce({
      Messages: [
        message('m1', '{"room_id":"r","user_id":"u","data":1}', {
          hermes_error: { DataType: 'String', StringValue: 'old reason' },
          hermes_source_message_id: { DataType: 'String', StringValue: 'src' },
          trace: { DataType: 'String', StringValue: 't-1', StringListValues: [], BinaryListValues: [] },
        }),
        message('m2', 'two'),
      ],
    }).resolves({});
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [{ Id: '0', MessageId: 'new-1', MD5OfMessageBody: '' }], Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false }] });
    sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [{ Id: '0' }], Failed: [] });
    sqsMock.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [{ Id: '0' }], Failed: [] });

    // Act: no move task here, so it falls back to copying
    const r = await redriveDeadLetters({ sqs, dlqUrl: DLQ, queueUrl: MAIN });

    // Assess
    expect(r).toMatchObject({ method: 'copy', total: 2, moved: 1, status: 'COMPLETED' });
    expect(r.failed).toEqual([{ messageId: 'm2', error: expect.stringMatching(/could not send it back: InternalError/) }]);
    const sent = sqsMock.commandCalls(SendMessageBatchCommand)[0].args[0].input;
    expect(sent.QueueUrl).toBe(MAIN);
    expect(sent.Entries?.[0]).toEqual({ Id: '0', MessageBody: '{"room_id":"r","user_id":"u","data":1}', MessageAttributes: { trace: { DataType: 'String', StringValue: 't-1' } } });
    expect(sent.Entries?.[1].MessageAttributes).toBeUndefined();
    const deleted = sqsMock.commandCalls(DeleteMessageBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    expect(deleted.map((e) => e.ReceiptHandle)).toEqual(['rh-m1']); // never the one that was not sent
    const released = sqsMock.commandCalls(ChangeMessageVisibilityBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    expect(released.map((e) => [e.ReceiptHandle, e.VisibilityTimeout])).toEqual([['rh-m2', 0]]);
  });
});
