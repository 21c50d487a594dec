/**
 * A WebSocket client that stays connected: when an open connection drops it reconnects with
 * exponential backoff and jitter (so a gateway restart is not met by every listener at once),
 * and it stops for good when a handshake is refused with 401/403, because retrying a revoked
 * or expired token can never succeed. Used by `hermes listen`; knows nothing about the CLI.
 */
import WebSocket from 'ws';
import { KEEPALIVE_MESSAGE } from '../core/ws-event.js';

export interface Backoff {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** Largest delay, before jitter. */
  maxMs: number;
  factor: number;
  random: () => number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1000, maxMs: 30_000, factor: 2, random: Math.random };

/** A connection that lasted this long counts as healthy: the next drop starts from `baseMs` again. */
const HEALTHY_AFTER_MS = 10_000;
/**
 * API Gateway closes a connection after 10 minutes without traffic (spec §5); a quiet room
 * must not cost the listener a reconnect (and the frames published during it).
 */
export const KEEPALIVE_MS = 9 * 60_000;
/** A close handshake the server never answers must not hold `stop()` up. */
const CLOSE_WAIT_MS = 2000;

/** Delay before retry number `attempt` (0 = first): half fixed, half random ("equal jitter"). */
export function backoffDelay(attempt: number, b: Backoff = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(b.maxMs, b.baseMs * b.factor ** attempt);
  return Math.round(ceiling / 2 + (b.random() * ceiling) / 2);
}

export type ListenEvent =
  /** Connected; `reconnect` is false the first time. */
  | { kind: 'open'; reconnect: boolean }
  /** An open connection closed; the next attempt is in `delayMs`. */
  | { kind: 'lost'; code: number; reason: string; delayMs: number }
  /** A reconnect attempt failed (network error or a non-auth HTTP status); retrying. */
  | { kind: 'retry'; error: string; status?: number; delayMs: number };

export type ListenEnd =
  | { kind: 'stopped' }
  /** A handshake was refused with 401 or 403: the token was revoked, expired or is invalid. */
  | { kind: 'refused'; status: number }
  /** The very first connection could not be made; nothing is retried then (fail fast). */
  | { kind: 'failed'; error: Error; status?: number };

export interface ListenClientOptions {
  /** Full URL including `?token=`. */
  url: string;
  onMessage(text: string): void;
  onEvent?(event: ListenEvent): void;
  /** Aborting it closes the connection (1000) and ends the client with `stopped`. */
  signal?: AbortSignal;
  backoff?: Partial<Backoff>;
  handshakeTimeoutMs?: number;
  /** Send a keepalive after this long without traffic either way (0 = never). */
  keepAliveMs?: number;
}

export interface ListenClient {
  /** Send a text message now, or as soon as the (re)connection is open. */
  send(text: string): void;
  stop(): void;
  done: Promise<ListenEnd>;
}

export function startListenClient(opts: ListenClientOptions): ListenClient {
  const backoff: Backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
  const pending: string[] = [];
  let ws: WebSocket | undefined;
  let attempt = 0;
  let everOpened = false;
  let stopped = false;
  let finished = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let keepAliveTimer: NodeJS.Timeout | undefined;
  const keepAliveMs = opts.keepAliveMs ?? KEEPALIVE_MS;
  // Any traffic resets the gateway's idle timer, so the keepalive is due only after silence.
  const armKeepAlive = () => {
    clearTimeout(keepAliveTimer);
    if (keepAliveMs <= 0 || stopped) return;
    keepAliveTimer = setTimeout(() => {
      if (ws?.readyState === WebSocket.OPEN) ws.send(KEEPALIVE_MESSAGE);
      armKeepAlive();
    }, keepAliveMs);
    keepAliveTimer.unref();
  };
  let resolveDone!: (end: ListenEnd) => void;
  const done = new Promise<ListenEnd>((resolve) => (resolveDone = resolve));

  const finish = (end: ListenEnd) => {
    if (finished) return;
    finished = true;
    clearTimeout(retryTimer);
    clearTimeout(keepAliveTimer);
    opts.signal?.removeEventListener('abort', stop);
    resolveDone(end);
  };

  function connect(): void {
    const socket = new WebSocket(opts.url, { handshakeTimeout: opts.handshakeTimeoutMs ?? 15_000, perMessageDeflate: false });
    ws = socket;
    let openedAt: number | undefined;
    let status: number | undefined;
    let error: Error | undefined;

    socket.on('unexpected-response', (_req, res) => {
      status = res.statusCode;
      res.resume();
      socket.terminate();
    });
    socket.on('error', (err) => {
      error ??= err;
    });
    socket.on('open', () => {
      openedAt = Date.now();
      const reconnect = everOpened;
      everOpened = true;
      opts.onEvent?.({ kind: 'open', reconnect });
      for (const text of pending.splice(0)) socket.send(text);
      armKeepAlive();
    });
    socket.on('message', (data, isBinary) => {
      armKeepAlive();
      if (!stopped) opts.onMessage(isBinary ? `<${(data as Buffer).length} bytes of binary data>` : data.toString());
    });
    socket.on('close', (code, reason) => {
      if (ws === socket) ws = undefined;
      clearTimeout(keepAliveTimer);
      if (stopped) return finish({ kind: 'stopped' });
      if (status === 401 || status === 403) return finish({ kind: 'refused', status });
      if (!everOpened) {
        return finish({ kind: 'failed', error: error ?? new Error(`HTTP ${status ?? 'error'}`), ...(status ? { status } : {}) });
      }
      if (openedAt !== undefined && Date.now() - openedAt >= HEALTHY_AFTER_MS) attempt = 0;
      const delayMs = backoffDelay(attempt++, backoff);
      if (openedAt !== undefined) {
        opts.onEvent?.({ kind: 'lost', code, reason: reason.toString(), delayMs });
      } else {
        const what = status ? `HTTP ${status}` : ((error as NodeJS.ErrnoException | undefined)?.code ?? error?.message ?? 'unknown error');
        opts.onEvent?.({ kind: 'retry', error: what, ...(status ? { status } : {}), delayMs });
      }
      retryTimer = setTimeout(connect, delayMs);
    });
  }

  function stop(): void {
    if (stopped) return;
    stopped = true;
    clearTimeout(retryTimer);
    const socket = ws;
    if (!socket) return finish({ kind: 'stopped' });
    if (socket.readyState === WebSocket.OPEN) {
      socket.close(1000, 'listener stopped');
      setTimeout(() => socket.terminate(), CLOSE_WAIT_MS).unref();
    } else {
      socket.terminate();
    }
  }

  if (opts.signal?.aborted) {
    stopped = true;
    finish({ kind: 'stopped' });
  } else {
    opts.signal?.addEventListener('abort', stop, { once: true });
    connect();
  }

  return {
    send(text) {
      if (ws?.readyState === WebSocket.OPEN) {
        ws.send(text);
        armKeepAlive();
      } else pending.push(text);
    },
    stop,
    done,
  };
}
