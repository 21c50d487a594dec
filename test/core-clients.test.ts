/**
 * The management client's lean PostToConnection path (src/core/clients.ts), which the fan-out
 * benchmark showed to be worth it: it must send what the SDK sends (path encoding, SigV4 for
 * execute-api) and fail as the SDK fails (the client package's exception classes, $metadata),
 * while other commands keep the SDK's own path. A local HTTP server plays the endpoint.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, createHmac } from 'node:crypto';
import {
  ApiGatewayManagementApiServiceException,
  ForbiddenException,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClient,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/core/protocols';
import { createManagementClient } from '../src/core/clients.js';
import { handlerDeps } from '../src/core/handler-deps.js';
import { handlerSettings } from '../src/core/handler-env.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The SDK's Checksum interface over node:crypto, for the reference signer. */
class Sha256 {
  private h;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = this.make();
  }
  private make() {
    const s = this.secret;
    if (s === undefined) return createHash('sha256');
    return createHmac('sha256', typeof s === 'string' ? s : ArrayBuffer.isView(s) ? new Uint8Array(s.buffer, s.byteOffset, s.byteLength) : new Uint8Array(s));
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.h.update(typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data));
  }
  reset() {
    this.h = this.make();
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

let server: http.Server;
let endpoint: string;
let client: ApiGatewayManagementApiClient;
const seen: Seen[] = [];
let answer: (req: Seen, res: http.ServerResponse) => void = (_req, res) => res.writeHead(200, { 'content-length': 0 }).end();
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token' };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(s);
      answer(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dev`;
  client = await createManagementClient({ region: 'eu-west-1', endpoint, credentials });
});

afterAll(async () => {
  client?.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('createManagementClient: PostToConnection', () => {
  it('sends the body to /{stage}/@connections/{id}, percent-encoded, signed as SigV4 for execute-api', async () => {
    // Prepare
    seen.length = 0;
    const data = Buffer.from('{"hello":"world"}');
    // Act
    const out = await client.send(new PostToConnectionCommand({ ConnectionId: "L0SM9cOFvHcCIhw=(x)'", Data: data }));
    // Assess
    expect(out.$metadata.httpStatusCode).toBe(200);
    const req = seen[0];
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/dev/@connections/L0SM9cOFvHcCIhw%3D%28x%29%27');
    expect(req.body.equals(data)).toBe(true);
    expect(req.headers['content-type']).toBe('application/octet-stream');
    expect(req.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(data).digest('hex'));
    expect(req.headers['x-amz-security-token']).toBe('session-token');

    // The reference signer, given the same request and time, must produce the same signature.
    const amzDate = req.headers['x-amz-date'] as string;
    const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
    const reference = await new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials, sha256: Sha256 }).sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: Number(new URL(endpoint).port),
        path: '/dev/@connections/L0SM9cOFvHcCIhw%3D%28x%29%27',
        headers: { host: req.headers.host!, 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
        body: data,
      }),
      { signingDate },
    );
    expect(req.headers.authorization).toBe(reference.headers.authorization);
  });

  it('fails with the SDK exception classes and $metadata: 410 Gone (empty body), 429, 403, and others', async () => {
    const post = () => client.send(new PostToConnectionCommand({ ConnectionId: 'abc', Data: Buffer.from('x') }));

    answer = (_r, res) => res.writeHead(410, { 'x-amzn-ErrorType': 'GoneException', 'content-length': 0 }).end();
    const gone = await post().catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(GoneException);
    expect((gone as GoneException).$metadata.httpStatusCode).toBe(410);

    answer = (_r, res) =>
      res.writeHead(429, { 'x-amzn-ErrorType': 'LimitExceededException', 'content-type': 'application/json' }).end('{"message":"Client side buffer full"}');
    const busy = await post().catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(LimitExceededException);
    expect((busy as Error).message).toBe('Client side buffer full');

    answer = (_r, res) => res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Forbidden","__type":"com.amazon#ForbiddenException"}');
    expect(await post().catch((e: unknown) => e)).toBeInstanceOf(ForbiddenException);

    answer = (_r, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"boom"}');
    const other = (await post().catch((e: unknown) => e)) as ApiGatewayManagementApiServiceException;
    expect(other).toBeInstanceOf(ApiGatewayManagementApiServiceException);
    expect(other.$fault).toBe('server');
    expect(other.$metadata.httpStatusCode).toBe(500);
  });

  it('leaves other commands to the SDK', async () => {
    seen.length = 0;
    answer = (_r, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"connectedAt":"2025-01-01T00:00:00.000Z","identity":{"sourceIp":"127.0.0.1"},"lastActiveAt":"2025-01-01T00:00:01.000Z"}');
    const out = await client.send(new GetConnectionCommand({ ConnectionId: 'abc=' }));
    expect(out.ConnectedAt?.toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(out.Identity?.SourceIp).toBe('127.0.0.1');
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/dev/@connections/abc%3D' });
    expect(seen[0].headers['user-agent']).toContain('aws-sdk-js'); // the SDK's own path
  });
});

describe('the clients a handler keeps (src/core/handler-deps.ts)', () => {
  it('builds one management client per endpoint, and builds it again after a failed attempt', async () => {
    let builds = 0;
    const deps = handlerDeps(handlerSettings({ AWS_REGION: 'us-east-1' }), {
      management: async ({ endpoint }) => {
        if (++builds === 1) throw new Error('no sockets');
        return { endpoint } as unknown as ApiGatewayManagementApiClient;
      },
    });
    await expect(deps.management('http://127.0.0.1:1/a')).rejects.toThrow('no sockets');
    const a = await deps.management('http://127.0.0.1:1/a');
    expect(await deps.management('http://127.0.0.1:1/a')).toBe(a);
    expect(await deps.management('http://127.0.0.1:1/b')).not.toBe(a);
    expect(builds).toBe(3);
  });
});
