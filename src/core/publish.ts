/**
 * Publish messages to the queue: SendMessage for one, SendMessageBatch in chunks of at most 10
 * entries and 256 KB for many. An entry SQS rejects is reported to the caller with its index,
 * never silently dropped.
 */
import { SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSClient, MessageAttributeValue } from '@aws-sdk/client-sqs';
import { encodeQueueMessage, SQS_MESSAGE_LIMIT, type QueueMessage } from './envelope.js';

export interface PublishResult {
  sent: Array<{ index: number; messageId: string; id?: string }>;
  failed: Array<{ index: number; code: string; message: string; senderFault?: boolean }>;
}

export interface PublishDeps {
  sqs: Pick<SQSClient, 'send'>;
  queueUrl: string;
}

export const SQS_BATCH_MAX = 10;

/** Split encoded bodies into batches of ≤10 entries and ≤256 KB of bodies per request. */
export function chunkBatches(bodies: string[]): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  bodies.forEach((body, i) => {
    const size = Buffer.byteLength(body, 'utf8');
    if (current.length === SQS_BATCH_MAX || (current.length > 0 && bytes + size > SQS_MESSAGE_LIMIT)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += size;
  });
  if (current.length) batches.push(current);
  return batches;
}

/**
 * Every message is encoded (and its limits checked) before the first request, so that a bad
 * message in the middle of a file fails the whole call up front instead of half-publishing.
 */
export async function publish(
  deps: PublishDeps,
  messages: QueueMessage[],
  opts: { attributes?: Record<string, MessageAttributeValue>; onProgress?: (done: number, total: number) => void } = {},
): Promise<PublishResult> {
  const bodies = messages.map((m) => encodeQueueMessage(m));
  const result: PublishResult = { sent: [], failed: [] };
  if (bodies.length === 1) {
    const res = await deps.sqs.send(
      new SendMessageCommand({ QueueUrl: deps.queueUrl, MessageBody: bodies[0], MessageAttributes: opts.attributes }),
    );
    result.sent.push({ index: 0, messageId: res.MessageId ?? '', ...(messages[0].id ? { id: messages[0].id } : {}) });
    opts.onProgress?.(1, 1);
    return result;
  }
  let done = 0;
  for (const batch of chunkBatches(bodies)) {
    try {
      const res = await deps.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: deps.queueUrl,
          Entries: batch.map((i) => ({ Id: String(i), MessageBody: bodies[i], MessageAttributes: opts.attributes })),
        }),
      );
      for (const ok of res.Successful ?? []) {
        const index = Number(ok.Id);
        result.sent.push({ index, messageId: ok.MessageId ?? '', ...(messages[index].id ? { id: messages[index].id } : {}) });
      }
      for (const bad of res.Failed ?? []) {
        result.failed.push({ index: Number(bad.Id), code: bad.Code ?? 'Unknown', message: bad.Message ?? '', senderFault: bad.SenderFault });
      }
    } catch (err) {
      // The whole request failed: report every entry of it, and go on with the other batches.
      for (const index of batch) {
        result.failed.push({ index, code: (err as Error).name, message: (err as Error).message });
      }
    }
    done += batch.length;
    opts.onProgress?.(done, bodies.length);
  }
  result.sent.sort((a, b) => a.index - b.index);
  result.failed.sort((a, b) => a.index - b.index);
  return result;
}
