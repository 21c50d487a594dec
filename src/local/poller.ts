/**
 * The SQS → Lambda event source mapping, locally (docs/api-gateway-websocket.md §6): poll the queue, hand batches
 * of up to `batchSize` records to the function, delete what succeeded. A throw leaves the whole
 * batch to reappear after the visibility timeout; with ReportBatchItemFailures only the listed
 * records do; an invalid response counts as a full failure. The queue's redrive policy moves a
 * message to the dead-letter queue once its receive count passes maxReceiveCount.
 *
 * An empty queue is polled less and less often (50 ms doubling up to `idleMaxMs`), so an idle
 * stack costs next to no CPU; `wake` (the local SQS server telling that a message was sent)
 * ends the rest at once, so the first message after a quiet spell is not delayed by it.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSClient, Message } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { createHash } from 'node:crypto';
import type { LocalFunction } from './lambda-runtime.js';
import type { LineLogger } from '../core/handler-log.js';

export interface PollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  fn: Pick<LocalFunction, 'name' | 'invoke'>;
  batchSize?: number;
  reportBatchItemFailures?: boolean;
  /** Parallel pollers, like the several pollers Lambda runs per mapping. */
  concurrency?: number;
  waitTimeSeconds?: number;
  /** Longest rest between receives while the queue stays empty; default 2 s. */
  idleMaxMs?: number;
  /** Subscribes to "a message may be receivable now"; returns the unsubscribe. */
  wake?: (listener: () => void) => () => void;
  logger: LineLogger;
}

export interface Poller {
  /** What it was configured with, as ListEventSourceMappings would report it. */
  settings: { batchSize: number; reportBatchItemFailures: boolean };
  /** Stops receiving; waits up to `graceMs` (default: without bound) for the batches under way. */
  stop(graceMs?: number): Promise<void>;
  stats(): { batches: number; records: number; failedRecords: number; errors: number; receives: number };
}

/** First rest after an empty receive; it doubles up to idleMaxMs. */
const FIRST_REST_MS = 50;

export function toRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const attrs = m.Attributes ?? {};
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attrs.ApproximateReceiveCount ?? '1',
      SentTimestamp: attrs.SentTimestamp ?? String(Date.now()),
      SenderId: attrs.SenderId ?? 'AIDAHERMESLOCAL',
      ApproximateFirstReceiveTimestamp: attrs.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attrs.AWSTraceHeader ? { AWSTraceHeader: attrs.AWSTraceHeader } : {}),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
        k,
        {
          dataType: v.DataType ?? 'String',
          ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
          ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
        },
      ]),
    ) as SQSRecord['messageAttributes'],
    md5OfBody: m.MD5OfBody ?? createHash('md5').update(m.Body ?? '').digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/** Which records to delete after an invocation, following Lambda's partial-batch rules. */
export function succeededRecords(records: SQSRecord[], response: unknown, reportBatchItemFailures: boolean): SQSRecord[] {
  if (!reportBatchItemFailures) return records;
  if (response === null || response === undefined) return records;
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === null || failures === undefined) return records;
  if (!Array.isArray(failures)) return [];
  const ids = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const f of failures) {
    const id = (f as { itemIdentifier?: unknown })?.itemIdentifier;
    // An empty, missing or unknown identifier makes Lambda treat the whole batch as failed.
    if (typeof id !== 'string' || id === '' || !ids.has(id)) return [];
    failed.add(id);
  }
  return records.filter((r) => !failed.has(r.messageId));
}

export function startPoller(opts: PollerOptions): Poller {
  const batchSize = Math.min(10, opts.batchSize ?? 10);
  const report = opts.reportBatchItemFailures ?? true;
  const stats = { batches: 0, records: 0, failedRecords: 0, errors: 0, receives: 0 };
  const abort = new AbortController();
  const idleMaxMs = opts.idleMaxMs ?? 2000;
  let stopping = false;
  // Wakes counted, so a loop whose receive was already under way when a message came in
  // polls again instead of resting.
  let wakes = 0;
  const resting = new Set<() => void>();
  const wakeAll = () => {
    wakes++;
    for (const r of [...resting]) r();
  };
  const unsubscribe = opts.wake?.(wakeAll);
  const rest = (ms: number, seen: number) =>
    new Promise<void>((resolve) => {
      if (stopping || wakes !== seen) return resolve();
      const done = () => {
        clearTimeout(timer);
        resting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      resting.add(done);
    });

  const loop = async () => {
    let restMs = 0;
    while (!stopping) {
      let messages: Message[];
      const seen = wakes;
      stats.receives++;
      try {
        const res = await opts.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: opts.queueUrl,
            MaxNumberOfMessages: batchSize,
            // local-aws-sqs's long poll waits the full WaitTimeSeconds until the batch is full, and
            // may return a message twice if it turns visible again within the wait; its short
            // poll still gathers for 40 ms. Short polling gives AWS-like latency here.
            WaitTimeSeconds: opts.waitTimeSeconds ?? 0,
            MessageSystemAttributeNames: ['All'],
            // local-aws-sqs honours only the older name of the same parameter; AWS accepts both.
            AttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: abort.signal },
        );
        messages = res.Messages ?? [];
      } catch (err) {
        if (stopping) return;
        stats.errors++;
        opts.logger.warn(`event source: receive failed: ${(err as Error).message}`);
        await rest(500, wakes);
        continue;
      }
      if (!messages.length) {
        restMs = Math.min(idleMaxMs, restMs ? restMs * 2 : FIRST_REST_MS);
        await rest(restMs, seen);
        continue;
      }
      restMs = 0;
      const records = messages.map((m) => toRecord(m, opts.queueArn, opts.region));
      stats.batches++;
      stats.records += records.length;
      let ok: SQSRecord[] = [];
      try {
        const response = await opts.fn.invoke({ Records: records });
        ok = succeededRecords(records, response, report);
      } catch (err) {
        stats.errors++;
        const message = `${opts.fn.name}: invocation failed, the batch of ${records.length} returns after the visibility timeout: ${(err as Error).message}`;
        if (stopping) opts.logger.info(message);
        else opts.logger.error(message);
      }
      stats.failedRecords += records.length - ok.length;
      if (ok.length) {
        try {
          const del = await opts.sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: opts.queueUrl,
              Entries: ok.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
            }),
          );
          for (const f of del.Failed ?? []) {
            opts.logger.warn(`event source: could not delete a processed message (it will be redelivered): ${f.Code} ${f.Message ?? ''}`);
          }
        } catch (err) {
          if (!stopping) opts.logger.warn(`event source: delete failed (messages will be redelivered): ${(err as Error).message}`);
        }
      }
    }
  };

  const loops = Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, loop);
  return {
    settings: { batchSize, reportBatchItemFailures: report },
    async stop(graceMs) {
      stopping = true;
      unsubscribe?.();
      abort.abort();
      wakeAll();
      const all = Promise.allSettled(loops);
      if (graceMs === undefined) {
        await all;
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    },
    stats: () => ({ ...stats }),
  };
}
