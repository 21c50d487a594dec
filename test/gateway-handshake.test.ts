/** The WebSocket handshake of the local API Gateway: identity source, REQUEST authorizer, `$connect`, subprotocols (docs/api-gateway-websocket.md §1, §2). */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { ID, waitFor, sleep, gateway, managementClient, lambda, allow, open, refusal } from './helpers/gateway.js';
import type { Invoke } from '../src/local/gateway.js';

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

  it('answers 504 when $connect outlives the integration timeout, and tears the connection down once it settles', async () => {
    // The late $connect "stores" its connection; $disconnect must follow it, so nothing is left.
    const stored = new Set<string>();
    const $connect: Invoke = (e) => sleep(300).then(() => {
      stored.add(e.requestContext.connectionId);
      return { statusCode: 200 };
    });
    const $disconnect: Invoke = async (e) => {
      stored.delete(e.requestContext.connectionId);
    };
    const gw = await gateway({ integrationTimeoutMs: 50, routes: { $connect, $disconnect } });
    expect((await refusal(gw.url)).status).toBe(504);
    await sleep(400);
    expect(stored.size).toBe(0);
  });

  it('tears down a $connect cut off by the function\'s own timeout, and passes the abort of its wait to the invoker', async () => {
    const disconnected: string[] = [];
    let signal: AbortSignal | undefined;
    const $connect: Invoke = (_e, o) => {
      signal = o?.signal;
      return Promise.reject(Object.assign(new Error('Task timed out after 0.01 seconds'), { name: 'Sandbox.Timedout' }));
    };
    const gw = await gateway({ routes: { $connect, $disconnect: async (e) => void disconnected.push(e.requestContext.connectionId) } });
    expect((await refusal(gw.url)).status).toBe(502);
    await waitFor(() => disconnected.length === 1, '$disconnect after the timed-out $connect');
    expect(signal).toBeInstanceOf(AbortSignal);
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
