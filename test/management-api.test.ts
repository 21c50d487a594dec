/** The local `@connections` management API with the real SDK client: PostToConnection, GetConnection, DeleteConnection and their errors (docs/api-gateway-websocket.md §4). */
import { describe, expect, it } from 'vitest';
import { DeleteConnectionCommand, ForbiddenException, GetConnectionCommand, GoneException, LimitExceededException, PayloadTooLargeException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { waitFor, gateway, managementClient, lambda, open, SIGNED } from './helpers/gateway.js';

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

    const raw = await fetch(`${gw.managementEndpoint}/@connections/${encodeURIComponent(id)}`, { headers: SIGNED });
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

    const raw = await fetch(`${gw.managementEndpoint}/@connections/AAAAAAAAAAAAAAA%3D`, { method: 'POST', body: 'x', headers: SIGNED });
    expect(raw.status).toBe(410);
    expect(raw.headers.get('x-amzn-errortype')).toBe('GoneException');
    expect(await raw.text()).toBe('');
  });

  it('decodes percent-encoded ids and accepts %40connections', async () => {
    const gw = await gateway();
    const client = await open(gw.url);
    const [id] = gw.connectionIds();

    const raw = await fetch(`${gw.managementEndpoint}/%40connections/${encodeURIComponent(id)}`, { method: 'POST', body: 'encoded', headers: SIGNED });
    expect(raw.status).toBe(200);
    expect(await client.next()).toBe('encoded');
  });

  it('sends data that is not UTF-8 as a binary frame, so the client keeps its connection', async () => {
    const gw = await gateway();
    const sdk = managementClient(gw.managementEndpoint);
    const client = await open(gw.url);
    const [id] = gw.connectionIds();
    const binary = new Promise<{ data: Buffer; isBinary: boolean }>((resolve) => client.ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })));

    await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: new Uint8Array([0xff, 0xfe, 0x00, 0x80]) }));
    const got = await binary;
    expect(got.isBinary).toBe(true);
    expect([...got.data]).toEqual([0xff, 0xfe, 0x00, 0x80]);
    await client.next(); // the helper saw the binary frame too
    await sdk.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'still open' }));
    expect(await client.next()).toBe('still open');
  });

  it('refuses an unsigned request with 403 Missing Authentication Token, whatever the connection', async () => {
    const gw = await gateway();
    const client = await open(gw.url);
    const [id] = gw.connectionIds();
    for (const method of ['POST', 'GET', 'DELETE']) {
      const raw = await fetch(`${gw.managementEndpoint}/@connections/${encodeURIComponent(id)}`, { method, body: method === 'POST' ? 'x' : undefined });
      expect(raw.status).toBe(403);
      expect(raw.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
      expect(await raw.json()).toEqual({ message: 'Missing Authentication Token' });
    }
    // A presigned URL counts as signed.
    const presigned = await fetch(`${gw.managementEndpoint}/@connections/${encodeURIComponent(id)}?X-Amz-Credential=AKIDLOCAL%2F20260101&X-Amz-Signature=00`, { method: 'POST', body: 'presigned' });
    expect(presigned.status).toBe(200);
    expect(await client.next()).toBe('presigned');
  });

  it('answers 400 BadRequestException for an id that cannot be a connection id, 410 for a well-formed unknown one', async () => {
    const gw = await gateway();
    const sdk = managementClient(gw.managementEndpoint);
    for (const bad of ['%E0%A4%A', 'caf%C3%A9', 'a%23b', 'a%25b', 'with%20space', '%F0%9F%98%80']) {
      const raw = await fetch(`${gw.managementEndpoint}/@connections/${bad}`, { method: 'POST', body: 'x', headers: SIGNED });
      expect(raw.status, bad).toBe(400);
      expect(raw.headers.get('x-amzn-errortype')).toBe('BadRequestException');
    }
    const error = await sdk.send(new PostToConnectionCommand({ ConnectionId: 'not#an id', Data: 'x' })).catch((e) => e);
    expect(error.name).toBe('BadRequestException');
    expect(error.$metadata.httpStatusCode).toBe(400);
    await expect(sdk.send(new GetConnectionCommand({ ConnectionId: 'ZZZZZZZZZZZZZZZ=' }))).rejects.toBeInstanceOf(GoneException);
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
