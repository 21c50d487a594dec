/**
 * The local stack's usage meter (src/local/usage.ts): what one connect, one message to a room
 * of two and one disconnect would be billed for, counted on the real local stack.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestStack } from './helpers/stack.js';
import { connect, eventually, type TestClient } from './helpers/ws.js';
import { issueToken } from '../src/core/tokens.js';
import { publish } from '../src/core/publish.js';
import { usageBetween } from '../src/local/usage.js';
import { FUNCTIONS } from '../src/stack/definition.js';
import type { LocalStack } from '../src/local/stack.js';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('usage meter', () => {
  it('counts invocations, DynamoDB units, SQS requests and API Gateway messages and minutes', async () => {
    const t = await issueToken({ ddb: stack.ddb, table: stack.names.tokensTable, secret: stack.jwtSecret, bcryptCost: 4 }, { userId: 'u', roomId: 'metered' });
    const before = stack.usage.snapshot();
    const clients: TestClient[] = [await connect(stack.endpoints.websocket, t.token), await connect(stack.endpoints.websocket, t.token)];
    const connected = usageBetween(before, stack.usage.snapshot());
    expect(connected.lambda.authorizer).toMatchObject({ invocations: 2, memoryMb: FUNCTIONS.authorizer.memoryMb });
    expect(connected.lambda.connect?.invocations).toBe(2);
    expect(connected.lambda.authorizer!.billedMs).toBeGreaterThanOrEqual(connected.lambda.authorizer!.durationMs);
    // Two strongly consistent token reads (1 RRU each), two connection rows written to the
    // table and both of its indexes (3 WRU each).
    expect(connected.dynamodb).toMatchObject({ readUnits: 2, writeUnits: 6, byOperation: { GetItem: 2, PutItem: 2 } });
    expect(connected.apigw.connections).toBe(2);

    const beforeMessage = stack.usage.snapshot();
    await publish({ sqs: stack.sqs, queueUrl: stack.queues.queueUrl }, [{ room_id: 'metered', data: 'hello' }]);
    await Promise.all(clients.map((c) => c.waitFor(1)));
    // The poller deletes the record after the invocation returns.
    const delivered = await eventually(() => {
      const u = usageBetween(beforeMessage, stack.usage.snapshot());
      return (u.sqs.byAction.DeleteMessageBatch ?? 0) >= 1 && u;
    });
    expect(delivered.lambda['send-message']?.invocations).toBe(1);
    expect(delivered.apigw.messagesOut).toBe(2);
    // The room index read, and the history's numbering: the head read and the frame-id lookup
    // (on a new stream, both find nothing), the put at head + 1 and the high-water mark.
    expect(delivered.dynamodb.byOperation).toEqual({ Query: 3, PutItem: 1, UpdateItem: 1 });
    expect(delivered.dynamodb.readUnits).toBe(0.5); // two small rows: one eventually consistent page
    expect(delivered.dynamodb.writeUnits).toBe(4); // the put and its frame-id index entry, the mark (and one unit the meter adds for the index)
    expect(delivered.sqs.byAction).toMatchObject({ SendMessage: 1, DeleteMessageBatch: 1 });
    expect(delivered.sqs.byAction.ReceiveMessage).toBeGreaterThanOrEqual(1);
    expect(delivered.sqs.requests).toBeGreaterThanOrEqual(3);

    const beforeClose = stack.usage.snapshot();
    await Promise.all(clients.map((c) => c.close()));
    const closed = await eventually(() => {
      const u = usageBetween(beforeClose, stack.usage.snapshot());
      return (u.lambda.disconnect?.invocations ?? 0) >= 2 && u;
    });
    expect(closed.dynamodb).toMatchObject({ writeUnits: 6, byOperation: { DeleteItem: 2 } });
    const total = usageBetween(before, stack.usage.snapshot());
    expect(total.apigw.connectionMinutes).toBeGreaterThan(0);
    expect(total.apigw.connectionMinutes).toBeLessThan(1);
  });
});
