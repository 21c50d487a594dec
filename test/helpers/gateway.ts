/**
 * The local API Gateway against real clients, for the test/gateway-*.test.ts files: `ws`
 * sockets on one side, the real `@aws-sdk/client-apigatewaymanagementapi` client on the other.
 * The Lambda handlers are tiny fake invokers, since `Invoke` is the Lambda boundary here.
 * Every wait is bounded; everything a test starts is stopped after it.
 */
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { startGateway, type Gateway, type GatewayOptions, type Invoke } from '../../src/local/gateway.js';
import { AUTHORIZER } from '../../src/stack/definition.js';

export const WAIT_MS = 3000;

/** A SigV4 Authorization header for raw @connections requests: the local API wants one, and checks its form only. */
export const SIGNED = {
  authorization: 'AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00',
};
export const ID = /^[A-Za-z0-9_-]{15}=$/;

export const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// ---- helpers -----------------------------------------------------------------------------------

export function bounded<T>(work: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export async function waitFor(condition: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function gateway(opts: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const gw = await startGateway({ host: '127.0.0.1', port: 0, stage: 'local', routes: {}, identitySources: [...AUTHORIZER.identitySource], ...opts });
  cleanups.push(() => gw.close());
  return gw;
}

export function managementClient(endpoint: string): ApiGatewayManagementApiClient {
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
export function lambda(answer: (event: any) => unknown = () => ({ statusCode: 200 })): Invoke & { events: any[] } {
  const events: any[] = [];
  const fn = async (event: any) => {
    events.push(event);
    return answer(event);
  };
  return Object.assign(fn, { events });
}

export function allow(resource = '*', context: Record<string, unknown> = {}, effect = 'Allow') {
  return {
    principalId: 'user-1',
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
    context,
  };
}

export interface Client {
  ws: WebSocket;
  next(): Promise<string>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a socket and collects its frames; rejects if the handshake is refused. */
export async function open(url: string, options: { protocols?: string[]; userAgent?: string } = {}): Promise<Client> {
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
export async function refusal(url: string): Promise<{ status: number; body: string }> {
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
