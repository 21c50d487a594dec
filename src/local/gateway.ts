/**
 * Local stand-in for an API Gateway WebSocket API and its `@connections` management API,
 * following docs/api-gateway-websocket.md (§n below refers to it). One HTTP server answers both:
 * WebSocket handshakes on `/{stage}` and management calls on `/{stage}/@connections/{id}`, so
 * the unchanged AWS SDK client works with `endpoint: gateway.managementEndpoint`.
 *
 * Lambda handlers are passed in as `Invoke` functions; this module only shapes their events
 * and turns their answers into what a WebSocket client would see from AWS.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { Connection, type ConnectionHooks, type ConnectionSettings } from './gateway-connection.js';
import {
  awsId,
  chosenSubprotocol,
  connectEvent,
  disconnectEvent,
  errorFrame,
  messageEvent,
  proxyStatus,
  randomApiId,
  readHandshake,
  routeResponseFrame,
  selectRoute,
  type ApiInfo,
  type ConnectionInfo,
  type Handshake,
} from './gateway-events.js';
import {
  authorizerEvent,
  connectMethodArn,
  missingIdentitySource,
  parseIdentitySource,
  verdictForError,
  verdictForResult,
  type AuthorizerVerdict,
  type IdentitySource,
} from './gateway-authorizer.js';
import { managementApi, type ConnectionRegistry, type PostOutcome } from './management-api.js';
import { bindPort } from './bind.js';
import { DEFAULT_HOST, DEFAULT_PORTS } from '../config/dev-settings.js';
import { DEFAULT_REGION } from '../core/defaults.js';
import type { GatewayMeter } from './usage.js';

/**
 * Runs a Lambda handler; may throw. `signal` aborts when the gateway stops waiting (the
 * integration timeout), so an invocation still queued for an instance can be dropped.
 */
export type Invoke = (event: any, opts?: { signal?: AbortSignal }) => Promise<any>;

export interface GatewayOptions {
  /** Default DEFAULT_HOST (loopback). */
  host?: string;
  /** Default DEFAULT_PORTS.gateway (3001); 0 picks a free port. */
  port?: number;
  /** Handshakes to any other path are refused with 403 (§5 checklist). */
  stage: string;
  /** Default: 10 random lowercase alphanumerics. */
  apiId?: string;
  /** Default DEFAULT_REGION. */
  region?: string;
  /** Default '123456789012'. */
  accountId?: string;
  /** REQUEST authorizer on `$connect` (§2). */
  authorizer?: Invoke;
  /** `route.request.querystring.<name>` or `route.request.header.<name>` (§2.2): each must be present or the handshake gets 401 without invoking the authorizer. None: the authorizer is always invoked. */
  identitySources?: string[];
  /** Route key → handler: '$connect', '$disconnect', '$default', custom keys matched on `$request.body.action` (§3). */
  routes: Record<string, Invoke>;
  /** Route keys with a `$default` route response: their proxy `body` is sent back as a frame (§3). */
  routeResponses?: string[];
  /** Default 10 min (§5). */
  idleTimeoutMs?: number;
  /** Default 2 h (§5). */
  maxLifetimeMs?: number;
  /** Default 29 s (§5); bounds the authorizer, `$connect`, message routes and `$disconnect`. */
  integrationTimeoutMs?: number;
  /** Largest single inbound data frame, default 32768 (§5); 0 turns the check off. */
  maxFrameBytes?: number;
  /** `requestContext.domainName`; default host:port of this server (§4.2). */
  domainName?: string;
  /** Extra HTTP routes (demo page, …); return true if handled. Called for every non-@connections request. */
  httpHandler?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
  /** One line per connect, disconnect, routed message and error. */
  log?: (line: string) => void;
  /** How long close() waits for the `$disconnect`s of the sockets it closed; default 10 s. */
  disconnectWaitMs?: number;
  /** Counts what API Gateway bills: messages in and out, connection time (src/local/usage.ts). */
  meter?: GatewayMeter;
}

export interface Gateway {
  port: number;
  host: string;
  stage: string;
  apiId: string;
  /** ws://host:port/stage */
  url: string;
  /** http://host:port/stage, the endpoint for ApiGatewayManagementApiClient (§4.2). */
  managementEndpoint: string;
  connectionCount(): number;
  connectionIds(): string[];
  /** The route keys it selects among (§3), and the authorizer's identity sources (§2.2). */
  routeKeys(): string[];
  identitySourceExpressions(): string[];
  /**
   * Simulates the client vanishing without a close frame: destroys the socket without running
   * `$disconnect` (unless asked to) and forgets the connection, so later POSTs get 410.
   */
  dropConnection(id: string, opts?: { runDisconnect?: boolean }): boolean;
  /** Closes every socket (1001, with `$disconnect`, bounded wait) and the server. */
  close(): Promise<void>;
}

/** The gateway could not listen; `code` is Node's (`EADDRINUSE`, `EACCES`, …). */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const gateway = new LocalGateway(opts);
  await gateway.listen();
  return gateway;
}

/** Message payload limit (§5); `ws` closes with 1009 above it. */
const MAX_MESSAGE_BYTES = 131072;
/** Above this much unsent data a POST gets 429 "client side buffer full" (§4.1). */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const CLOSE_HANDSHAKE_WAIT_MS = 1000;
/** A bound, not a pause: `$disconnect`s normally finish well within a second of the closes. */
const DISCONNECT_WAIT_MS = 10_000;


/** The error name of a Lambda timeout (src/local/lambda-runtime.ts, as the Lambda runtime names it). */
const LAMBDA_TIMEOUT = 'Sandbox.Timedout';

const BODY_UNAUTHORIZED = '{"message":"Unauthorized"}';
const BODY_FORBIDDEN = '{"message":"Forbidden"}';
const BODY_INTERNAL = '{"message": "Internal server error"}';
const BODY_TIMED_OUT = '{"message": "Endpoint request timed out"}';

class IntegrationTimeout extends Error {
  override name = 'IntegrationTimeout';
}

class LocalGateway implements Gateway {
  port = 0;
  host: string;
  stage: string;
  apiId: string;
  url = '';
  managementEndpoint = '';

  private readonly opts: GatewayOptions;
  private readonly api: ApiInfo;
  private readonly methodArn: () => string;
  private readonly identitySources: IdentitySource[];
  private readonly routeResponses: Set<string>;
  private readonly integrationTimeoutMs: number;
  private readonly connectionSettings: ConnectionSettings;
  private readonly hooks: ConnectionHooks;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly management: (req: IncomingMessage, res: ServerResponse) => boolean;
  private readonly log: (line: string) => void;

  /** Connections that finished `$connect`, until their socket closes. */
  private readonly open = new Map<string, Connection>();
  /** Sockets whose authorizer / `$connect` is still running. */
  private readonly handshakes = new Set<Duplex>();
  private readonly disconnects = new Set<Promise<void>>();
  /** The subprotocol `$connect` chose, for `handleProtocols` (§1.6). */
  private readonly protocols = new WeakMap<IncomingMessage, string>();
  private closing = false;
  private stopped = false;
  private closed?: Promise<void>;

  constructor(opts: GatewayOptions) {
    this.opts = opts;
    this.host = opts.host ?? DEFAULT_HOST;
    this.stage = opts.stage;
    this.apiId = opts.apiId ?? randomApiId();
    this.api = { apiId: this.apiId, stage: this.stage, domainName: '' };
    const region = opts.region ?? DEFAULT_REGION;
    const accountId = opts.accountId ?? '123456789012';
    this.methodArn = () => connectMethodArn(region, accountId, this.api);
    this.identitySources = (opts.identitySources ?? []).map(parseIdentitySource);
    this.routeResponses = new Set(opts.routeResponses ?? []);
    this.integrationTimeoutMs = opts.integrationTimeoutMs ?? 29_000;
    this.connectionSettings = {
      idleTimeoutMs: opts.idleTimeoutMs ?? 10 * 60_000,
      maxLifetimeMs: opts.maxLifetimeMs ?? 2 * 60 * 60_000,
      maxFrameBytes: opts.maxFrameBytes ?? 32768,
    };
    this.log = opts.log ?? (() => {});
    this.hooks = {
      route: (conn, body) => this.route(conn, body),
      closed: (conn, code, reason) => this.onClosed(conn, code, reason),
      log: this.log,
    };

    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: MAX_MESSAGE_BYTES,
      // Compression costs CPU on every frame of a fan-out, and the 32 KB frame rule is about
      // wire frames; API Gateway's own support for permessage-deflate is not documented.
      perMessageDeflate: false,
      handleProtocols: (_offered, req) => this.protocols.get(req) ?? false,
    });
    this.management = managementApi(this.stage, this.registry());
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  async listen(): Promise<void> {
    const port = this.opts.port ?? DEFAULT_PORTS.gateway;
    await bindPort(this.server, port, this.host, 'WebSocket gateway', '--port');
    this.server.on('error', (err) => this.log(`error: gateway server: ${err.message}`));

    this.port = (this.server.address() as AddressInfo).port;
    const hostPort = `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
    this.api.domainName = this.opts.domainName ?? hostPort;
    this.url = `ws://${hostPort}/${this.stage}`;
    this.managementEndpoint = `http://${hostPort}/${this.stage}`;
  }

  connectionCount(): number {
    return this.open.size;
  }

  connectionIds(): string[] {
    return [...this.open.keys()];
  }

  routeKeys(): string[] {
    return Object.keys(this.opts.routes);
  }

  identitySourceExpressions(): string[] {
    return this.identitySources.map((s) => s.expression);
  }

  dropConnection(id: string, opts: { runDisconnect?: boolean } = {}): boolean {
    const conn = this.open.get(id);
    if (!conn) return false;
    this.open.delete(id);
    this.opts.meter?.closed(id);
    conn.drop();
    this.log(`drop ${id}${opts.runDisconnect ? '' : ' (no $disconnect)'}`);
    if (opts.runDisconnect) this.runDisconnect(conn, 1006, '');
    return true;
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.management(req, res)) return;
    try {
      if (this.opts.httpHandler && (await this.opts.httpHandler(req, res))) return;
    } catch (err) {
      this.log(`error: http handler failed on ${req.method} ${req.url}: ${describe(err)}`);
      if (res.headersSent) res.destroy();
      else writeJson(res, 500, BODY_INTERNAL);
      return;
    }
    // Unknown paths on execute-api answer 403 Forbidden (§4.1).
    if (!res.headersSent) writeJson(res, 403, BODY_FORBIDDEN);
  }

  /** Management API view of the connections (§4). */
  private registry(): ConnectionRegistry {
    const live = (id: string) => {
      const conn = this.open.get(id);
      return conn?.isOpen ? conn : undefined;
    };
    return {
      isOpen: (id) => live(id) !== undefined,
      post: (id, data, binary): PostOutcome => {
        const conn = live(id);
        if (!conn) return 'gone';
        if (conn.bufferedAmount > MAX_BUFFERED_BYTES) return 'throttled';
        conn.send(data, binary);
        this.opts.meter?.message('out', data.byteLength);
        return 'delivered';
      },
      describe: (id) => {
        const conn = live(id);
        return conn && { connectedAt: conn.connectedAt, lastActiveAt: conn.lastActiveAt, ...conn.identity };
      },
      remove: (id) => {
        const conn = live(id);
        conn?.close(1000, 'Connection Closed Normally'); // §4.3
        return conn !== undefined;
      },
    };
  }

  // ---- handshake, authorizer and $connect ----------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {}); // a client resetting mid-handshake must not crash the process
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    // The spec only says "reject" an unknown stage (§5); 403 {"message":"Forbidden"} is what
    // execute-api answers for paths it does not know (§4.1).
    if (path !== `/${this.stage}` && path !== `/${this.stage}/`) return rejectHandshake(socket, 403, BODY_FORBIDDEN);
    const problem = handshakeProblem(req);
    if (problem) return rejectHandshake(socket, 400, JSON.stringify({ message: problem }));
    if (this.closing) return rejectHandshake(socket, 503, '{"message":"Service Unavailable"}');

    this.handshakes.add(socket);
    const rawQuery = queryAt < 0 ? '' : url.slice(queryAt + 1);
    this.connect(req, socket, head, rawQuery)
      .catch((err) => {
        this.log(`error: handshake failed: ${describe(err)}`);
        rejectHandshake(socket, 500, BODY_INTERNAL);
      })
      .finally(() => this.handshakes.delete(socket));
  }

  /** Authorizer, then `$connect`, then the 101: the socket is not open before both finish (§5). */
  private async connect(req: IncomingMessage, socket: Duplex, head: Buffer, rawQuery: string): Promise<void> {
    const started = Date.now();
    const hs = readHandshake(req, rawQuery, this.port);
    const info: ConnectionInfo = {
      id: awsId(),
      connectedAt: started,
      identity: hs.userAgent === undefined ? { sourceIp: hs.sourceIp } : { sourceIp: hs.sourceIp, userAgent: hs.userAgent },
    };

    let integrationLatency: number | undefined;
    if (this.opts.authorizer) {
      const verdict = await this.authorize(this.opts.authorizer, info, hs, req);
      integrationLatency = Date.now() - started;
      if (!verdict.allowed) {
        this.log(`connect ${info.id} ${verdict.status}: ${verdict.why}`);
        const body = verdict.status === 401 ? BODY_UNAUTHORIZED : verdict.status === 403 ? BODY_FORBIDDEN : BODY_INTERNAL;
        return rejectHandshake(socket, verdict.status, body);
      }
      info.authorizer = verdict.authorizer;
    }

    const connectRoute = this.opts.routes.$connect as Invoke | undefined;
    let protocol: string | undefined;
    if (connectRoute) {
      let result: any;
      const call = this.call(connectRoute, connectEvent(this.api, info, hs, awsId(), integrationLatency));
      try {
        result = await call.answer;
      } catch (err) {
        // A throw is 502 (§1.6). What a $connect timeout looks like is not documented; we
        // answer 504 as API Gateway does for REST integration timeouts.
        const timedOut = err instanceof IntegrationTimeout;
        this.log(`connect ${info.id} ${timedOut ? 504 : 502}: $connect ${timedOut ? 'timed out' : `threw: ${describe(err)}`}`);
        rejectHandshake(socket, timedOut ? 504 : 502, timedOut ? BODY_TIMED_OUT : BODY_INTERNAL);
        // A $connect that timed out (the gateway's wait or the function's own timeout) may
        // have stored the connection before it was cut off: once it has settled, tear the
        // connection down as if it had opened and closed, so no row outlives the refusal (§5).
        if (timedOut || (err as Error)?.name === LAMBDA_TIMEOUT) void call.work.then(() => this.runDisconnect(info, 1006, ''), () => this.runDisconnect(info, 1006, ''));
        return;
      }
      const status = proxyStatus(result);
      if (status < 200 || status > 299) {
        this.log(`connect ${info.id} ${status}: $connect returned ${status}`);
        return rejectHandshake(socket, status, typeof result?.body === 'string' ? result.body : '');
      }
      protocol = chosenSubprotocol(result);
    }

    // The client may have given up, or the gateway be stopping, while the handlers ran.
    const ws = this.closing ? undefined : this.upgrade(req, socket, head, protocol);
    if (!ws) {
      socket.destroy();
      this.log(`connect ${info.id} abandoned before the upgrade`);
      // $connect already said yes, so its side effects (a stored connection) need undoing.
      if (connectRoute) this.runDisconnect(info, 1006, '');
      return;
    }
    this.open.set(info.id, new Connection(info, ws, socket, this.connectionSettings, this.hooks));
    this.opts.meter?.opened(info.id);
    this.log(`connect ${info.id} 101 (${Date.now() - started} ms)`);
  }

  private async authorize(authorizer: Invoke, info: ConnectionInfo, hs: Handshake, req: IncomingMessage): Promise<AuthorizerVerdict> {
    const missing = missingIdentitySource(this.identitySources, hs, req.headers);
    if (missing) {
      // Refused without invoking the authorizer (§2.2).
      return { allowed: false, status: 401, why: `identity source ${missing.expression} is missing or empty` };
    }
    const methodArn = this.methodArn();
    try {
      const result = await this.invoke(authorizer, authorizerEvent(this.api, info, hs, methodArn, awsId()));
      return verdictForResult(result, methodArn);
    } catch (err) {
      return verdictForError(err);
    }
  }

  /** Sends the 101; undefined when the socket is already gone (`ws` then answers or drops it). */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string | undefined): WebSocket | undefined {
    if (socket.destroyed || !socket.readable || !socket.writable) return undefined;
    // Passed through as API Gateway does: if the client offered subprotocols and $connect
    // chose none, the 101 has no Sec-WebSocket-Protocol and the client fails the handshake.
    if (protocol) this.protocols.set(req, protocol);
    let upgraded: WebSocket | undefined;
    // With no verifyClient, handleUpgrade calls back synchronously or not at all.
    this.wss.handleUpgrade(req, socket, head, (client) => {
      upgraded = client;
    });
    return upgraded;
  }

  // ---- messages and $disconnect --------------------------------------------------------------

  /** Runs the selected route; never throws. Errors become the frames AWS sends (§1.6, §3). */
  private async route(conn: Connection, body: string): Promise<void> {
    this.opts.meter?.message('in', Buffer.byteLength(body));
    const routeKey = selectRoute(body, this.opts.routes);
    const requestId = awsId();
    if (routeKey === undefined) {
      conn.send(errorFrame('Forbidden', conn.id, requestId));
      this.log(`message ${conn.id} matched no route and there is no $default: Forbidden`);
      return;
    }
    const started = Date.now();
    try {
      const result = await this.invoke(this.opts.routes[routeKey], messageEvent(this.api, conn, routeKey, body, requestId));
      // Without a route response the return value is dropped (§3).
      if (this.routeResponses.has(routeKey)) {
        const frame = routeResponseFrame(result);
        if (frame !== undefined) conn.send(frame);
      }
      this.log(`message ${conn.id} ${routeKey} (${Date.now() - started} ms)`);
    } catch (err) {
      // A message-route timeout is not documented (an open question, §8); we send the text API
      // Gateway uses for REST integration timeouts, in the same frame shape as other errors.
      const timedOut = err instanceof IntegrationTimeout;
      conn.send(errorFrame(timedOut ? 'Endpoint request timed out' : 'Internal server error', conn.id, requestId));
      this.log(`error: message ${conn.id} ${routeKey} ${timedOut ? 'timed out' : `threw: ${describe(err)}`}`);
    }
  }

  private onClosed(conn: Connection, code: number, reason: string): void {
    this.open.delete(conn.id);
    this.opts.meter?.closed(conn.id);
    this.log(`disconnect ${conn.id} ${code}${reason ? ` ${reason}` : ''}`);
    this.runDisconnect(conn, code, reason);
  }

  /** Best effort (§1.4): errors are logged, the return value ignored. */
  private runDisconnect(info: ConnectionInfo, code: number, reason: string): void {
    const route = this.opts.routes.$disconnect as Invoke | undefined;
    if (!route || this.stopped) return;
    const run: Promise<void> = this.invoke(route, disconnectEvent(this.api, info, code, reason, awsId())).then(
      () => {},
      (err) => this.log(`error: $disconnect for ${info.id} failed: ${describe(err)}`),
    );
    this.disconnects.add(run);
    void run.finally(() => this.disconnects.delete(run));
  }

  /** Calls a handler under the integration timeout (§5); a synchronous throw becomes a rejection. */
  private invoke(fn: Invoke, event: unknown): Promise<any> {
    return this.call(fn, event).answer;
  }

  /** `answer` is what the gateway waits for (bounded); `work` the invocation itself, which may go on. */
  private call(fn: Invoke, event: unknown): { answer: Promise<any>; work: Promise<any> } {
    let timer: NodeJS.Timeout | undefined;
    const abort = new AbortController();
    const timeout = new Promise<never>((_, reject) => {
      const message = `Integration timed out after ${this.integrationTimeoutMs} ms`;
      timer = setTimeout(() => {
        abort.abort();
        reject(new IntegrationTimeout(message));
      }, this.integrationTimeoutMs);
    });
    const work = Promise.resolve().then(() => fn(event, { signal: abort.signal }));
    work.catch(() => {});
    return { answer: Promise.race([work, timeout]).finally(() => clearTimeout(timer)), work };
  }

  /** Every wait here is bounded: a stuck client or handler cannot keep close() from returning. */
  private async shutdown(): Promise<void> {
    this.closing = true;
    for (const socket of this.handshakes) socket.destroy();
    const conns = [...this.open.values()];
    const allClosed = () =>
      Promise.all(conns.map((c) => (c.isClosed ? undefined : new Promise((resolve) => c.ws.once('close', resolve)))));
    for (const conn of conns) conn.close(1001, 'Going away');
    if (!(await within(allClosed(), CLOSE_HANDSHAKE_WAIT_MS))) {
      for (const conn of conns) conn.terminate(); // clients that never answered the close frame
      await within(allClosed(), 200);
    }
    await within(Promise.allSettled([...this.disconnects]), this.opts.disconnectWaitMs ?? DISCONNECT_WAIT_MS);
    this.stopped = true;
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections(); // keep-alive sockets of SDK clients
    await within(serverClosed, 1000);
    this.wss.close();
  }
}

/** The checks `ws` makes in handleUpgrade, done before any handler runs. */
function handshakeProblem(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return 'Invalid HTTP method';
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return 'Invalid Upgrade header';
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !/^[+/0-9A-Za-z]{22}==$/.test(key)) return 'Missing or invalid Sec-WebSocket-Key header';
  const version = Number(req.headers['sec-websocket-version']);
  if (version !== 13 && version !== 8) return 'Missing or invalid Sec-WebSocket-Version header';
  return undefined;
}

/** A plain HTTP answer on a socket that asked to upgrade; the client reports the status. */
function rejectHandshake(socket: Duplex, status: number, body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n` +
    'Connection: close\r\n' +
    (body ? 'Content-Type: application/json\r\n' : '') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(head + body);
}

function writeJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Resolves true if `work` settles within `ms`, false otherwise. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
