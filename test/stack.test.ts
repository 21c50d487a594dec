/**
 * The whole system on the local stack, with real `ws` clients and the real SDK clients:
 * tokens, connect, fan-out from the queue, the sendMessage route, refusals, pruning, and the
 * dead-letter queue.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SendMessageCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import jwt from 'jsonwebtoken';
import { startTestStack } from './helpers/stack.js';
import { connect, refusedStatus, eventually, sleep, type TestClient } from './helpers/ws.js';
import type { LocalStack } from '../src/local/stack.js';
import { issueToken, revokeToken } from '../src/core/tokens.js';
import { publish } from '../src/core/publish.js';
import { getConnection, listRoomConnectionIds } from '../src/core/connections.js';

let stack: LocalStack;
const open: TestClient[] = [];

async function tokenFor(user: string, room: string, ttlSeconds = 600) {
  return issueToken(
    { ddb: stack.ddb, table: stack.names.tokensTable, signingKey: await stack.signingKeys.current(), bcryptCost: 4 },
    { userId: user, roomId: room, ttlSeconds },
  );
}

async function join(user: string, room: string): Promise<TestClient> {
  const t = await tokenFor(user, room);
  const c = await connect(stack.endpoints.websocket, t.token);
  open.push(c);
  return c;
}

function send(room: string, data: unknown, extra: Record<string, unknown> = {}) {
  return publish({ sqs: stack.sqs, queueUrl: stack.queues.queueUrl }, [{ room_id: room, user_id: 'backend', data, ...extra }]);
}

beforeAll(async () => {
  // connectGraceSeconds 0: the pruning test's client vanishes seconds after connecting, which
  // the default grace (a handshake may still be in $connect) would rightly leave alone.
  stack = await startTestStack({ visibilityTimeoutSeconds: 1, connectGraceSeconds: 0 });
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await stack?.close();
});

describe('local stack end to end', () => {
  it('delivers a queued message to every connection of its room and to no other room', async () => {
    const a1 = await join('alice', 'room-a');
    const a2 = await join('bob', 'room-a');
    const b1 = await join('carol', 'room-b');
    const res = await send('room-a', { type: 'info', data: 'Backup job finished' });
    expect(res.failed).toEqual([]);
    const [f1] = await a1.waitFor(1);
    const [f2] = await a2.waitFor(1);
    expect(f1).toMatchObject({ room_id: 'room-a', user_id: 'backend', data: { type: 'info', data: 'Backup job finished' } });
    expect(f2).toEqual(f1);
    expect(typeof (f1 as { id: string }).id).toBe('string');
    expect(Date.parse((f1 as { sent_at: string }).sent_at)).not.toBeNaN();
    // A message for room-b after it proves room-b's client was listening, and got only its own.
    await send('room-b', 'for b only');
    await b1.waitFor(1);
    await sleep(200);
    expect(b1.frames).toHaveLength(1);
    expect(b1.frames[0]).toMatchObject({ room_id: 'room-b', data: 'for b only' });
    expect(a1.frames).toHaveLength(1);
  });

  it('broadcasts sendMessage to the sender\'s room, taking room and user from the token, not the body', async () => {
    const s = await join('dave', 'chat-1');
    const peer = await join('erin', 'chat-1');
    const other = await join('mallory', 'chat-2');
    s.ws.send(JSON.stringify({ action: 'sendMessage', room_id: 'chat-2', user_id: 'root', data: { type: 'info', data: 'hi' } }));
    const f = await peer.waitFor(1);
    expect(f[0]).toMatchObject({ room_id: 'chat-1', user_id: 'dave', data: { type: 'info', data: 'hi' } });
    await s.waitFor(1);
    await sleep(200);
    expect(other.frames).toHaveLength(0);
  });

  it('answers an unknown action and a non-JSON frame with an error frame to the sender only', async () => {
    const s = await join('frank', 'err-room');
    const peer = await join('gina', 'err-room');
    s.ws.send(JSON.stringify({ action: 'shout', data: 1 }));
    const e1 = await s.waitForFrame((f) => f.error === 'unknown_action');
    expect(e1.message).toContain('shout');
    s.ws.send('not json');
    await s.waitForFrame((f) => f.error === 'invalid_json');
    await sleep(200);
    expect(peer.frames).toHaveLength(0);
  });

  it('refuses revoked, expired, tampered, wrongly signed and other-room tokens at connect', async () => {
    const url = stack.endpoints.websocket;
    expect(await refusedStatus(url)).toBe(401); // no token: the authorizer is not even invoked

    const revoked = await tokenFor('henry', 'r1');
    await revokeToken({ ddb: stack.ddb, table: stack.names.tokensTable }, 'henry', revoked.tokenId);
    expect(await refusedStatus(url, revoked.token)).toBe(403);

    const expired = await tokenFor('ivy', 'r1', 1);
    await sleep(2100);
    expect(await refusedStatus(url, expired.token)).toBe(403);

    const good = await tokenFor('jack', 'r1');
    const [h, p, s] = good.token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tamperedPayload = Buffer.from(JSON.stringify({ ...claims, room_id: 'r2' })).toString('base64url');
    expect(await refusedStatus(url, `${h}.${tamperedPayload}.${s}`)).toBe(403);

    const wrongKey = jwt.sign({ ...claims }, 'not-the-stage-secret-not-the-stage-secret', { algorithm: 'HS512' });
    expect(await refusedStatus(url, wrongKey)).toBe(403);

    // Signed with the real key but claiming another room than the one the token was issued for.
    const otherRoom = jwt.sign({ ...claims, room_id: 'r2' }, (await stack.signingKeys.current()).secret, { algorithm: 'HS512', keyid: (await stack.signingKeys.current()).kid });
    expect(await refusedStatus(url, otherRoom)).toBe(403);

    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    expect(await refusedStatus(url, none)).toBe(403);

    // The untouched token still works.
    const c = await connect(url, good.token);
    open.push(c);
  });

  it('prunes a connection whose client vanished without closing on the next fan-out', async () => {
    const keep = await join('kim', 'prune-room');
    const gone = await join('leo', 'prune-room');
    const deps = { ddb: stack.ddb, table: stack.names.connectionsTable };
    const ids = await eventually(async () => {
      const ids = await listRoomConnectionIds(deps, 'prune-room');
      return ids.length === 2 ? ids : undefined;
    });
    // Leo's connection id: the one whose row says user leo.
    let leoId: string | undefined;
    for (const id of ids) if ((await getConnection(deps, id))?.user_id === 'leo') leoId = id;
    expect(stack.gateway.dropConnection(leoId!)).toBe(true);
    await gone.closed; // the socket is cut, no $disconnect ran
    expect(await getConnection(deps, leoId!)).toBeDefined();

    await send('prune-room', 'after the drop');
    await keep.waitFor(1);
    await eventually(async () => (await getConnection(deps, leoId!)) === undefined, 10_000, 'stale row deleted');
    expect(await listRoomConnectionIds(deps, 'prune-room')).toHaveLength(1);
  });

  it('moves a poison message to the dead-letter queue with the reason, and keeps delivering the rest', async () => {
    const c = await join('mia', 'poison-room');
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: 'this is not json' }));
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: JSON.stringify({ data: 'no room' }) }));
    await send('poison-room', 'still flowing');
    await c.waitFor(1);
    const dead: Message[] = [];
    await eventually(async () => {
      const res = await stack.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: stack.queues.dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], VisibilityTimeout: 30 }),
      );
      dead.push(...(res.Messages ?? []));
      return dead.length >= 2;
    }, 15_000, 'two dead letters');
    const bodies = dead.map((m) => m.Body);
    expect(bodies).toContain('this is not json');
    const notJson = dead.find((m) => m.Body === 'this is not json')!;
    expect(notJson.MessageAttributes?.hermes_error?.StringValue).toMatch(/not JSON/);
  });

  it('dead-letters data nested too deeply to encode at its first receive, and answers a sender of it with an error frame', async () => {
    const c = await join('nina', 'deep-room');
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const body = `{"room_id":"deep-room","data":${deep}}`;
    const sent = await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.queueUrl, MessageBody: body }));
    const dead = await eventually(async () => {
      const res = await stack.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: stack.queues.dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'], AttributeNames: ['All'], VisibilityTimeout: 30 }),
      );
      return (res.Messages ?? []).find((m) => m.MessageAttributes?.hermes_source_message_id?.StringValue === sent.MessageId);
    }, 15_000, 'the deep message in the dead-letter queue');
    expect(dead.MessageAttributes?.hermes_error?.StringValue).toBe("The message's data cannot be encoded as JSON: it is nested too deeply.");
    c.ws.send(`{"action":"sendMessage","data":${deep}}`);
    const e = await c.waitForFrame((f) => f.error === 'rejected');
    expect(e.message).toMatch(/nested too deeply/);
    expect(c.frames.filter((f: any) => f.room_id)).toHaveLength(0);
  });
});
