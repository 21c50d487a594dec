/**
 * History, replay and messages to one user on the real local stack (queue → send-message →
 * history table → @connections → the client library over `ws`, and the resume route):
 * - a client that is away while 100 messages are published gets all 100 on reconnect, in
 *   order, once each, marked as replayed;
 * - the same queue message twice gets one seq;
 * - a gap older than the retention reaches the client as a `gap` event;
 * - a message to one user reaches both of that user's connections, in two rooms, and no other;
 * - resume reads only the connection's own room and user, whatever the body says.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { connect, type ConnectOptions, type Frame, type HermesClient } from '../client/hermes-client.js';
import { startTestStack } from './helpers/stack.js';
import { connect as rawConnect, eventually } from './helpers/ws.js';
import type { LocalStack } from '../src/local/stack.js';
import { issueToken } from '../src/core/tokens.js';
import { publish } from '../src/core/publish.js';
import type { QueueMessage } from '../src/core/envelope.js';
import { listRoomConnectionIds } from '../src/core/connections.js';
import { readHead, type StreamRef } from '../src/core/history.js';
import { toRecord } from '../src/local/poller.js';

const clients: HermesClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function helpers(getStack: () => LocalStack) {
  const tokenFor = (user: string, room: string) =>
    issueToken({ ddb: getStack().ddb, table: getStack().names.tokensTable, secret: getStack().jwtSecret, bcryptCost: 4 }, { userId: user, roomId: room, ttlSeconds: 600 });
  const send = async (messages: QueueMessage[]) => {
    const res = await publish({ sqs: getStack().sqs, queueUrl: getStack().queues.queueUrl }, messages);
    expect(res.failed).toEqual([]);
  };
  const history = () => ({ ddb: getStack().ddb, table: getStack().names.historyTable, retentionSeconds: 3600, maxPerStream: 0 });
  const headOf = (stream: StreamRef) => readHead(history(), stream);
  const join = async (user: string, room: string, extra: Partial<ConnectOptions> = {}) => {
    const client = connect({ url: getStack().endpoints.websocket, token: (await tokenFor(user, room)).token, WebSocket, backoff: { initialMs: 100, maxMs: 500 }, ...extra });
    clients.push(client);
    const t = { client, frames: [] as Frame[], duplicates: [] as Frame[], gaps: [] as unknown[], errors: [] as string[] };
    client.on('frame', (f) => t.frames.push(f));
    client.on('duplicate', (f) => t.duplicates.push(f));
    client.on('gap', (g) => t.gaps.push(g));
    client.on('error', (e) => t.errors.push(`${e.error}: ${e.message}`));
    await client.opened();
    // In the room index, and told where its streams are, before anything is published at it.
    await eventually(async () => (await listRoomConnectionIds({ ddb: getStack().ddb, table: getStack().names.connectionsTable }, room)).length > 0, 10_000, `a row in ${room}`);
    return t;
  };
  return { tokenFor, send, headOf, join };
}

describe('history and replay on the local stack', () => {
  let stack: LocalStack;
  const h = helpers(() => stack);
  beforeAll(async () => {
    stack = await startTestStack({ visibilityTimeoutSeconds: 2 });
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await stack?.close();
  });

  it('a client away while 100 messages are published gets all 100 on reconnect, in order, once each', async () => {
    const room = `miss-${randomUUID().slice(0, 8)}`;
    const t = await h.join('alice', room);
    await h.send([{ room_id: room, data: 'before' }]);
    await eventually(() => t.frames.length === 1, 15_000, 'the first frame');
    const first = t.frames[0].seq!;
    // The gateway goes away; while it is down, 100 messages are published and kept.
    await stack.restartGateway({
      whileDown: async () => {
        await h.send(Array.from({ length: 100 }, (_, i) => ({ room_id: room, data: { n: i } })));
        await eventually(async () => (await h.headOf({ kind: 'room', id: room })) === first + 100, 30_000, '100 messages in the history');
      },
    });
    await eventually(() => t.frames.length === 101, 30_000, 'the 100 missed frames');
    const missed = t.frames.slice(1);
    expect(missed.map((f) => f.seq)).toEqual(Array.from({ length: 100 }, (_, i) => first + 1 + i));
    expect(new Set(missed.map((f) => f.id)).size).toBe(100);
    expect(missed.every((f) => f.replay === true && f.room_id === room)).toBe(true);
    // The publication order within a batch is SQS's, so compare the data as a set.
    expect(new Set(missed.map((f) => (f.data as { n: number }).n))).toEqual(new Set(Array.from({ length: 100 }, (_, i) => i)));
    // Live again afterwards, in order.
    await h.send([{ room_id: room, data: 'after' }]);
    await eventually(() => t.frames.length === 102, 15_000, 'a live frame after the replay');
    expect(t.frames[101]).toMatchObject({ seq: first + 101, data: 'after' });
    expect(t.frames[101].replay).toBeUndefined();
    expect(t.gaps).toEqual([]);
    expect(t.errors).toEqual([]);
    expect(t.client.positions().room).toBe(first + 101);
  });

  it('gives the same queue message, delivered twice, one seq', async () => {
    const room = `dup-${randomUUID().slice(0, 8)}`;
    const t = await h.join('alice', room);
    const id = `job-${randomUUID()}`;
    await h.send([{ room_id: room, data: 'one', id }]);
    await eventually(() => t.frames.length === 1, 15_000, 'the frame');
    await h.send([{ room_id: room, data: 'one again', id }]);
    await eventually(() => t.duplicates.length === 1, 15_000, 'the second copy');
    expect(t.duplicates[0]).toMatchObject({ id, seq: t.frames[0].seq, data: 'one' }); // the stored frame, not the new body
    expect(await h.headOf({ kind: 'room', id: room })).toBe(1);
    await h.send([{ room_id: room, data: 'two' }]);
    await eventually(() => t.frames.length === 2, 15_000, 'the next frame');
    expect(t.frames.map((f) => f.seq)).toEqual([1, 2]);
    // One SQS record handed to two invocations at once (no id: the SQS message id is the frame id).
    const record = toRecord({ MessageId: randomUUID(), ReceiptHandle: 'r', Body: JSON.stringify({ room_id: room, data: 'twice' }), Attributes: {}, MD5OfBody: '' }, stack.queues.queueArn, stack.region);
    const results = await Promise.all([1, 2].map(() => stack.functions['send-message'].invoke({ Records: [record] })));
    expect(results).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
    await eventually(() => t.frames.length === 3 && t.duplicates.length === 2, 15_000, 'the record once, and its copy');
    expect(t.frames[2]).toMatchObject({ id: record.messageId, seq: 3, data: 'twice' });
    expect(t.duplicates[1]).toMatchObject({ id: record.messageId, seq: 3 });
    expect(await h.headOf({ kind: 'room', id: room })).toBe(3);
  });

  it('sends a message to one user to both of that user’s connections, in two rooms, and no other', async () => {
    const [roomA, roomB] = [`ua-${randomUUID().slice(0, 8)}`, `ub-${randomUUID().slice(0, 8)}`];
    const user = `bob-${randomUUID().slice(0, 6)}`;
    const bobA = await h.join(user, roomA);
    const bobB = await h.join(user, roomB);
    const carolA = await h.join('carol', roomA);
    await h.send([{ to_user_id: user, user_id: 'billing', data: { type: 'info', data: 'Your invoice is ready' } }]);
    await eventually(() => bobA.frames.length === 1 && bobB.frames.length === 1, 15_000, 'both of bob’s connections');
    for (const t of [bobA, bobB]) {
      expect(t.frames[0]).toMatchObject({ room_id: null, to_user_id: user, user_id: 'billing', seq: 1, data: { data: 'Your invoice is ready' } });
    }
    expect(bobA.frames[0].id).toBe(bobB.frames[0].id);
    // Room messages keep their own numbers; carol, in bob's room A, never sees bob's message.
    await h.send([{ room_id: roomA, data: 'room message' }]);
    await eventually(() => carolA.frames.length === 1 && bobA.frames.length === 2, 15_000, 'the room message');
    expect(carolA.frames.map((f) => [f.room_id, f.seq, f.to_user_id])).toEqual([[roomA, 1, undefined]]);
    expect(bobB.frames).toHaveLength(1);
    expect(bobA.client.positions()).toEqual({ room: 1, user: 1 });
    // The user's stream replays too: a fresh connection from user seq 0 gets it again.
    const later = await h.join(user, roomB, { since: { user: 0 } });
    await eventually(() => later.frames.length === 1, 15_000, 'the replayed user message');
    expect(later.frames[0]).toMatchObject({ to_user_id: user, seq: 1, replay: true });
  });

  it('resume reads only the connection’s own room and user, whatever the body says', async () => {
    const room = `own-${randomUUID().slice(0, 8)}`;
    const other = `other-${randomUUID().slice(0, 8)}`;
    await h.send([{ room_id: other, data: 'secret' }, { to_user_id: 'victim', data: 'secret' }]);
    await eventually(async () => (await h.headOf({ kind: 'room', id: other })) === 1 && (await h.headOf({ kind: 'user', id: 'victim' })) >= 1, 15_000, 'the other streams');
    const ws = await rawConnect(stack.endpoints.websocket, (await h.tokenFor('mallory', room)).token);
    try {
      ws.ws.send(JSON.stringify({ action: 'resume', since: { room: 0, user: 0 }, room_id: other, user_id: 'victim' }));
      await ws.waitFor(2, 10_000);
      expect(ws.frames).toEqual([
        { resumed: { stream: 'room', history: true, since: 0, head: 0, through: 0, more: false, lost: [] } },
        { resumed: { stream: 'user', history: true, since: 0, head: 0, through: 0, more: false, lost: [] } },
      ]);
      ws.ws.send(JSON.stringify({ action: 'resume', since: { room: -1 } }));
      ws.ws.send(JSON.stringify({ action: 'resume', since: { everyone: 0 } }));
      ws.ws.send(JSON.stringify({ action: 'resume', since: { room: 0 }, until: { user: 3 } }));
      await ws.waitFor(5, 10_000);
      expect(ws.frames.slice(2).map((f) => (f as { error: string }).error)).toEqual(['invalid_resume', 'invalid_resume', 'invalid_resume']);
    } finally {
      await ws.close();
    }
  });
});

describe('a gap older than the retention', () => {
  let stack: LocalStack;
  const h = helpers(() => stack);
  beforeAll(async () => {
    stack = await startTestStack({ historyRetentionSeconds: 1 });
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await stack?.close();
  });

  it('is reported to the client as a gap event, and delivery goes on after it', async () => {
    const room = `old-${randomUUID().slice(0, 8)}`;
    await h.send([1, 2, 3].map((n) => ({ room_id: room, data: n })));
    await eventually(async () => (await h.headOf({ kind: 'room', id: room })) === 3, 15_000, 'three messages kept');
    await new Promise((r) => setTimeout(r, 2100)); // past their 1 s retention
    // A page that last saw seq 0 comes back: 1-3 are gone.
    const t = await h.join('dora', room, { since: { room: 0 } });
    await eventually(() => t.gaps.length === 1, 15_000, 'the gap event');
    expect(t.gaps).toEqual([{ stream: 'room', from: 1, to: 3 }]);
    await h.send([{ room_id: room, data: 4 }]);
    await eventually(() => t.frames.length === 1, 15_000, 'the next frame');
    expect(t.frames[0]).toMatchObject({ seq: 4, data: 4 });
    expect(t.client.positions().room).toBe(4);
  });
});
