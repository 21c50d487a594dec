/**
 * The client library (client/hermes-client.ts) in Node with `ws`: against the real local stack
 * for delivery, send(), reconnects and token refresh; against an in-memory socket for the
 * protocol details (error frames, deduplication, retries, close()).
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import {
  connect,
  backoffDelay,
  tokenExpiry,
  KEEPALIVE_MESSAGE,
  MAX_SEND_BYTES,
  wsHandshakeStatus,
  type ClientError,
  type CloseInfo,
  type ConnectOptions,
  type ConnectionState,
  type Frame,
  type HermesClient,
  type WebSocketLike,
} from '../client/hermes-client.js';
import { startTestStack } from './helpers/stack.js';
import { eventually } from './helpers/ws.js';
import type { LocalStack } from '../src/local/stack.js';
import { issueToken, revokeToken } from '../src/core/tokens.js';
import { publish } from '../src/core/publish.js';
import { listRoomConnectionIds } from '../src/core/connections.js';
import { createHandler as createDefaultHandler } from '../lambdas/default.js';
import type { WebSocketEvent } from '../src/core/ws-event.js';

const FAST = { initialMs: 100, maxMs: 1000 };

interface Tracked {
  client: HermesClient;
  frames: Frame[];
  states: ConnectionState[];
  errors: ClientError[];
  closes: CloseInfo[];
  duplicates: Frame[];
}

const clients: HermesClient[] = [];

function track(options: ConnectOptions): Tracked {
  const client = connect(options);
  clients.push(client);
  const t: Tracked = { client, frames: [], states: [], errors: [], closes: [], duplicates: [] };
  client.on('frame', (f) => t.frames.push(f));
  client.on('state', (s) => t.states.push(s));
  client.on('error', (e) => t.errors.push(e));
  client.on('close', (c) => t.closes.push(c));
  client.on('duplicate', (f) => t.duplicates.push(f));
  return t;
}

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

const uniqueRoom = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

describe('client library against the local stack', () => {
  let stack: LocalStack;
  const tokenFor = (user: string, room: string) =>
    issueToken({ ddb: stack.ddb, table: stack.names.tokensTable, secret: stack.jwtSecret, bcryptCost: 4 }, { userId: user, roomId: room, ttlSeconds: 600 });
  const send = (room: string, data: unknown, id?: string) =>
    publish({ sqs: stack.sqs, queueUrl: stack.queues.queueUrl }, [{ room_id: room, user_id: 'backend', data, ...(id ? { id } : {}) }]);
  const join = async (user: string, room: string, extra: Partial<ConnectOptions> = {}) => {
    const t = track({ url: stack.endpoints.websocket, token: (await tokenFor(user, room)).token, WebSocket, backoff: FAST, ...extra });
    await t.client.opened();
    return t;
  };
  const connectionOf = async (room: string) =>
    eventually(async () => {
      const ids = await listRoomConnectionIds({ ddb: stack.ddb, table: stack.names.connectionsTable }, room);
      return ids.length === 1 && ids[0];
    }, 10_000, `one connection in ${room}`);

  beforeAll(async () => {
    stack = await startTestStack({ visibilityTimeoutSeconds: 1 });
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await stack?.close();
  });

  it('calls subscribers by data.type with data.data, and "*" subscribers with every frame', async () => {
    const room = uniqueRoom('subs');
    const t = await join('alice', room);
    const infos: Array<[unknown, Frame]> = [];
    const all: unknown[] = [];
    const alerts: unknown[] = [];
    t.client.subscribe('info', (data, frame) => infos.push([data, frame]));
    t.client.subscribe('alert', (data) => alerts.push(data));
    t.client.subscribe('*', (data) => all.push(data));

    await send(room, { type: 'info', data: 'Backup job finished' });
    await eventually(() => infos.length === 1, 15_000, 'the info frame');
    await send(room, { plain: true });
    await eventually(() => all.length === 2, 15_000, 'the untyped frame');

    expect(infos[0][0]).toBe('Backup job finished');
    expect(infos[0][1]).toMatchObject({ room_id: room, user_id: 'backend', data: { type: 'info' } });
    expect(typeof infos[0][1].id).toBe('string');
    expect(all).toEqual([{ type: 'info', data: 'Backup job finished' }, { plain: true }]);
    expect(alerts).toEqual([]);
    expect(t.errors).toEqual([]);
  });

  it('delivers a frame once when the same id arrives twice (at-least-once delivery)', async () => {
    const room = uniqueRoom('dedupe');
    const t = await join('alice', room);
    const seen: string[] = [];
    t.client.subscribe('*', (_data, frame) => seen.push(frame.id));
    const id = `dup-${randomUUID()}`;

    await publish({ sqs: stack.sqs, queueUrl: stack.queues.queueUrl }, [
      { room_id: room, data: { type: 'info', data: 'first copy' }, id },
      { room_id: room, data: { type: 'info', data: 'second copy' }, id },
    ]);
    await eventually(() => t.duplicates.length === 1, 15_000, 'the duplicate');

    expect(seen).toEqual([id]);
    expect(t.frames.map((f) => f.id)).toEqual([id]);
  });

  it('send() broadcasts through sendMessage to its own room only, as the token\'s user', async () => {
    const room = uniqueRoom('chat');
    const other = uniqueRoom('other');
    const a1 = await join('alice', room);
    const a2 = await join('carol', room);
    const b = await join('bob', other);
    const chats: Array<[unknown, Frame]> = [];
    a2.client.subscribe('chat', (data, frame) => chats.push([data, frame]));

    expect(a1.client.send({ type: 'chat', data: 'hello room' })).toBe(true);
    await eventually(() => chats.length === 1, 15_000, 'the chat at the other member');
    expect(chats[0][0]).toBe('hello room');
    expect(chats[0][1]).toMatchObject({ room_id: room, user_id: 'alice' });

    // A later message to the other room arrives there first and alone: the chat never did.
    await send(other, { type: 'info', data: 'sentinel' });
    await eventually(() => b.frames.length >= 1, 15_000, 'the sentinel');
    expect(b.frames.map((f) => f.data)).toEqual([{ type: 'info', data: 'sentinel' }]);
    expect(() => a1.client.send(undefined)).toThrow(TypeError);
    expect(() => a1.client.send('x'.repeat(MAX_SEND_BYTES))).toThrow(RangeError);
  });

  it('reconnects with backoff after its connection drops, and receives again', async () => {
    const room = uniqueRoom('drop');
    const t = await join('alice', room);
    const opens: boolean[] = [];
    t.client.on('open', ({ reconnect }) => opens.push(reconnect));

    stack.gateway.dropConnection(await connectionOf(room), { runDisconnect: true });
    await eventually(() => opens.length === 1, 15_000, 'the reconnect');

    expect(opens).toEqual([true]);
    expect(t.closes[0]).toMatchObject({ code: 1006, wasOpen: true });
    expect(t.closes[0].retryInMs).toBeGreaterThan(0);
    expect(t.states).toEqual(['connecting', 'open', 'reconnecting', 'connecting', 'open']);
    await send(room, { type: 'info', data: 'after the drop' });
    await eventually(() => t.frames.length === 1, 15_000, 'a frame after reconnecting');
  });

  it('keeps retrying while the gateway is down and reconnects when it is back', async () => {
    const room = uniqueRoom('restart');
    const t = await join('alice', room);
    await stack.restartGateway({
      // Two failed attempts prove it keeps trying against a closed port.
      whileDown: () => eventually(() => t.closes.filter((c) => !c.wasOpen).length >= 2, 20_000, 'two failed attempts'),
    });
    await t.client.opened();
    expect(t.closes[0]).toMatchObject({ code: 1001, wasOpen: true });
    expect(t.closes.slice(1).every((c) => !c.wasOpen && c.retryInMs! > 0)).toBe(true);

    await send(room, { type: 'info', data: 'after the restart' });
    await eventually(() => t.frames.length === 1, 15_000, 'a frame after the restart');
  });

  it('asks getToken() for a fresh token when its token is refused', async () => {
    const room = uniqueRoom('revoked');
    const first = await tokenFor('alice', room);
    let calls = 0;
    const t = await join('alice', room, {
      token: first.token,
      getToken: async () => {
        calls++;
        return (await tokenFor('alice', room)).token;
      },
    });
    expect(calls).toBe(0);

    await revokeToken({ ddb: stack.ddb, table: stack.names.tokensTable }, 'alice', first.tokenId);
    stack.gateway.dropConnection(await connectionOf(room), { runDisconnect: true });
    // The old token is tried first (a drop is usually just the network), refused, then renewed.
    await eventually(() => calls === 1 && t.client.state === 'open', 20_000, 'a new token and a new connection');

    expect(t.closes.some((c) => !c.wasOpen && /40[13]/.test(c.error ?? ''))).toBe(true);
    await send(room, { type: 'info', data: 'with the new token' });
    await eventually(() => t.frames.length === 1, 15_000, 'a frame with the new token');
  });

  it('with wsHandshakeStatus, a refused handshake closes with its HTTP status', async () => {
    const room = uniqueRoom('status');
    const issued = await tokenFor('alice', room);
    await revokeToken({ ddb: stack.ddb, table: stack.names.tokensTable }, 'alice', issued.tokenId);
    const refused = track({ url: stack.endpoints.websocket, token: issued.token, WebSocket, handshakeStatus: wsHandshakeStatus, backoff: FAST });
    await eventually(() => refused.closes.length >= 1, 15_000, 'the refusal');
    expect(refused.closes[0]).toMatchObject({ wasOpen: false, status: expect.any(Number), error: `Unexpected server response: ${refused.closes[0].status}` });
    expect([401, 403]).toContain(refused.closes[0].status);

    // Unreachable is not refused: no status, whatever the hook.
    const closed = track({ url: 'ws://127.0.0.1:1/x', token: 't', WebSocket, handshakeStatus: wsHandshakeStatus, backoff: FAST });
    await eventually(() => closed.closes.length >= 1, 15_000, 'the failed attempt');
    expect(closed.closes[0].status).toBeUndefined();
    expect(closed.closes[0].error).toMatch(/ECONNREFUSED/);
  });

  it('the built bundle (dist/client) works in Node with ws', async () => {
    const bundle = fileURLToPath(new URL('../dist/client/hermes-client.mjs', import.meta.url));
    expect(existsSync(bundle), 'run `npm run build` first').toBe(true);
    const mod = (await import(pathToFileURL(bundle).href)) as typeof import('../client/hermes-client.js');
    const room = uniqueRoom('bundle');
    const client = mod.connect({ url: stack.endpoints.websocket, token: (await tokenFor('alice', room)).token, WebSocket });
    clients.push(client);
    const got: unknown[] = [];
    client.subscribe('info', (d) => got.push(d));
    await client.opened();
    await send(room, { type: 'info', data: 'from the bundle' });
    await eventually(() => got.length === 1, 15_000, 'the frame');
    expect(got).toEqual(['from the bundle']);
  });
});

describe('keepalive against a gateway with a short idle timeout', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startTestStack({ idleTimeoutMs: 3000 });
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await stack?.close();
  });

  it('keeps an idle connection open, and the keepalive gets no error frame', async () => {
    const tokenFor = async (user: string) =>
      (await issueToken({ ddb: stack.ddb, table: stack.names.tokensTable, secret: stack.jwtSecret, bcryptCost: 4 }, { userId: user, roomId: 'quiet', ttlSeconds: 600 })).token;
    const kept = track({ url: stack.endpoints.websocket, token: await tokenFor('kept'), WebSocket, keepAliveMs: 300, backoff: FAST });
    const idle = track({ url: stack.endpoints.websocket, token: await tokenFor('idle'), WebSocket, keepAliveMs: 0, backoff: FAST });
    await Promise.all([kept.client.opened(), idle.client.opened()]);

    // The one without keepalives is closed by the idle timer; the other lived as long.
    await eventually(() => idle.closes.length >= 1, 20_000, 'the idle connection to be closed');
    expect(idle.closes[0]).toMatchObject({ code: 1001, wasOpen: true });
    expect(kept.closes).toEqual([]);
    expect(kept.client.state).toBe('open');
    expect(kept.errors).toEqual([]);
  });
});

describe('$default and the keepalive action', () => {
  const env = { HERMES_STAGE: 'test', HERMES_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:1/test' };
  const event = (body: string) =>
    ({ requestContext: { connectionId: 'c1', routeKey: '$default', eventType: 'MESSAGE', domainName: 'x', stage: 'test' }, body, isBase64Encoded: false }) as unknown as WebSocketEvent;

  it('answers {"action":"keepalive"} with nothing, and other unknown actions with an error frame', async () => {
    const posted: string[] = [];
    const management = { send: async (cmd: { input: { Data: Uint8Array } }) => void posted.push(Buffer.from(cmd.input.Data).toString()) };
    const handler = createDefaultHandler(env, { management: () => management as unknown as ApiGatewayManagementApiClient, logger: { info() {}, warn() {}, error() {} } });

    expect(await handler(event(KEEPALIVE_MESSAGE))).toEqual({ statusCode: 200, body: '' });
    expect(posted).toEqual([]);
    expect(await handler(event('{"action":"ping"}'))).toMatchObject({ statusCode: 400, body: 'unknown_action' });
    expect(JSON.parse(posted[0])).toMatchObject({ error: 'unknown_action' });
  });
});

/** An in-memory WebSocket: the test opens, feeds and closes it. */
function fakeSockets() {
  const sockets: FakeSocket[] = [];
  class FakeSocket implements WebSocketLike {
    readyState = 0;
    sent: string[] = [];
    closedWith?: number;
    onopen: ((e: any) => void) | null = null;
    onmessage: ((e: any) => void) | null = null;
    onclose: ((e: any) => void) | null = null;
    onerror: ((e: any) => void) | null = null;
    constructor(readonly url: string) {
      sockets.push(this);
    }
    send(data: string) {
      this.sent.push(data);
    }
    close(code = 1000) {
      this.closedWith = code;
      this.readyState = 3;
    }
    open() {
      this.readyState = 1;
      this.onopen?.({});
    }
    receive(data: unknown) {
      this.onmessage?.({ data });
    }
    fail(code = 1006, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
  }
  return { WebSocket: FakeSocket, sockets };
}

const jwtWithExp = (exp: number) => `h.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.s`;

describe('client library protocol details (in-memory socket)', () => {
  it('reports error frames as "error" events and ignores malformed ones without dispatching', async () => {
    const { WebSocket: WS, sockets } = fakeSockets();
    const t = track({ url: 'ws://h/s', token: 't', WebSocket: WS });
    const all: unknown[] = [];
    t.client.subscribe('*', (d) => all.push(d));
    await eventually(() => sockets.length === 1);
    sockets[0].open();
    sockets[0].receive('{"error":"missing_data","message":"sendMessage needs a \\"data\\" field"}');
    sockets[0].receive('{"message": "Internal server error", "connectionId":"c", "requestId":"r"}');
    sockets[0].receive('not json');
    sockets[0].receive(Buffer.from('binary'));
    sockets[0].receive('{"id":"1","room_id":"r","user_id":null,"data":"ok","sent_at":"2026-01-01T00:00:00.000Z"}');

    expect(t.errors.map((e) => [e.source, e.error])).toEqual([
      ['server', 'missing_data'],
      ['server', 'gateway'],
      ['protocol', 'invalid_frame'],
      ['protocol', 'binary_frame'],
    ]);
    expect(all).toEqual(['ok']);
  });

  it('puts the token in the URL, sends data through sendMessage, and keeps a throwing subscriber from stopping the others', async () => {
    const { WebSocket: WS, sockets } = fakeSockets();
    const t = track({ url: 'wss://h/prod?x=1', token: 'a b', WebSocket: WS });
    const got: unknown[] = [];
    t.client.subscribe('info', () => {
      throw new Error('boom');
    });
    t.client.subscribe('info', (d) => got.push(d));
    expect(t.client.send('early')).toBe(false);
    // Too large is said at once, open or not: a caller holding messages for later learns it now.
    expect(() => t.client.send('x'.repeat(MAX_SEND_BYTES))).toThrow(RangeError);
    await eventually(() => sockets.length === 1);
    expect(sockets[0].url).toBe('wss://h/prod?x=1&token=a+b');
    sockets[0].open();
    expect(t.client.send({ n: 1 })).toBe(true);
    // The first message of every connection asks where its two streams are.
    expect(sockets[0].sent).toEqual(['{"action":"resume","since":{"room":null,"user":null}}', '{"action":"sendMessage","data":{"n":1}}']);
    sockets[0].receive(JSON.stringify({ id: 'i', room_id: 'r', user_id: 'u', data: { type: 'info', data: 'x' }, sent_at: '' }));
    expect(got).toEqual(['x']);
    expect(t.errors.map((e) => e.error)).toEqual(['subscriber_threw']);
  });

  it('with only a static token, keeps retrying with growing delays and never gives up', async () => {
    const { WebSocket: WS, sockets } = fakeSockets();
    const t = track({ url: 'ws://h/s', token: 'static', WebSocket: WS, backoff: { initialMs: 5, maxMs: 40 }, random: () => 1 });
    for (let i = 1; i <= 5; i++) {
      await eventually(() => sockets.length === i, 10_000, `attempt ${i}`);
      sockets[i - 1].fail();
    }
    expect(t.closes.map((c) => c.retryInMs)).toEqual([5, 10, 20, 40, 40]);
    expect(sockets.every((s) => s.url === 'ws://h/s?token=static')).toBe(true);
    t.client.close();
    expect(t.client.state).toBe('closed');
  });

  it('a connection that closes soon after opening keeps the delays growing; one that lasted resets them', async () => {
    const { WebSocket: WS, sockets } = fakeSockets();
    const t = track({ url: 'ws://h/s', token: 't', WebSocket: WS, backoff: { initialMs: 10, maxMs: 1000, resetAfterMs: 80 }, random: () => 1 });
    for (let i = 1; i <= 2; i++) {
      await eventually(() => sockets.length === i, 10_000, `attempt ${i}`);
      sockets[i - 1].open();
      sockets[i - 1].fail(1011); // a server that accepts and drops at once
    }
    await eventually(() => sockets.length === 3, 10_000, 'attempt 3');
    sockets[2].open();
    await new Promise((r) => setTimeout(r, 120));
    sockets[2].fail(1001);
    expect(t.closes.map((c) => c.retryInMs)).toEqual([10, 20, 10]);
  });

  it('reports the status handshakeStatus read for a refused attempt, and only for that attempt', async () => {
    const { WebSocket: WS, sockets } = fakeSockets();
    const refusers: Array<(status: number) => void> = [];
    const t = track({ url: 'ws://h/s', token: 't', WebSocket: WS, handshakeStatus: (_s, refused) => void refusers.push(refused), backoff: { initialMs: 1, maxMs: 1 } });
    await eventually(() => sockets.length === 1);
    refusers[0](403);
    sockets[0].fail();
    await eventually(() => sockets.length === 2);
    sockets[1].open();
    refusers[1](500); // too late: the socket is open
    sockets[1].fail(1001);
    expect(t.closes).toMatchObject([
      { wasOpen: false, status: 403, error: 'Unexpected server response: 403' },
      { wasOpen: true, code: 1001 },
    ]);
    expect(t.closes[1].status).toBeUndefined();
  });

  it('calls getToken() first, after each failed attempt, and when the token is about to expire', async () => {
    const { WebSocket: WS, sockets } = fakeSockets();
    const now = Math.floor(Date.now() / 1000);
    const tokens = [jwtWithExp(now + 3600), jwtWithExp(now + 10), jwtWithExp(now + 3600), jwtWithExp(now + 3600)];
    let calls = 0;
    const t = track({ url: 'ws://h/s', getToken: () => tokens[calls++], WebSocket: WS, backoff: { initialMs: 1, maxMs: 1 } });
    await eventually(() => sockets.length === 1);
    expect(calls).toBe(1);
    sockets[0].fail(); // refused before opening: a fresh token next time
    await eventually(() => sockets.length === 2);
    expect(calls).toBe(2);
    sockets[1].open();
    sockets[1].fail(1001); // dropped after opening, but this token expires within 30 s
    await eventually(() => sockets.length === 3);
    expect(calls).toBe(3);
    sockets[2].open();
    sockets[2].fail(1001); // dropped after opening with a good token: reused
    await eventually(() => sockets.length === 4);
    expect(calls).toBe(3);
    expect(sockets[3].url).toBe(`ws://h/s?token=${tokens[2]}`);
    expect(t.errors).toEqual([]);
  });

  it('reports a failing getToken() as a token error and tries again', async () => {
    const { WebSocket: WS, sockets } = fakeSockets();
    let calls = 0;
    const t = track({
      url: 'ws://h/s',
      getToken: async () => {
        if (++calls === 1) throw new Error('backend down');
        return 'good';
      },
      WebSocket: WS,
      backoff: { initialMs: 1, maxMs: 1 },
    });
    await eventually(() => sockets.length === 1, 10_000, 'an attempt with the second token');
    expect(t.errors).toMatchObject([{ source: 'token', error: 'token_unavailable', message: 'getToken() failed: backend down' }]);
    expect(sockets[0].url).toBe('ws://h/s?token=good');
  });

  it('sends a keepalive only after keepAliveMs without traffic', async () => {
    const { WebSocket: WS, sockets } = fakeSockets();
    track({ url: 'ws://h/s', token: 't', WebSocket: WS, keepAliveMs: 50, resume: false });
    await eventually(() => sockets.length === 1);
    sockets[0].open();
    await eventually(() => sockets[0].sent.length >= 2, 10_000, 'two keepalives');
    expect(new Set(sockets[0].sent)).toEqual(new Set([KEEPALIVE_MESSAGE]));
  });

  it('gives up on a handshake that hangs and tries again', async () => {
    const { WebSocket: WS, sockets } = fakeSockets();
    const t = track({ url: 'ws://h/s', token: 't', WebSocket: WS, connectTimeoutMs: 20, backoff: { initialMs: 1, maxMs: 1 } });
    await eventually(() => sockets.length >= 2, 10_000, 'a second attempt');
    expect(sockets[0].closedWith).toBeDefined();
    expect(t.closes[0]).toMatchObject({ wasOpen: false, error: 'handshake timed out' });
  });

  it('close() stops everything: no reconnect, opened() rejects', async () => {
    const { WebSocket: WS, sockets } = fakeSockets();
    const t = track({ url: 'ws://h/s', token: 't', WebSocket: WS, backoff: { initialMs: 1, maxMs: 1 } });
    await eventually(() => sockets.length === 1);
    sockets[0].open();
    t.client.close();
    expect(sockets[0].closedWith).toBe(1000);
    await expect(t.client.opened()).rejects.toThrow(/closed/);
    await new Promise((r) => setTimeout(r, 30));
    expect(sockets).toHaveLength(1);
    expect(t.states.at(-1)).toBe('closed');
  });

  it('checks its options', () => {
    expect(() => connect({ url: 'http://h/s', token: 't', WebSocket: fakeSockets().WebSocket })).toThrow(/ws:\/\//);
    expect(() => connect({ url: 'ws://h/s', WebSocket: fakeSockets().WebSocket })).toThrow(/token/);
  });

  it('backoff: capped exponential ceiling, half of it jitter', () => {
    const b = { initialMs: 500, maxMs: 30_000, factor: 2 };
    expect([1, 2, 3, 7, 8, 20].map((n) => backoffDelay(n, b, () => 1))).toEqual([500, 1000, 2000, 30_000, 30_000, 30_000]);
    expect([1, 2, 3].map((n) => backoffDelay(n, b, () => 0))).toEqual([250, 500, 1000]);
  });

  it('reads a JWT exp without verifying it', () => {
    expect(tokenExpiry(jwtWithExp(1234))).toBe(1234);
    expect(tokenExpiry('not-a-jwt')).toBeUndefined();
    expect(tokenExpiry('a.%%%.c')).toBeUndefined();
  });
});
