/**
 * What send-message writes when it dead-letters a message itself: the body as it arrived, and
 * the reason in message attributes. Kept apart from the operator's list/redrive/purge
 * (core/dlq.ts), which reads these attributes, so the send-message bundle carries only this.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** Why send-message gave up on the message (at most 1000 characters). */
export const HERMES_ERROR_ATTRIBUTE = 'hermes_error';
/** The message id it had on the main queue. */
export const HERMES_SOURCE_ID_ATTRIBUTE = 'hermes_source_message_id';

/** Put a message that can never be delivered on the dead-letter queue, with the reason. */
export async function sendDeadLetter(
  sqs: Pick<SQSClient, 'send'>,
  dlqUrl: string,
  message: { body: string; sourceMessageId: string; reason: string },
): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: dlqUrl,
      MessageBody: message.body,
      MessageAttributes: {
        [HERMES_ERROR_ATTRIBUTE]: { DataType: 'String', StringValue: message.reason.slice(0, 1000) },
        [HERMES_SOURCE_ID_ATTRIBUTE]: { DataType: 'String', StringValue: message.sourceMessageId },
      },
    }),
  );
}
