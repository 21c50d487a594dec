/**
 * The `@connections` management API (docs/api-gateway-websocket.md §4) on the gateway's HTTP server:
 * `POST|GET|DELETE /{stage}/@connections/{id}`, answering with the status codes and
 * `x-amzn-ErrorType` headers the AWS SDK maps to its exception classes. A request must be
 * SigV4-signed, but any signature passes, since local credentials are arbitrary (§4.4). The
 * connections themselves live in the gateway, behind `ConnectionRegistry`.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { isUtf8 } from 'node:buffer';

/** PostToConnection `Data` limit (§4.1, §5). */
export const MAX_POST_BYTES = 131072;

export interface ConnectionSnapshot {
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent?: string;
}

/** `throttled`: the client is not reading and its send buffer is full (§4.1, 429). */
export type PostOutcome = 'delivered' | 'gone' | 'throttled';

export interface ConnectionRegistry {
  /** True only for connections that finished `$connect` and are not closing (§4.3). */
  isOpen(id: string): boolean;
  /** Sends `data` as one message (text, or binary when it is not UTF-8, §4.4); counts as activity. */
  post(id: string, data: Buffer, binary: boolean): PostOutcome;
  describe(id: string): ConnectionSnapshot | undefined;
  /** DeleteConnection: close with 1000 and run `$disconnect`. False when gone. */
  remove(id: string): boolean;
}

const FORBIDDEN_BODY = '{"message":"Forbidden"}';

/**
 * Returns a request listener that answers `@connections` requests and returns false for
 * anything else, so the caller can try its other routes.
 */
export function managementApi(
  stage: string,
  registry: ConnectionRegistry,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const segments = (queryAt < 0 ? url : url.slice(0, queryAt)).split('/');
    const at = segments.findIndex(isConnectionsSegment);
    if (at < 0) return false;

    // Only `/{stage}/@connections/{id}`; a missing or wrong stage is a 403 (§4.1, §4.2).
    if (at !== 2 || segments[1] !== stage || segments.length !== 4 || segments[3] === '') {
      forbidden(res);
      return true;
    }
    let id: string | undefined;
    try {
      id = decodeURIComponent(segments[3]); // the SDK percent-encodes the `=` (§4.1)
    } catch {
      id = undefined;
    }
    // @connections uses IAM authorization: an unsigned request is refused before anything else (§4.4).
    if (!isSigned(req)) {
      missingToken(res);
      return true;
    }
    // An id that cannot be a connection id at all is a bad request, not a gone connection (§4.4).
    if (id === undefined || !CONNECTION_ID.test(id)) {
      badRequest(res);
      return true;
    }

    switch (req.method) {
      case 'POST':
        handlePost(req, res, id, registry);
        break;
      case 'GET': {
        const info = registry.describe(id);
        if (!info) gone(res);
        else reply(res, 200, JSON.stringify(getConnectionBody(info)), { 'content-type': 'application/json' });
        break;
      }
      case 'DELETE':
        if (registry.remove(id)) reply(res, 204);
        else gone(res);
        break;
      default:
        forbidden(res);
    }
    return true;
  };
}

/** Base64 (either alphabet) with its padding: what a connection id can look like (§1.1). */
const CONNECTION_ID = /^[A-Za-z0-9+/_-]{1,128}={0,2}$/;

/** A SigV4 Authorization header, or a presigned URL's signature (§4.4). Whether it is valid is not checked. */
function isSigned(req: IncomingMessage): boolean {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('AWS4-HMAC-SHA256 ') && auth.includes('Signature=')) return true;
  const url = req.url ?? '';
  return /[?&]X-Amz-Signature=/i.test(url) && /[?&]X-Amz-Credential=/i.test(url);
}

function isConnectionsSegment(segment: string): boolean {
  // `awscurl` sends `%40connections` (§4.1).
  return segment === '@connections' || segment.toLowerCase() === '%40connections';
}

function handlePost(req: IncomingMessage, res: ServerResponse, id: string, registry: ConnectionRegistry): void {
  // Answer before reading the body when we can; Node discards an unread body and keeps the
  // socket alive, so a fan-out over stale ids costs no buffering.
  if (!registry.isOpen(id)) return gone(res);
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_POST_BYTES) return tooLarge(res, declared);

  const chunks: Buffer[] = [];
  let size = 0;
  let answered = false;
  req.on('data', (chunk: Buffer) => {
    if (answered) return; // discard the rest of an oversized body
    size += chunk.length;
    if (size > MAX_POST_BYTES) {
      answered = true;
      chunks.length = 0;
      tooLarge(res, size);
    } else {
      chunks.push(chunk);
    }
  });
  req.on('end', () => {
    if (answered) return;
    const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
    // Text when it is UTF-8: a text frame that is not would make the client fail the connection.
    const outcome = registry.post(id, data, !isUtf8(data));
    if (outcome === 'delivered') reply(res, 200);
    else if (outcome === 'gone') gone(res);
    else {
      reply(res, 429, '{"message":"Client side buffer full"}', {
        'content-type': 'application/json',
        'x-amzn-ErrorType': 'LimitExceededException',
      });
    }
  });
  req.on('error', () => {}); // the client went away; nobody to answer
}

function getConnectionBody(info: ConnectionSnapshot): Record<string, unknown> {
  const identity: Record<string, string> = { sourceIp: info.sourceIp };
  if (info.userAgent !== undefined) identity.userAgent = info.userAgent;
  return {
    connectedAt: new Date(info.connectedAt).toISOString(),
    identity,
    lastActiveAt: new Date(info.lastActiveAt).toISOString(),
  };
}

/** Real 410s have a non-JSON body; the SDK finds the type in the header (§4.1). */
function gone(res: ServerResponse): void {
  reply(res, 410, '', { 'x-amzn-ErrorType': 'GoneException' });
}

function missingToken(res: ServerResponse): void {
  reply(res, 403, '{"message":"Missing Authentication Token"}', {
    'content-type': 'application/json',
    'x-amzn-ErrorType': 'MissingAuthenticationTokenException',
  });
}

function badRequest(res: ServerResponse): void {
  reply(res, 400, '{"message":"Invalid connectionId"}', { 'content-type': 'application/json', 'x-amzn-ErrorType': 'BadRequestException' });
}

function forbidden(res: ServerResponse): void {
  reply(res, 403, FORBIDDEN_BODY, { 'content-type': 'application/json', 'x-amzn-ErrorType': 'ForbiddenException' });
}

function tooLarge(res: ServerResponse, size: number): void {
  const message = `Message of ${size} bytes exceeds the ${MAX_POST_BYTES} byte limit`;
  reply(res, 413, JSON.stringify({ message }), {
    'content-type': 'application/json',
    'x-amzn-ErrorType': 'PayloadTooLargeException',
  });
}

/** Always with a content-length (none on 204), so keep-alive clients can reuse the socket. */
function reply(res: ServerResponse, status: number, body = '', headers: OutgoingHttpHeaders = {}): void {
  if (res.headersSent) return;
  if (status !== 204) headers['content-length'] = Buffer.byteLength(body);
  res.writeHead(status, headers);
  res.end(body);
}
