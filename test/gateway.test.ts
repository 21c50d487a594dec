/**
 * The local API Gateway against real clients: `ws` sockets on one side, the real
 * `@aws-sdk/client-apigatewaymanagementapi` client on the other. The Lambda handlers are tiny
 * fake invokers, since `Invoke` is the Lambda boundary here. Every wait is bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import WebSocket from 'ws';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  ForbiddenException,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { startGateway, type Gateway, type GatewayOptions, type Invoke } from '../src/local/gateway.js';
import { AUTHORIZER } from '../src/stack/definition.js';

const WAIT_MS = 3000;
const ID = /^[A-Za-z0-9_-]{15}=$/;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// ---- helpers -----------------------------------------------------------------------------------

function bounded<T>(work: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function waitFor(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function gateway(opts: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const gw = await startGateway({ host: '127.0.0.1', port: 0, stage: 'local', routes: {}, identitySources: [...AUTHORIZER.identitySource], ...opts });
  cleanups.push(() => gw.close());
  return gw;
}

function managementClient(endpoint: string): ApiGatewayManagementApiClient {
  const client = new ApiGatewayManagementApiClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
    maxAttempts: 1,
  });
  cleanups.push(() => client.destroy());
  return client;
}

/** A fake Lambda that records its events and answers with `answer(event)`. */
function lambda(answer: (event: any) => unknown = () => ({ statusCode: 200 })): Invoke & { events: any[] } {
  const events: any[] = [];
  const fn = async (event: any) => {
    events.push(event);
    return answer(event);
  };
  return Object.assign(fn, { events });
}

function allow(resource = '*', context: Record<string, unknown> = {}, effect = 'Allow') {
  return {
    principalId: 'user-1',
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
    context,
  };
}

interface Client {
  ws: WebSocket;
  next(): Promise<string>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a socket and collects its frames; rejects if the handshake is refused. */
async function open(url: string, options: { protocols?: string[]; userAgent?: string } = {}): Promise<Client> {
  const headers = options.userAgent ? { 'User-Agent': options.userAgent } : undefined;
  const ws = new WebSocket(url, options.protocols ?? [], { headers });
  cleanups.push(() => ws.terminate());
  const frames: string[] = [];
  const waiting: Array<(frame: string) => void> = [];
  ws.on('message', (data) => {
    const frame = data.toString();
    const resolve = waiting.shift();
    if (resolve) resolve(frame);
    else frames.push(frame);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await bounded(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    'the handshake',
  );
  return {
    ws,
    next: () =>
      bounded(
        frames.length > 0 ? Promise.resolve(frames.shift()!) : new Promise<string>((resolve) => waiting.push(resolve)),
        'a frame',
      ),
    closed: bounded(closed, 'the close'),
  };
}

/** The HTTP status (and body) of a handshake the gateway refuses. */
async function refusal(url: string): Promise<{ status: number; body: string }> {
  const ws = new WebSocket(url);
  cleanups.push(() => ws.terminate());
  return bounded(
    new Promise((resolve, reject) => {
      ws.once('open', () => reject(new Error('the handshake unexpectedly succeeded')));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
    }),
    'the refused handshake',
  );
}

// ---- $connect and the authorizer --------------------------------------------------------------

describe('handshake and authorizer', () => {
  it('answers 401 without invoking the authorizer when the token is missing or empty', async () => {
    const authorizer = lambda(() => allow());
    const gw = await gateway({ authorizer });

    expect((await refusal(gw.url)).status).toBe(401);
    expect((await refusal(`${gw.url}?token=`)).status).toBe(401);
    expect((await refusal(`${gw.url}?other=x`)).status).toBe(401);
    expect(authorizer.events).toHaveLength(0);
  });

  it('answers 403 when the policy denies $connect or does not cover it', async () => {
    let answer: unknown = allow('*', {}, 'Deny');
    const gw = await gateway({ authorizer: lambda(() => answer) });

    expect((await refusal(`${gw.url}?token=t`)).status).toBe(403);
    answer = allow(`arn:aws:execute-api:us-east-1:123456789012:${gw.apiId}/other-stage/$connect`);
    expect((await refusal(`${gw.url}?token=t`)).status).toBe(403);
    answer = allow(`arn:aws:execute-api:us-east-1:123456789012:${gw.apiId}/local/*`);
    await open(`${gw.url}?token=t`);
  });

  it('answers 401 on the error "Unauthorized" and 500 on other failures or malformed results', async () => {
    let answer: () => unknown = () => {
      throw new Error('Unauthorized');
    };
    const gw = await gateway({ authorizer: async () => answer() });

    expect((await refusal(`${gw.url}?token=t`)).status).toBe(401);
    answer = () => {
      throw new Error('database down');
    };
    expect((await refusal(`${gw.url}?token=t`)).status).toBe(500);
    answer = () => ({ principalId: 'user-1' }); // no policyDocument
    expect((await refusal(`${gw.url}?token=t`)).status).toBe(500);
    answer = () => allow('*', { room: { nested: true } }); // context values must be scalars
    expect((await refusal(`${gw.url}?token=t`)).status).toBe(500);
    answer = () => allow('*', { rooms: ['a', 'b'] });
    expect((await refusal(`${gw.url}?token=t`)).status).toBe(500);
  });

  it('sends the authorizer a REQUEST event for the connection it is about to open', async () => {
    const authorizer = lambda(() => allow());
    const connect = lambda();
    const gw = await gateway({ authorizer, routes: { $connect: connect } });

    await open(`${gw.url}?token=abc&token=def`);

    const event = authorizer.events[0];
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: `arn:aws:execute-api:us-east-1:123456789012:${gw.apiId}/local/$connect`,
      queryStringParameters: { token: 'def' },
      multiValueQueryStringParameters: { token: ['abc', 'def'] },
      stageVariables: {},
      requestContext: { routeKey: '$connect', eventType: 'CONNECT', stage: 'local', apiId: gw.apiId },
    });
    expect(event.headers['Sec-WebSocket-Version']).toBe('13');
    expect(event.multiValueHeaders['Sec-WebSocket-Version']).toEqual(['13']);
    expect(event.requestContext.connectionId).toBe(connect.events[0].requestContext.connectionId);
  });

  it('passes a non-2xx $connect status through, and answers 502 when $connect throws', async () => {
    let answer: () => unknown = () => ({ statusCode: 403 });
    const gw = await gateway({ routes: { $connect: async () => answer() } });

    expect((await refusal(gw.url)).status).toBe(403);
    answer = () => ({ statusCode: 501, body: 'nope' });
    expect(await refusal(gw.url)).toEqual({ status: 501, body: 'nope' });
    answer = () => {
      throw new Error('connect failed');
    };
    expect((await refusal(gw.url)).status).toBe(502);
  });

  it('answers 504 when $connect outlives the integration timeout', async () => {
    const gw = await gateway({ integrationTimeoutMs: 50, routes: { $connect: () => sleep(500).then(() => ({ statusCode: 200 })) } });
    expect((await refusal(gw.url)).status).toBe(504);
  });

  it('refuses handshakes to another stage', async () => {
    const connect = lambda();
    const gw = await gateway({ routes: { $connect: connect } });
    expect((await refusal(gw.url.replace('/local', '/prod'))).status).toBe(403);
    expect(connect.events).toHaveLength(0);
    await open(`${gw.url}/`);
  });

  it('builds the CONNECT event with query keys only when there is a query string', async () => {
    const connect = lambda();
    const gw = await gateway({ routes: { $connect: connect } });

    await open(gw.url, { userAgent: 'vitest-agent' });
    await open(`${gw.url}?room=r1`);

    const [bare, withQuery] = connect.events;
    expect(bare).not.toHaveProperty('queryStringParameters');
    expect(bare).not.toHaveProperty('multiValueQueryStringParameters');
    expect(bare).not.toHaveProperty('body');
    expect(bare.isBase64Encoded).toBe(false);
    expect(bare.headers['User-Agent']).toBe('vitest-agent');
    expect(bare.requestContext).toMatchObject({
      routeKey: '$connect',
      eventType: 'CONNECT',
      messageDirection: 'IN',
      stage: 'local',
      apiId: gw.apiId,
      domainName: `127.0.0.1:${gw.port}`,
      identity: { sourceIp: '127.0.0.1', userAgent: 'vitest-agent' },
    });
    expect(bare.requestContext.connectionId).toMatch(ID);
    expect(bare.requestContext.requestId).toMatch(ID);
    expect(bare.requestContext.extendedRequestId).toBe(bare.requestContext.requestId);
    expect(bare.requestContext.requestTime).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(bare.requestContext).not.toHaveProperty('authorizer');
    expect(withQuery.queryStringParameters).toEqual({ room: 'r1' });
    expect(withQuery.multiValueQueryStringParameters).toEqual({ room: ['r1'] });
  });

  it('answers 410 to a POST while $connect is still running, and opens the socket after', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const connect = lambda(() => released.then(() => ({ statusCode: 200 })));
    const gw = await gateway({ routes: { $connect: connect } });
    const sdk = managementClient(gw.managementEndpoint);

    const opening = open(gw.url);
    await waitFor(() => connect.events.length === 1, '$connect');
    const id = connect.events[0].requestContext.connectionId;
    await expect(sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'early' }))).rejects.toBeInstanceOf(GoneException);

    release();
    const client = await opening;
    await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'now' }));
    expect(await client.next()).toBe('now');
  });

  it('runs $disconnect when the client leaves while $connect is still running', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const connect = lambda(() => released.then(() => ({ statusCode: 200 })));
    const disconnect = lambda();
    const gw = await gateway({ routes: { $connect: connect, $disconnect: disconnect } });

    const ws = new WebSocket(gw.url);
    ws.on('error', () => {});
    await waitFor(() => connect.events.length === 1, '$connect');
    ws.terminate();
    await sleep(50);
    release();

    await waitFor(() => disconnect.events.length === 1, '$disconnect');
    expect(disconnect.events[0].requestContext.connectionId).toBe(connect.events[0].requestContext.connectionId);
    expect(gw.connectionCount()).toBe(0);
  });

  it('accepts a subprotocol only when $connect returns it', async () => {
    let chosen: string | undefined = 'hermes.v1';
    const gw = await gateway({
      routes: { $connect: async () => ({ statusCode: 200, headers: chosen ? { 'Sec-WebSocket-Protocol': chosen } : {} }) },
    });

    expect((await open(gw.url, { protocols: ['hermes.v1'] })).ws.protocol).toBe('hermes.v1');
    chosen = undefined;
    await expect(open(gw.url, { protocols: ['hermes.v1'] })).rejects.toThrow(/subprotocol/);
  });
});

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

// ---- @connections -------------------------------------------------------------------------------

describe('@connections management API', () => {
  it('PostToConnection delivers the body as one text frame', async () => {
    const gw = await gateway();
    const sdk = managementClient(gw.managementEndpoint);
    const client = await open(gw.url);
    const [id] = gw.connectionIds();

    const result = await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: '{"data":"hi"}' }));
    expect(result.$metadata.httpStatusCode).toBe(200);
    expect(await client.next()).toBe('{"data":"hi"}');

    const big = 'x'.repeat(131072); // the limit itself is allowed, sent in 32 KB frames
    await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: big }));
    expect(await client.next()).toBe(big);
  });

  it('GetConnection returns connectedAt, identity and lastActiveAt', async () => {
    const gw = await gateway();
    const sdk = managementClient(gw.managementEndpoint);
    const before = Date.now();
    await open(gw.url, { userAgent: 'vitest-agent' });
    const [id] = gw.connectionIds();

    const info = await sdk.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(info.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: 'vitest-agent' });
    expect(info.ConnectedAt).toBeInstanceOf(Date);
    expect(info.ConnectedAt!.getTime()).toBeGreaterThanOrEqual(before);
    expect(info.LastActiveAt!.getTime()).toBeGreaterThanOrEqual(info.ConnectedAt!.getTime());

    const raw = await fetch(`${gw.managementEndpoint}/@connections/${encodeURIComponent(id)}`);
    expect(Object.keys(await raw.json())).toEqual(['connectedAt', 'identity', 'lastActiveAt']);
  });

  it('DeleteConnection closes with 1000 and runs $disconnect; later calls get 410', async () => {
    const disconnect = lambda();
    const gw = await gateway({ routes: { $disconnect: disconnect } });
    const sdk = managementClient(gw.managementEndpoint);
    const client = await open(gw.url);
    const [id] = gw.connectionIds();

    const result = await sdk.send(new DeleteConnectionCommand({ ConnectionId: id }));
    expect(result.$metadata.httpStatusCode).toBe(204);
    expect(await client.closed).toEqual({ code: 1000, reason: 'Connection Closed Normally' });
    await waitFor(() => disconnect.events.length === 1, '$disconnect');
    expect(disconnect.events[0].requestContext).toMatchObject({
      routeKey: '$disconnect',
      eventType: 'DISCONNECT',
      connectionId: id,
      disconnectStatusCode: 1000,
      disconnectReason: 'Connection Closed Normally',
    });
    expect(disconnect.events[0].headers).toHaveProperty('x-api-key', '');
    await expect(sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x' }))).rejects.toBeInstanceOf(GoneException);
    await expect(sdk.send(new DeleteConnectionCommand({ ConnectionId: id }))).rejects.toBeInstanceOf(GoneException);
    expect(gw.connectionCount()).toBe(0);
  });

  it('answers 410 GoneException with an empty body for unknown ids', async () => {
    const gw = await gateway();
    const sdk = managementClient(gw.managementEndpoint);

    await expect(sdk.send(new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=', Data: 'x' }))).rejects.toBeInstanceOf(
      GoneException,
    );
    await expect(sdk.send(new GetConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=' }))).rejects.toBeInstanceOf(GoneException);

    const raw = await fetch(`${gw.managementEndpoint}/@connections/AAAAAAAAAAAAAAA%3D`, { method: 'POST', body: 'x' });
    expect(raw.status).toBe(410);
    expect(raw.headers.get('x-amzn-errortype')).toBe('GoneException');
    expect(await raw.text()).toBe('');
  });

  it('decodes percent-encoded ids and accepts %40connections', async () => {
    const gw = await gateway();
    const client = await open(gw.url);
    const [id] = gw.connectionIds();

    const raw = await fetch(`${gw.managementEndpoint}/%40connections/${encodeURIComponent(id)}`, { method: 'POST', body: 'encoded' });
    expect(raw.status).toBe(200);
    expect(await client.next()).toBe('encoded');
  });

  it('answers 413 PayloadTooLargeException above 131072 bytes', async () => {
    const gw = await gateway();
    const sdk = managementClient(gw.managementEndpoint);
    await open(gw.url);
    const [id] = gw.connectionIds();

    const error = await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x'.repeat(131073) })).catch((e) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeException);
    expect(error.$metadata.httpStatusCode).toBe(413);
  });

  it('answers 403 ForbiddenException when the endpoint lacks the stage', async () => {
    const gw = await gateway();
    await open(gw.url);
    const [id] = gw.connectionIds();
    const noStage = managementClient(gw.managementEndpoint.replace('/local', ''));
    const wrongStage = managementClient(gw.managementEndpoint.replace('/local', '/prod'));

    await expect(noStage.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'x' }))).rejects.toBeInstanceOf(ForbiddenException);
    await expect(wrongStage.send(new GetConnectionCommand({ ConnectionId: id }))).rejects.toBeInstanceOf(ForbiddenException);
    const raw = await fetch(`http://127.0.0.1:${gw.port}/@connections/${encodeURIComponent(id)}`, { method: 'POST', body: 'x' });
    expect(raw.status).toBe(403);
    expect(await raw.json()).toEqual({ message: 'Forbidden' });
  });

  it('answers 429 LimitExceededException while the client is not reading', async () => {
    const gw = await gateway();
    const sdk = managementClient(gw.managementEndpoint);
    const client = await open(gw.url);
    const [id] = gw.connectionIds();
    (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();

    const chunk = 'z'.repeat(131072);
    let error: unknown;
    for (let i = 0; i < 400 && !error; i++) {
      error = await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: chunk })).then(() => undefined, (e) => e);
    }
    expect(error).toBeInstanceOf(LimitExceededException);
  });

  it('after dropConnection, POSTs get 410 and $disconnect does not run unless asked', async () => {
    const disconnect = lambda();
    const gw = await gateway({ routes: { $disconnect: disconnect } });
    const sdk = managementClient(gw.managementEndpoint);
    const first = await open(gw.url);
    await open(gw.url);
    const [a, b] = gw.connectionIds();

    expect(gw.dropConnection(a)).toBe(true);
    expect(gw.dropConnection(a)).toBe(false);
    expect((await first.closed).code).toBe(1006);
    await expect(sdk.send(new PostToConnectionCommand({ ConnectionId: a, Data: 'x' }))).rejects.toBeInstanceOf(GoneException);
    expect(gw.connectionIds()).toEqual([b]);

    gw.dropConnection(b, { runDisconnect: true });
    await waitFor(() => disconnect.events.length === 1, '$disconnect');
    expect(disconnect.events[0].requestContext).toMatchObject({ connectionId: b, disconnectStatusCode: 1006 });
  });
});

// ---- the server --------------------------------------------------------------------------------

describe('server', () => {
  it('rejects with EADDRINUSE when the port is busy', async () => {
    const first = await gateway();
    await expect(startGateway({ host: '127.0.0.1', port: first.port, stage: 'local', routes: {} })).rejects.toMatchObject({
      code: 'EADDRINUSE',
      message: expect.stringContaining(String(first.port)),
    });

    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const port = (blocker.address() as { port: number }).port;
    await expect(startGateway({ host: '127.0.0.1', port, stage: 'local', routes: {} })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('serves extra HTTP routes through httpHandler and answers 403 otherwise', async () => {
    const gw = await gateway({
      httpHandler: (req, res) => {
        if (req.url !== '/demo') return false;
        res.end('demo page');
        return true;
      },
    });
    expect(await (await fetch(`http://127.0.0.1:${gw.port}/demo`)).text()).toBe('demo page');
    expect((await fetch(`http://127.0.0.1:${gw.port}/elsewhere`)).status).toBe(403);
  });

  it('close() closes sockets with 1001, runs $disconnect, and does not hang on a stuck handler', async () => {
    const disconnect = lambda((e) => (e.requestContext.connectionId === stuckId ? new Promise(() => {}) : undefined));
    let stuckId = '';
    const gw = await startGateway({ host: '127.0.0.1', port: 0, stage: 'local', routes: { $disconnect: disconnect } });
    const clients = [await open(gw.url), await open(gw.url)];
    stuckId = gw.connectionIds()[0];

    const started = Date.now();
    await bounded(gw.close(), 'close()', 5000);
    expect(Date.now() - started).toBeLessThan(4000);
    for (const client of clients) expect((await client.closed).code).toBe(1001);
    expect(disconnect.events.map((e) => e.requestContext.disconnectStatusCode)).toEqual([1001, 1001]);
    await expect(fetch(gw.managementEndpoint)).rejects.toThrow();
  });
});
