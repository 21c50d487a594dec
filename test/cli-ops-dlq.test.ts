/**
 * `hermes dlq list|redrive|purge` against the real local stack. Dead letters of both kinds:
 * one send-message moved itself (not JSON: it carries the reason), one that arrived without
 * hermes attributes (as SQS redrive leaves them).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { startTestStack } from './helpers/stack.js';
import { cli, type CliResult } from './helpers/cli.js';
import { connect, eventually, type TestClient } from './helpers/ws.js';
import type { LocalStack } from '../src/local/stack.js';
import { writeStageRecord } from '../src/config/stage-record.js';
import { localStageRecord } from '../src/local/state.js';
import { issueToken } from '../src/core/tokens.js';
import { queueDepth } from '../src/core/dlq.js';

let stack: LocalStack;
let stateDir: string;
let client: TestClient;

const run = (...argv: string[]): Promise<CliResult> => cli(['--state-dir', stateDir, ...argv]);
const json = async (...argv: string[]) => {
  const r = await run('--json', ...argv);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
const dlqDepth = () => queueDepth(stack.sqs, stack.queues.dlqUrl);
const mainDepth = () => queueDepth(stack.sqs, stack.queues.queueUrl);

/** Until the dead-letter queue holds exactly `n` waiting messages and nothing is in flight anywhere. */
async function settled(n: number) {
  await eventually(async () => {
    const [d, m] = await Promise.all([dlqDepth(), mainDepth()]);
    return d.visible === n && d.inFlight === 0 && m.visible === 0 && m.inFlight === 0;
  }, 20_000, `${n} dead letters and an idle main queue`);
}

const valid = (data: string) => JSON.stringify({ room_id: 'dlq-room', user_id: 'backend', data });

beforeAll(async () => {
  stack = await startTestStack({ visibilityTimeoutSeconds: 1 });
  stateDir = mkdtempSync(path.join(tmpdir(), 'hermes-ops-dlq-'));
  writeStageRecord(stateDir, localStageRecord(stack));
  const t = await issueToken(
    { ddb: stack.ddb, table: stack.names.tokensTable, signingKey: await stack.signingKeys.current(), bcryptCost: 4 },
    { userId: 'watcher', roomId: 'dlq-room', ttlSeconds: 600 },
  );
  client = await connect(stack.endpoints.websocket, t.token);
});

afterAll(async () => {
  await client?.close();
  await stack?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('hermes dlq', () => {
  it('says so when there are no dead letters', async () => {
    const r = await run('dlq', 'list');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`No dead letters in ${stack.names.dlq}.`);
    expect((await json('dlq', 'redrive')).moved).toBe(0);
    expect((await run('dlq', 'purge')).stdout).toMatch(/nothing to purge/); // nothing to confirm either
  });

  it('lists both kinds with their reason, without consuming them, then redrives and purges', async () => {
    // Prepare: one poison message through the main queue, one dead letter sent there directly.
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: 'this is not json' }));
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.dlqUrl, MessageBody: valid('came back') }));
    await settled(2);

    // list: both reasons, and listing twice shows the same messages (nothing consumed).
    const first = await json('dlq', 'list');
    expect(first.total).toBe(2);
    const byBody = Object.fromEntries(first.messages.map((m: { body: string }) => [m.body, m]));
    expect(byBody['this is not json']).toMatchObject({ origin: 'hermes', reason: expect.stringMatching(/not JSON/) });
    expect(byBody['this is not json'].sourceMessageId).toEqual(expect.any(String));
    // Sent to the dead-letter queue directly: not labelled as something hermes or SQS did.
    expect(byBody[valid('came back')]).toMatchObject({ origin: 'unknown', reason: expect.stringMatching(/^reason unknown: .*; received \d+ times? here$/) });
    for (const m of first.messages) {
      expect(m.messageId).toEqual(expect.any(String));
      expect(m.receiveCount).toBeGreaterThanOrEqual(1);
      expect(Date.parse(m.sentAt)).not.toBeNaN();
    }
    const ids = (x: { messages: Array<{ messageId: string }> }) => x.messages.map((m) => m.messageId).sort();
    const second = await json('dlq', 'list');
    expect(ids(second)).toEqual(ids(first));
    expect(await dlqDepth()).toMatchObject({ visible: 2, inFlight: 0 });

    const human = await run('dlq', 'list', '--limit', '1');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^2 dead letters in hermes-local-messages-dlq \(showing 1; --limit for more\):/);
    const all = await run('dlq', 'list');
    expect(all.stdout).toMatch(/why: {2}The queue message is not JSON/);
    expect(all.stdout).toMatch(/why: {2}reason unknown: /);
    expect(all.stdout).toContain('body: this is not json');
    expect(all.stdout).toMatch(/sent \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, received \d+×/);
    expect(await dlqDepth()).toMatchObject({ visible: 2, inFlight: 0 });

    // redrive (SQS move task): the valid one is delivered; the poison one comes back with its reason.
    const moved = await json('dlq', 'redrive');
    expect(moved).toMatchObject({ method: 'move-task', total: 2, moved: 2, status: 'COMPLETED', failed: [] });
    const frame = await client.waitForFrame((f) => f.data === 'came back', 20_000);
    expect(frame).toMatchObject({ room_id: 'dlq-room', user_id: 'backend' });
    await settled(1);
    const back = await json('dlq', 'list');
    expect(back.messages).toHaveLength(1);
    expect(back.messages[0]).toMatchObject({ body: 'this is not json', origin: 'hermes' });

    // redrive --copy (receive, send back, delete) for endpoints without move tasks.
    await stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queues.dlqUrl,
        MessageBody: valid('copied back'),
        MessageAttributes: { hermes_error: { DataType: 'String', StringValue: 'stale reason' } },
      }),
    );
    await settled(2);
    const copied = await run('dlq', 'redrive', '--copy');
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout).toMatch(/^Moved 2 dead letters back to hermes-local-messages \(received, sent back, deleted\)\./);
    await client.waitForFrame((f) => f.data === 'copied back', 20_000);
    await settled(1);

    // purge: destructive, so --yes without a terminal.
    const refused = await run('dlq', 'purge');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/Refusing to delete the 1 dead letter in hermes-local-messages-dlq for good without confirmation/);
    expect(refused.stderr).toMatch(/--yes/);
    expect((await dlqDepth()).visible).toBe(1);
    const purged = await json('dlq', 'purge', '--yes');
    expect(purged).toEqual({ queueUrl: stack.queues.dlqUrl, purged: 1, inFlight: 0, failed: [] });
    expect(await dlqDepth()).toMatchObject({ visible: 0, inFlight: 0 });
    expect((await run('dlq', 'list')).stdout.trim()).toBe(`No dead letters in ${stack.names.dlq}.`);
  });

  it('rejects a bad --limit naming the flag and the range', async () => {
    const r = await run('dlq', 'list', '--limit', '0');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid --limit value: "0"\. Must be a whole number from 1 to 1000\./);
  });
});
