/**
 * BatchWriteItem for any number of puts or deletes on one table: chunks of 25 (DynamoDB's limit
 * per request), and what a response leaves in UnprocessedItems (the table was busy) is sent
 * again after a jittered wait (./retry.ts) until nothing is left or the attempts run out.
 */
import { BatchWriteCommand, type BatchWriteCommandInput, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { jitteredDelay, sleep } from './retry.js';

export const BATCH_WRITE_MAX = 25;

export type WriteRequest = NonNullable<BatchWriteCommandInput['RequestItems']>[string][number];

export async function batchWriteAll(
  ddb: Pick<DynamoDBDocumentClient, 'send'>,
  table: string,
  requests: WriteRequest[],
  opts: { maxAttempts?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const maxAttempts = opts.maxAttempts ?? 9;
  const wait = opts.sleep ?? sleep;
  for (let i = 0; i < requests.length; i += BATCH_WRITE_MAX) {
    let pending = requests.slice(i, i + BATCH_WRITE_MAX);
    for (let attempt = 0; pending.length; attempt++) {
      if (attempt >= maxAttempts) {
        throw new Error(`DynamoDB left ${pending.length} writes to ${table} unprocessed after ${maxAttempts} attempts (the table is busy).`);
      }
      if (attempt > 0) await wait(jitteredDelay(attempt, 50, 2000));
      const res = await ddb.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = res.UnprocessedItems?.[table] ?? [];
    }
  }
}
