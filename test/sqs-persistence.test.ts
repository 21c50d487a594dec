/**
 * Persisted local queues (src/local/sqs-persistence.ts): what a queue held when the server
 * stopped is there again after a restart on the same file, with its attributes and receive
 * counts; what was deleted stays deleted; the file is the owner's alone.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { startSqs, ensureQueues } from '../src/local/sqs.js';
import { createSqsClient } from '../src/core/clients.js';
import { resourceNames } from '../src/stack/names.js';
import { startTestStack } from './helpers/stack.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'hermes-sqs-'));
  dirs.push(d);
  return d;
}

async function server(file: string) {
  const s = await startSqs({ host: '127.0.0.1', port: 0, region: 'us-east-1', persistFile: file });
  const sqs = await createSqsClient({ region: 'us-east-1', endpoint: s.endpoint });
  const queues = await ensureQueues(sqs, resourceNames('persist'), { visibilityTimeoutSeconds: 30 });
  const restored = s.restoreQueues();
  return { s, sqs, queues, restored, async close() { sqs.destroy(); await s.close(); } };
}

async function receiveAll(sqs: Awaited<ReturnType<typeof server>>['sqs'], url: string, visibility = 30): Promise<Message[]> {
  const res = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: visibility, AttributeNames: ['All'], MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
  );
  return res.Messages ?? [];
}

describe('persisted local queues', () => {
  it('keep messages, attributes and receive counts across a restart; deleted ones stay gone', async () => {
    const file = path.join(tempDir(), 'sqs', 'queues.json');
    const first = await server(file);
    expect(first.restored).toBe(0);
    const sent: string[] = [];
    for (const body of ['one', 'two', 'three']) {
      const r = await first.sqs.send(new SendMessageCommand({
        QueueUrl: first.queues.queueUrl, MessageBody: body,
        MessageAttributes: { kind: { DataType: 'String', StringValue: `k-${body}` } },
      }));
      sent.push(r.MessageId!);
    }
    await first.sqs.send(new SendMessageCommand({ QueueUrl: first.queues.dlqUrl, MessageBody: 'dead', MessageAttributes: { hermes_error: { DataType: 'String', StringValue: 'why' } } }));
    // Receive all three (count 1), delete "two"; the other two stay in flight when we stop.
    const got = await receiveAll(first.sqs, first.queues.queueUrl);
    expect(got).toHaveLength(3);
    await first.sqs.send(new DeleteMessageCommand({ QueueUrl: first.queues.queueUrl, ReceiptHandle: got.find((m) => m.Body === 'two')!.ReceiptHandle! }));
    await first.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const second = await server(file);
    try {
      expect(second.restored).toBe(3);
      // In flight when the server stopped: visible again at once, counted once already.
      const back = await receiveAll(second.sqs, second.queues.queueUrl);
      expect(back.map((m) => m.Body).sort()).toEqual(['one', 'three']);
      for (const m of back) {
        expect(sent).toContain(m.MessageId);
        expect(m.Attributes?.ApproximateReceiveCount).toBe('2');
        expect(m.MessageAttributes?.kind?.StringValue).toBe(`k-${m.Body}`);
      }
      const dead = await receiveAll(second.sqs, second.queues.dlqUrl);
      expect(dead.map((m) => [m.Body, m.MessageAttributes?.hermes_error?.StringValue])).toEqual([['dead', 'why']]);
    } finally {
      await second.close();
    }
  });

  it('a persisted stack gets its queues back after close() and a new start on the same data dir', async () => {
    const dataDir = tempDir();
    const first = await startTestStack({ dataDir });
    await first.sqs.send(new SendMessageCommand({ QueueUrl: first.queues.dlqUrl, MessageBody: 'kept' }));
    await first.close();
    expect(existsSync(path.join(dataDir, 'sqs', 'queues.json'))).toBe(true);
    const second = await startTestStack({ dataDir });
    try {
      expect(second.restoredMessages).toBe(1);
      const dead = await receiveAll(second.sqs, second.queues.dlqUrl);
      expect(dead.map((m) => m.Body)).toEqual(['kept']);
    } finally {
      await second.close();
    }
  });
});
