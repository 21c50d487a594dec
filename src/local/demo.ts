/**
 * The live demo page that `hermes dev` serves on the gateway's port, and the token endpoint it
 * needs. Both exist only in the local stack: a deployed stage never mints tokens for whoever
 * asks, which is exactly what `POST /_hermes/token` does here.
 *
 *   GET  /                    the page (src/local/demo/index.html; dist/demo/ once built)
 *   GET  /demo.js, /demo.css  its script and styles
 *   GET  /hermes-client.mjs   the client library as built into dist/client/
 *   POST /_hermes/token       {"user", "room"} -> {"token", "tokenId", "expiresAt", "url", "cli"}
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { issueToken, userProblem, type IssuedToken } from '../core/tokens.js';
import { roomProblem } from '../core/envelope.js';
import type { LocalStack } from './stack.js';

export const TOKEN_PATH = '/_hermes/token';
export const DEMO_TOKEN_TTL_SECONDS = 15 * 60;

/** What the handler needs from a started stack. */
export type DemoStack = Pick<LocalStack, 'ddb' | 'names' | 'jwtSecret' | 'stage' | 'gateway'>;

export interface DemoOptions {
  /** Cost of the token hashes; tests lower it. Default: core's default. */
  bcryptCost?: number;
  tokenTtlSeconds?: number;
  /** Told about every token the endpoint issues (the dev log, tests). */
  onToken?: (token: IssuedToken) => void;
  /** How the user runs the CLI (`hermes` or `npx hermes`), for the commands the page suggests. */
  command?: string;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

const STATIC: Record<string, { file: string; type: string; client?: boolean }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/demo.js': { file: 'demo.js', type: 'text/javascript; charset=utf-8' },
  '/demo.css': { file: 'demo.css', type: 'text/css; charset=utf-8' },
  '/hermes-client.mjs': { file: 'hermes-client.mjs', type: 'text/javascript; charset=utf-8', client: true },
};

const MAX_BODY_BYTES = 4096;
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The stack exists only once it has started, and its gateway needs this handler to start: so
 * the handler takes a getter and answers 503 until the getter returns the stack.
 */
export function createDemoHandler(getStack: () => DemoStack | undefined, opts: DemoOptions = {}): HttpHandler {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === TOKEN_PATH) {
      await tokenEndpoint(req, res, getStack(), opts);
      return true;
    }
    const asset = STATIC[path];
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return true;
    }
    if (!asset) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method_not_allowed', message: `${path} answers GET only.` }, { allow: 'GET, HEAD' });
      return true;
    }
    const file = asset.client ? findClient() : findDemoFile(asset.file);
    if (!file) {
      const what = asset.client ? 'The client library is not built' : `The demo file ${asset.file} is missing`;
      sendJson(res, 404, { error: 'not_built', message: `${what}; run \`npm run build\`.` });
      return true;
    }
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': asset.type, 'content-length': body.length, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

async function tokenEndpoint(req: IncomingMessage, res: ServerResponse, stack: DemoStack | undefined, opts: DemoOptions): Promise<void> {
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'method_not_allowed', message: `Use POST ${TOKEN_PATH} with {"user": "...", "room": "..."}.` }, { allow: 'POST' });
    return;
  }
  if (!stack) {
    sendJson(res, 503, { error: 'starting', message: 'The local stack is still starting; try again in a moment.' });
    return;
  }
  // Another site open in the same browser must not mint tokens here: JSON only (a cross-site
  // fetch then needs a CORS preflight, which is never granted), and only under this host's
  // names (a DNS-rebinding page would send its own name as Host).
  const hostProblem = badHost(req, stack.gateway.host);
  if (hostProblem) {
    sendJson(res, 403, { error: 'forbidden', message: hostProblem });
    return;
  }
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    sendJson(res, 415, { error: 'unsupported_media_type', message: 'Send the request as Content-Type: application/json.' });
    return;
  }
  let input: { user?: unknown; room?: unknown };
  try {
    input = JSON.parse(await readBody(req));
  } catch (err) {
    sendJson(res, 400, { error: 'invalid_request', message: `The body must be JSON {"user": "...", "room": "..."}: ${(err as Error).message}` });
    return;
  }
  const problem =
    (input === null || typeof input !== 'object' ? 'The body must be a JSON object {"user": "...", "room": "..."}.' : undefined) ??
    withPrefix('user', userProblem(input.user)) ??
    withPrefix('room', roomProblem(input.room));
  if (problem) {
    sendJson(res, 400, { error: 'invalid_request', message: problem });
    return;
  }
  const issued = await issueToken(
    { ddb: stack.ddb, table: stack.names.tokensTable, secret: stack.jwtSecret, bcryptCost: opts.bcryptCost },
    { userId: input.user as string, roomId: input.room as string, ttlSeconds: opts.tokenTtlSeconds ?? DEMO_TOKEN_TTL_SECONDS },
  );
  opts.onToken?.(issued);
  // The URL the page should use is the one it reached us by, which may not be the bind address.
  const url = `ws://${req.headers.host ?? `${stack.gateway.host}:${stack.gateway.port}`}/${stack.stage}`;
  sendJson(res, 200, {
    token: issued.token,
    tokenId: issued.tokenId,
    user: issued.userId,
    room: issued.roomId,
    expiresAt: new Date(issued.expiresAt * 1000).toISOString(),
    url,
    cli: opts.command ?? 'hermes',
  });
}

function withPrefix(field: string, problem: string | undefined): string | undefined {
  return problem && `"${field}" ${problem}.`;
}

function badHost(req: IncomingMessage, boundHost: string): string | undefined {
  const host = req.headers.host;
  if (!host) return 'The request has no Host header.';
  // Bound to every interface: any name may be right, so only the JSON rule applies.
  if (boundHost === '0.0.0.0' || boundHost === '::') return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  const bound = boundHost.includes(':') ? `[${boundHost}]` : boundHost;
  if (LOOPBACK_NAMES.has(name) || name === bound.toLowerCase()) return undefined;
  return `Tokens are issued only to pages served from this machine (Host "${host}" is not ${bound}).`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Too large a body is read to its end and dropped, so the 400 still reaches the client.
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new Error(`the body is larger than ${MAX_BODY_BYTES} bytes`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

// The same module runs from source (tests: src/local/demo.ts) and bundled (dist/cli.mjs or a
// chunk under dist/chunks/), so its files are looked up relative to each possible location.
function firstExisting(candidates: string[]): string | undefined {
  for (const rel of candidates) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(file)) return file;
  }
  return undefined;
}

function findDemoFile(name: string): string | undefined {
  return firstExisting([`./demo/${name}`, `../demo/${name}`]);
}

function findClient(): string | undefined {
  return firstExisting(['./client/hermes-client.mjs', '../client/hermes-client.mjs', '../../dist/client/hermes-client.mjs']);
}
