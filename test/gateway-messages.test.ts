/** Messages on an open connection of the local API Gateway: route selection, error frames, limits, idle and lifetime timeouts (docs/api-gateway-websocket.md §3, §5). */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { ID, cleanups, waitFor, sleep, gateway, managementClient, lambda, allow, open } from './helpers/gateway.js';

// ---- messages ----------------------------------------------------------------------------------

describe('messages', () => {
  it('puts the authorizer context on CONNECT, MESSAGE and DISCONNECT events', async () => {
    const connect = lambda();
    const message = lambda();
    const disconnect = lambda();
    const gw = await gateway({
      authorizer: async () => allow('*', { room_id: 'r1', level: 5, admin: false }),
      routes: { $connect: connect, $default: message, $disconnect: disconnect },
    });

    const client = await open(`${gw.url}?token=t`);
    client.ws.send('hello');
    await waitFor(() => message.events.length === 1, 'the message');
    client.ws.close(4000, 'bye');
    await waitFor(() => disconnect.events.length === 1, '$disconnect');

    const context = { principalId: 'user-1', room_id: 'r1', level: '5', admin: 'false' };
    const onConnect = connect.events[0].requestContext.authorizer;
    expect(onConnect).toMatchObject(context);
    expect(typeof onConnect.integrationLatency).toBe('number');
    expect(message.events[0].requestContext.authorizer).toEqual(context);
    expect(disconnect.events[0].requestContext.authorizer).toEqual(context);
    expect(disconnect.events[0].requestContext).toMatchObject({ disconnectStatusCode: 4000, disconnectReason: 'bye' });
  });

  it('selects routes on $request.body.action and builds MESSAGE events', async () => {
    const send = lambda();
    const fallback = lambda();
    const gw = await gateway({ routes: { sendMessage: send, $default: fallback } });
    const client = await open(gw.url);

    for (const body of ['{"action":"sendMessage","data":1}', '{"action":"other"}', 'not json', '{"data":1}', '{"action":"$connect"}', '[1]']) {
      client.ws.send(body);
    }
    await waitFor(() => send.events.length + fallback.events.length === 6, 'six messages');

    expect(send.events.map((e) => e.body)).toEqual(['{"action":"sendMessage","data":1}']);
    expect(fallback.events.map((e) => e.body)).toEqual(['{"action":"other"}', 'not json', '{"data":1}', '{"action":"$connect"}', '[1]']);
    const event = send.events[0];
    expect(event).toEqual({ requestContext: expect.any(Object), body: '{"action":"sendMessage","data":1}', isBase64Encoded: false });
    expect(event.requestContext).toMatchObject({ routeKey: 'sendMessage', eventType: 'MESSAGE', messageDirection: 'IN' });
    expect(event.requestContext.messageId).toMatch(ID);
    expect(event.requestContext.connectionId).toBe(gw.connectionIds()[0]);
    expect(fallback.events[0].requestContext.routeKey).toBe('$default');
  });

  it('answers the exact Forbidden frame when no route matches and there is no $default', async () => {
    const gw = await gateway({ routes: { sendMessage: lambda() } });
    const client = await open(gw.url);
    const [id] = gw.connectionIds();

    client.ws.send('{"action":"nope"}');
    expect(await client.next()).toMatch(
      new RegExp(`^\\{"message": "Forbidden", "connectionId":"${id}", "requestId":"[A-Za-z0-9_-]{15}="\\}$`),
    );
    client.ws.send('also nope');
    expect(JSON.parse(await client.next()).message).toBe('Forbidden');
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('answers an Internal server error frame when a route throws, and stays open', async () => {
    const gw = await gateway({
      routes: {
        $default: async (event) => {
          if (event.body === 'fail') throw new Error('handler bug');
          return { statusCode: 200, body: 'ignored' };
        },
      },
    });
    const client = await open(gw.url);
    const [id] = gw.connectionIds();

    client.ws.send('fail');
    expect(await client.next()).toMatch(
      new RegExp(`^\\{"message": "Internal server error", "connectionId":"${id}", "requestId":"[A-Za-z0-9_-]{15}="\\}$`),
    );
    client.ws.send('fine'); // its return value is dropped: no route response configured
    client.ws.send('fail');
    expect(JSON.parse(await client.next()).message).toBe('Internal server error');
  });

  it('answers an Endpoint request timed out frame when a route outlives the integration timeout', async () => {
    const gw = await gateway({ integrationTimeoutMs: 50, routes: { $default: () => sleep(1000) } });
    const client = await open(gw.url);

    client.ws.send('slow');
    expect(JSON.parse(await client.next())).toMatchObject({ message: 'Endpoint request timed out', connectionId: gw.connectionIds()[0] });
  });

  it('sends the proxy body back only for routes with a route response', async () => {
    const gw = await gateway({
      routeResponses: ['echo'],
      routes: {
        echo: async (e) => ({ statusCode: 200, body: `echo:${JSON.parse(e.body).data}` }),
        $default: async () => ({ statusCode: 200, body: 'dropped' }),
      },
    });
    const client = await open(gw.url);

    client.ws.send('{"action":"x"}');
    client.ws.send('{"action":"echo","data":"hi"}');
    expect(await client.next()).toBe('echo:hi');
  });

  it('routes the messages of one connection one at a time, in order', async () => {
    const log: string[] = [];
    const gw = await gateway({
      routes: {
        $default: async (e) => {
          log.push(`start ${e.body}`);
          await sleep(Number(e.body));
          log.push(`end ${e.body}`);
        },
      },
    });
    const client = await open(gw.url);

    for (const delay of ['40', '5', '20']) client.ws.send(delay);
    await waitFor(() => log.length === 6, 'three messages');
    expect(log).toEqual(['start 40', 'end 40', 'start 5', 'end 5', 'start 20', 'end 20']);
  });

  it('closes with 1003 on a binary frame', async () => {
    const disconnect = lambda();
    const gw = await gateway({ routes: { $default: lambda(), $disconnect: disconnect } });
    const client = await open(gw.url);

    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await client.closed).code).toBe(1003);
    await waitFor(() => disconnect.events.length === 1, '$disconnect');
    expect(disconnect.events[0].requestContext.disconnectStatusCode).toBe(1003);
  });

  it('closes with 1009 on a message over 128 KB', async () => {
    const gw = await gateway({ routes: { $default: lambda() } });
    const client = await open(gw.url);

    // 7 fragments of 20 KB: every frame is within 32 KB, the message is not.
    const part = Buffer.alloc(20 * 1024, 'a');
    for (let i = 0; i < 7; i++) client.ws.send(part, { binary: false, fin: i === 6 });
    expect((await client.closed).code).toBe(1009);
  });

  it('closes with 1009 on a single frame over 32 KB, but accepts the same message fragmented', async () => {
    const route = lambda();
    const gw = await gateway({ routes: { $default: route } });

    const fragmented = await open(gw.url);
    const half = 'b'.repeat(20 * 1024);
    fragmented.ws.send(half, { fin: false });
    fragmented.ws.send(half, { fin: true });
    await waitFor(() => route.events.length === 1, 'the fragmented message');
    expect(route.events[0].body).toHaveLength(40 * 1024);

    const whole = await open(gw.url);
    whole.ws.send('c'.repeat(40 * 1024));
    expect((await whole.closed).code).toBe(1009);
    expect(route.events).toHaveLength(1);
  });

  it('closes idle connections with 1001 and runs $disconnect; messages in either direction count as activity', async () => {
    const disconnect = lambda();
    const gw = await gateway({ idleTimeoutMs: 300, routes: { $default: lambda(), $disconnect: disconnect } });
    const sdk = managementClient(gw.managementEndpoint);
    const client = await open(gw.url);
    const [id] = gw.connectionIds();

    for (let i = 0; i < 6; i++) {
      await sleep(100);
      if (i % 2) client.ws.send('ping');
      else await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'keepalive' }));
    }
    expect(client.ws.readyState).toBe(WebSocket.OPEN);

    expect(await client.closed).toEqual({ code: 1001, reason: 'Going away' });
    await waitFor(() => disconnect.events.length === 1, '$disconnect');
    expect(disconnect.events[0].requestContext).toMatchObject({ disconnectStatusCode: 1001, disconnectReason: 'Going away' });
  });

  it('closes connections with 1001 at the maximum lifetime, active or not', async () => {
    const gw = await gateway({ maxLifetimeMs: 200 });
    const client = await open(gw.url);
    const pinger = setInterval(() => client.ws.send('x'), 20);
    cleanups.push(() => clearInterval(pinger));
    expect((await client.closed).code).toBe(1001);
  });
});
