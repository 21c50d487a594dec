/**
 * The AWS-shaped values the local gateway hands to Lambda handlers: ids, the `requestContext`
 * shared by every event, and the CONNECT / MESSAGE / DISCONNECT proxy events of
 * docs/api-gateway-websocket.md §1, plus route selection (§3). Pure functions, no sockets.
 */
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';

/** What the events say about the API itself (§1.1). */
export interface ApiInfo {
  apiId: string;
  stage: string;
  /** host:port of the local server, so `https://${domainName}/${stage}` points back here (§4.2). */
  domainName: string;
}

/** What the events say about one connection; fixed at CONNECT time. */
export interface ConnectionInfo {
  id: string;
  connectedAt: number;
  identity: { sourceIp: string; userAgent?: string };
  /** `{principalId, ...context}` with stringified values, once an authorizer ran (§2.4). */
  authorizer?: Record<string, string>;
}

/** The parts of the handshake request that the authorizer and `$connect` events carry. */
export interface Handshake {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  /** Absent when the URL has no query string (§1.2). */
  query?: { single: Record<string, string>; multi: Record<string, string[]> };
  sourceIp: string;
  userAgent?: string;
}

// Random bytes are drawn in batches: one syscall per 256 ids instead of one per id, which
// matters when every message needs a requestId and a messageId.
const ID_BYTES = 11;
let pool = Buffer.alloc(0);
let poolOffset = 0;

/**
 * An id of the observed form: 16 chars of URL-safe base64 ending in `=` (§1.1), i.e. 11 random
 * bytes, which base64-encode to 15 significant chars plus one pad char.
 */
export function awsId(): string {
  if (poolOffset + ID_BYTES > pool.length) {
    pool = randomBytes(ID_BYTES * 256);
    poolOffset = 0;
  }
  const id = pool.toString('base64url', poolOffset, poolOffset + ID_BYTES) + '=';
  poolOffset += ID_BYTES;
  return id;
}

/** Random lowercase alphanumeric string, the shape of an API id (`dl7ptocha9`). */
export function randomApiId(length = 10): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let clfSecond = -1;
let clfText = '';

/** `requestTime` in CLF form, `20/Jan/2024:11:55:08 +0000` (§1.1); cached per second. */
export function clfTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== clfSecond) {
    const d = new Date(second * 1000);
    const p2 = (n: number) => String(n).padStart(2, '0');
    clfText =
      `${p2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
      `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
    clfSecond = second;
  }
  return clfText;
}

/** Strips the IPv4-mapped IPv6 prefix Node reports for IPv4 peers on dual-stack sockets. */
export function sourceIpOf(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/**
 * Reads headers (original case, from `rawHeaders`) and the query string of the handshake.
 * AWS adds `X-Forwarded-*` headers at its edge; they are filled in when the client did not
 * send them, so handlers that read them work locally.
 */
export function readHandshake(req: IncomingMessage, rawQuery: string, localPort: number): Handshake {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const sourceIp = sourceIpOf(req);
  const synthetic: Record<string, string> = {
    'X-Forwarded-For': sourceIp,
    'X-Forwarded-Port': String(localPort),
    'X-Forwarded-Proto': 'http',
  };
  for (const [name, value] of Object.entries(synthetic)) {
    if (req.headers[name.toLowerCase()] === undefined) {
      headers[name] = value;
      multiValueHeaders[name] = [value];
    }
  }

  let query: Handshake['query'];
  if (rawQuery !== '') {
    const single: Record<string, string> = {};
    const multi: Record<string, string[]> = {};
    for (const [key, value] of new URLSearchParams(rawQuery)) {
      single[key] = value; // the last value wins, as in REST proxy events
      (multi[key] ??= []).push(value);
    }
    query = { single, multi };
  }
  const userAgent = req.headers['user-agent'];
  return { headers, multiValueHeaders, query, sourceIp, userAgent };
}

type EventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT';

/**
 * The `requestContext` every event shares (§1.1), the authorizer's included (§2.1, which has
 * no `authorizer` key because it has not run yet). `requestId` equals `extendedRequestId`.
 */
export function requestContext(
  api: ApiInfo,
  conn: ConnectionInfo,
  routeKey: string,
  eventType: EventType,
  requestId: string,
): Record<string, unknown> {
  const now = Date.now();
  const ctx: Record<string, unknown> = {
    routeKey,
    eventType,
    extendedRequestId: requestId,
    requestTime: clfTime(now),
    messageDirection: 'IN',
    stage: api.stage,
    connectedAt: conn.connectedAt,
    requestTimeEpoch: now,
    identity: { ...conn.identity },
    requestId,
    domainName: api.domainName,
    connectionId: conn.id,
    apiId: api.apiId,
  };
  if (conn.authorizer) ctx.authorizer = { ...conn.authorizer };
  return ctx;
}

/**
 * `$connect` event (§1.2): the only one with the client's headers and query string; the query
 * keys are absent when the URL has none. `integrationLatency` (a number) is the authorizer's run
 * time and appears on CONNECT only.
 */
export function connectEvent(
  api: ApiInfo,
  conn: ConnectionInfo,
  hs: Handshake,
  requestId: string,
  integrationLatency?: number,
): Record<string, unknown> {
  const ctx = requestContext(api, conn, '$connect', 'CONNECT', requestId);
  if (conn.authorizer && integrationLatency !== undefined) {
    ctx.authorizer = { ...conn.authorizer, integrationLatency };
  }
  const event: Record<string, unknown> = {
    headers: hs.headers,
    multiValueHeaders: hs.multiValueHeaders,
  };
  if (hs.query) {
    event.queryStringParameters = hs.query.single;
    event.multiValueQueryStringParameters = hs.query.multi;
  }
  event.requestContext = ctx;
  event.isBase64Encoded = false;
  return event;
}

/** Message route event (§1.3): the raw text frame as `body`, no headers, never base64. */
export function messageEvent(
  api: ApiInfo,
  conn: ConnectionInfo,
  routeKey: string,
  body: string,
  requestId: string,
): Record<string, unknown> {
  const ctx = requestContext(api, conn, routeKey, 'MESSAGE', requestId);
  ctx.messageId = awsId();
  return { requestContext: ctx, body, isBase64Encoded: false };
}

/** `$disconnect` event (§1.4): synthetic headers, the close code and reason. */
export function disconnectEvent(
  api: ApiInfo,
  conn: ConnectionInfo,
  code: number,
  reason: string,
  requestId: string,
): Record<string, unknown> {
  const ctx = requestContext(api, conn, '$disconnect', 'DISCONNECT', requestId);
  ctx.disconnectStatusCode = code;
  ctx.disconnectReason = reason;
  return {
    headers: { Host: api.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' },
    multiValueHeaders: { Host: [api.domainName], 'x-api-key': [''], 'X-Forwarded-For': [''], 'x-restapi': [''] },
    requestContext: ctx,
    isBase64Encoded: false,
  };
}

/**
 * Route selection with the expression `$request.body.action` (§3): an exact match on a custom
 * route key wins, anything else (non-JSON, missing `action`, no such route) goes to `$default`.
 * Returns undefined when nothing matches and there is no `$default`.
 */
export function selectRoute(body: string, routes: Record<string, unknown>): string | undefined {
  const key = actionOf(body);
  if (key !== undefined && key !== '$connect' && key !== '$disconnect' && Object.hasOwn(routes, key)) {
    return key;
  }
  return Object.hasOwn(routes, '$default') ? '$default' : undefined;
}

/** The value of `$request.body.action`: undefined for non-JSON, "" when missing (§3). */
function actionOf(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return '';
  const value = (parsed as Record<string, unknown>).action;
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  // AWS stringifies arrays Java-style, `[item1, item2]` (§3); objects are undocumented, so JSON.
  if (Array.isArray(value)) return `[${value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')}]`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The error frame API Gateway sends on a message route, spacing exactly as observed (§1.6, §3). */
export function errorFrame(message: string, connectionId: string, requestId: string): string {
  return `{"message": "${message}", "connectionId":"${connectionId}", "requestId":"${requestId}"}`;
}

// ---- what the integration's answer means (§1.6, §3) ---------------------------------------------

/**
 * The status of a Lambda proxy result. A result without `statusCode` counts as 200 (our
 * choice; §1.6 does not cover it); an impossible status (or a 1xx) is an integration
 * failure, 502.
 */
export function proxyStatus(result: any): number {
  const status = result?.statusCode;
  if (status === undefined || status === null) return 200;
  const n = Number(status);
  return Number.isInteger(n) && n >= 200 && n <= 599 ? n : 502;
}

/** The subprotocol a `$connect` result chose through its `Sec-WebSocket-Protocol` header (§1.6). */
export function chosenSubprotocol(result: any): string | undefined {
  const headers: unknown = result?.headers;
  if (headers === null || typeof headers !== 'object') return undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === 'sec-websocket-protocol' && value !== undefined && value !== null && value !== '') {
      return String(value);
    }
  }
  return undefined;
}

/** With a route response, a Lambda proxy's `body` goes back to the client (§3, EMU SLS). */
export function routeResponseFrame(result: any): string | undefined {
  const body = result?.body;
  if (body === undefined || body === null) return undefined;
  return typeof body === 'string' ? body : JSON.stringify(body);
}
