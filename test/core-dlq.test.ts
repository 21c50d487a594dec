/** The operator's dead-letter moves, which must never lose one (src/core/dlq.ts). */
import { describe, it, expect } from 'vitest';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, DeleteMessageBatchCommand, ChangeMessageVisibilityBatchCommand, StartMessageMoveTaskCommand, UnsupportedOperation, type Message } from '@aws-sdk/client-sqs';
import { peekDeadLetters, redriveDeadLetters, toDeadLetter } from '../src/core/dlq.js';
import { HERMES_ERROR_ATTRIBUTE, HERMES_SOURCE_ID_ATTRIBUTE } from '../src/core/dead-letter.js';
import { DEAD_LETTER_ATTRIBUTES } from '../lambdas/send-message.js';
import { names, sqsMock, sqs, meta } from './helpers/operator-core.js';

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
    const redriven = message('b', 'y');
    redriven.Attributes!.DeadLetterQueueSourceArn = 'arn:aws:sqs:us-east-1:123456789012:hermes-x-messages';
    expect(toDeadLetter(redriven, 5)).toMatchObject({ origin: 'redrive', reason: 'exceeded maxReceiveCount (5 receives) on hermes-x-messages' });
    // Neither hermes's reason nor SQS's source mark: its reason is not known, whatever maxReceiveCount is.
    expect(toDeadLetter(message('c', 'z'), 5)).toMatchObject({
      origin: 'unknown',
      receiveCount: 1,
      reason: "reason unknown: neither hermes nor the queue's redrive put it here (sent to the dead-letter queue directly?); received 1 time here",
    });
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
