/**
 * The local SQS event-source mapping against the real local SQS: partial batch failures,
 * whole-batch retry on throw, dead-letter queue after maxReceiveCount. The function invoked is
 * a stand-in at the Lambda boundary that records what it was given.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SendMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { startSqs, ensureQueues, type LocalSqs, type StageQueues } from '../src/local/sqs.js';
import { startPoller, succeededRecords } from '../src/local/poller.js';
import { toDeadLetter } from '../src/core/dlq.js';
import { createSqsClient } from '../src/core/clients.js';
import { resourceNames } from '../src/stack/names.js';
import { eventually } from './helpers/ws.js';

let server: LocalSqs;
let sqs: SQSClient;
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

beforeAll(async () => {
  server = await startSqs({ host: '127.0.0.1', port: 0, region: 'us-east-1' });
  sqs = await createSqsClient({ region: 'us-east-1', endpoint: server.endpoint });
});
afterAll(async () => {
  sqs?.destroy();
  await server?.close();
});

async function queues(stage: string, maxReceiveCount = 5): Promise<StageQueues> {
  return ensureQueues(sqs, resourceNames(stage), { visibilityTimeoutSeconds: 1, maxReceiveCount });
}

async function sendBodies(url: string, bodies: string[]) {
  await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.map((b, i) => ({ Id: String(i), MessageBody: b })) }));
}

async function drain(url: string) {
  const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'], AttributeNames: ['All'] }));
  return res.Messages ?? [];
}

describe('partial batch rules', () => {
  const recs = [{ messageId: 'a' }, { messageId: 'b' }] as never[];
  it('follows Lambda: empty/null response is success; a bad identifier fails the whole batch', () => {
    expect(succeededRecords(recs, undefined, true)).toHaveLength(2);
    expect(succeededRecords(recs, { batchItemFailures: [] }, true)).toHaveLength(2);
    expect(succeededRecords(recs, { batchItemFailures: [{ itemIdentifier: 'b' }] }, true)).toEqual([{ messageId: 'a' }]);
    expect(succeededRecords(recs, { batchItemFailures: [{ itemIdentifier: '' }] }, true)).toEqual([]);
    expect(succeededRecords(recs, { batchItemFailures: [{ itemIdentifier: 'zzz' }] }, true)).toEqual([]);
    expect(succeededRecords(recs, { batchItemFailures: [{ id: 'a' }] }, true)).toEqual([]);
    // Without ReportBatchItemFailures the response is ignored.
    expect(succeededRecords(recs, { batchItemFailures: [{ itemIdentifier: 'b' }] }, false)).toHaveLength(2);
  });
});

describe('event source poller on local SQS', () => {
  it('redelivers only the record that failed transiently', async () => {
    const q = await queues('partial');
    const seen: Array<{ body: string; count: string }> = [];
    let failedOnce = false;
    const poller = startPoller({
      sqs, queueUrl: q.queueUrl, queueArn: q.queueArn, region: 'us-east-1', logger: quiet, concurrency: 1,
      fn: {
        name: 'stand-in',
        async invoke(event) {
          const records = (event as SQSEvent).Records;
          for (const r of records) seen.push({ body: r.body, count: r.attributes.ApproximateReceiveCount });
          const bad = records.find((r) => r.body === 'flaky');
          if (bad && !failedOnce) {
            failedOnce = true;
            return { batchItemFailures: [{ itemIdentifier: bad.messageId }] };
          }
          return { batchItemFailures: [] };
        },
      },
    });
    try {
      await sendBodies(q.queueUrl, ['one', 'flaky', 'three']);
      await eventually(() => seen.filter((s) => s.body === 'flaky').length === 2, 15_000, 'flaky redelivered');
      await new Promise((r) => setTimeout(r, 1500)); // more than one visibility timeout
      expect(seen.filter((s) => s.body === 'one')).toHaveLength(1);
      expect(seen.filter((s) => s.body === 'three')).toHaveLength(1);
      expect(seen.filter((s) => s.body === 'flaky').map((s) => s.count)).toEqual(['1', '2']);
    } finally {
      await poller.stop();
    }
  });

  it('returns the whole batch when the function throws, and dead-letters a message after maxReceiveCount receives', async () => {
    const q = await queues('poison', 3);
    const counts: string[] = [];
    const poller = startPoller({
      sqs, queueUrl: q.queueUrl, queueArn: q.queueArn, region: 'us-east-1', logger: quiet, concurrency: 1,
      fn: {
        name: 'stand-in',
        async invoke(event) {
          for (const r of (event as SQSEvent).Records) counts.push(r.attributes.ApproximateReceiveCount);
          throw new Error('always fails');
        },
      },
    });
    try {
      await sendBodies(q.queueUrl, ['poison']);
      const dead = await eventually(async () => {
        const m = await drain(q.dlqUrl);
        return m.length ? m : undefined;
      }, 20_000, 'dead letter');
      expect(dead[0].Body).toBe('poison');
      expect(counts).toEqual(['1', '2', '3']);
      // SQS marks what its redrive moved, which `hermes dlq list` relies on.
      expect(toDeadLetter(dead[0], 3)).toMatchObject({ origin: 'redrive', reason: `exceeded maxReceiveCount (3 receives) on ${resourceNames('poison').queueName('messages')}` });
    } finally {
      await poller.stop();
    }
  });
});

describe('idle poller', () => {
  it('rests while the queue is empty and starts at once when the local server sees a SendMessage', async () => {
    const q = await queues('idle');
    const bodies: string[] = [];
    // A rest of a minute: only the wake can make the delivery below happen within its bound.
    const poller = startPoller({
      sqs, queueUrl: q.queueUrl, queueArn: q.queueArn, region: 'us-east-1', logger: quiet, concurrency: 2,
      idleMaxMs: 60_000,
      wake: (listener) => server.onMessagesAvailable(listener),
      fn: {
        name: 'stand-in',
        async invoke(event) {
          for (const r of (event as SQSEvent).Records) bodies.push(r.body);
        },
      },
    });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      // 50, 100, 200, 400, 800 ms rests: about six receives per loop in 1.5 s, not hundreds.
      const idleReceives = poller.stats().receives;
      expect(idleReceives).toBeLessThanOrEqual(16);
      await sendBodies(q.queueUrl, ['after a rest']);
      await eventually(() => bodies.length === 1, 10_000, 'the message after a rest');
      expect(bodies).toEqual(['after a rest']);
    } finally {
      await poller.stop();
    }
  });

  it('stops at once while resting', async () => {
    const q = await queues('idle-stop');
    const poller = startPoller({
      sqs, queueUrl: q.queueUrl, queueArn: q.queueArn, region: 'us-east-1', logger: quiet, idleMaxMs: 60_000,
      fn: { name: 'stand-in', invoke: async () => undefined },
    });
    await new Promise((r) => setTimeout(r, 1000));
    const started = Date.now();
    await poller.stop();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
