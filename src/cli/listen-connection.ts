/**
 * The connection `hermes listen` keeps. Reconnecting, backoff, keepalive, deduplication, the
 * replay of what was missed (resume, in seq order) and the frame type are the client library's
 * (client/hermes-client.ts), run here with `ws`; this
 * module adds only what a command-line listener with one fixed token wants:
 * - it stops for good when a handshake is refused with 401/403: the token was revoked or has
 *   expired, and retrying it can never succeed (Node, unlike a browser, sees the status);
 * - it fails fast when the very first connection cannot be made, instead of retrying forever;
 * - what is sent while a reconnect is under way waits for the connection instead of being lost.
 */
import WebSocket from 'ws';
import { connect, wsHandshakeStatus, type ClientError, type CloseInfo, type ConnectOptions, type Frame, type StreamName } from '../../client/hermes-client.js';

export type ListenEvent =
  /** Connected; `reconnect` is false the first time. */
  | { kind: 'open'; reconnect: boolean }
  /** An open connection closed; the next attempt is in `delayMs`. */
  | { kind: 'lost'; code: number; reason: string; delayMs: number }
  /** A reconnect attempt failed (network, a timeout or a status other than 401/403); retrying. */
  | { kind: 'retry'; error: string; delayMs: number }
  /** A message that is not a frame: an error frame answering what was sent, or garbage. */
  | { kind: 'problem'; problem: ClientError }
  /** Messages from..to of a stream are gone: older than the stage's retention, or beyond its cap. */
  | { kind: 'gap'; stream: StreamName; from: number; to: number };

export type ListenEnd =
  | { kind: 'stopped' }
  /** A handshake was refused with 401 or 403: the token was revoked, expired or is invalid. */
  | { kind: 'refused'; status: number }
  /** The very first connection could not be made; nothing is retried then. */
  | { kind: 'failed'; close: CloseInfo };

export interface ListenConnectionOptions {
  /** The stage's WebSocket URL, without the token. */
  url: string;
  token: string;
  /** Every new frame, once, in seq order per stream (a redelivered one is dropped by the client). */
  onFrame(frame: Frame): void;
  /** Replay each stream after this seq first (the client's `since`). */
  since?: Partial<Record<StreamName, number>>;
  onEvent?(event: ListenEvent): void;
  /** Aborting it closes the connection (1000) and ends with `stopped`. */
  signal: AbortSignal;
  /** Client options for tests (backoff, keepalive, timeouts). */
  client?: Pick<ConnectOptions, 'backoff' | 'keepAliveMs' | 'connectTimeoutMs'>;
}

export interface ListenConnection {
  /** Broadcast `data` to the room now, or once the (re)connection is open. Throws RangeError when too large to ever send. */
  send(data: unknown): void;
  done: Promise<ListenEnd>;
}

export function openListenConnection(opts: ListenConnectionOptions): ListenConnection {
  const client = connect({ ...opts.client, url: opts.url, token: opts.token, since: opts.since, WebSocket, handshakeStatus: wsHandshakeStatus });
  const pending: unknown[] = [];
  let everOpened = false;
  let resolveDone!: (end: ListenEnd) => void;
  const done = new Promise<ListenEnd>((resolve) => (resolveDone = resolve));
  const finish = (end: ListenEnd) => {
    opts.signal.removeEventListener('abort', stop);
    client.close(1000, 'listener stopped');
    resolveDone(end);
  };
  const stop = () => finish({ kind: 'stopped' });

  client.on('open', ({ reconnect }) => {
    everOpened = true;
    opts.onEvent?.({ kind: 'open', reconnect });
    while (pending.length > 0 && client.send(pending[0])) pending.shift();
  });
  client.on('close', (info) => {
    if (info.retryInMs === undefined) return; // our own close()
    if (info.status === 401 || info.status === 403) return finish({ kind: 'refused', status: info.status });
    if (!everOpened) return finish({ kind: 'failed', close: info });
    if (info.wasOpen) opts.onEvent?.({ kind: 'lost', code: info.code, reason: info.reason, delayMs: info.retryInMs });
    else opts.onEvent?.({ kind: 'retry', error: describeFailure(info), delayMs: info.retryInMs });
  });
  client.on('frame', (frame) => opts.onFrame(frame));
  client.on('error', (problem) => opts.onEvent?.({ kind: 'problem', problem }));
  client.on('gap', (gap) => opts.onEvent?.({ kind: 'gap', ...gap }));

  if (opts.signal.aborted) stop();
  else opts.signal.addEventListener('abort', stop, { once: true });

  return {
    send(data) {
      // The client checks the size first, so nothing held is too large to send later. Held
      // messages go out in the first 'open' listener, before anything sent after it.
      if (!client.send(data)) pending.push(data);
    },
    done,
  };
}

/** Why an attempt failed before opening, in a few words: `HTTP 500`, `connect ECONNREFUSED …`. */
export function describeFailure(info: CloseInfo): string {
  if (info.status !== undefined) return `HTTP ${info.status}`;
  return info.error ?? `closed with ${info.code}`;
}
