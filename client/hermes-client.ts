/**
 * hermes client: connects a browser page (or a Node 20+ process) to a hermes WebSocket stage
 * and calls subscribers per message type, as the original design's page did.
 *
 *   const client = connect({ url: 'wss://…/prod', getToken: () => fetchTokenFromMyBackend() });
 *   client.subscribe('info', (text, frame) => toast(text));
 *   client.on('state', (state) => indicator.textContent = state);
 *   client.send({ type: 'chat', data: 'hello room' });
 *
 * Frames are `{id, room_id, user_id, data, sent_at, seq}`. `data.type` picks the subscribers,
 * which get `data.data`; `'*'` subscribers get every frame's whole `data`. A connection has two
 * streams, its room's messages and its user's; each is delivered in `seq` order, once, and on
 * every (re)connection the client asks for what it missed (`resume`), so nothing published
 * while it was away is lost (./stream-order.ts). Frames without `seq` are deduplicated by `id`.
 * No runtime dependencies: it uses the global `WebSocket`
 * (browsers, Node 22+) or the constructor passed as `WebSocket` (e.g. the `ws` package on Node 20).
 * The frame type and the keepalive message are the wire contract in ./protocol.ts, which the
 * server imports too.
 */

import { KEEPALIVE_MESSAGE, RESUME_ACTION, streamOf, type Frame, type ResumedFrame, type ResumeRequest, type StreamName } from './protocol.js';
import { StreamOrder } from './stream-order.js';

export {
  KEEPALIVE_ACTION, KEEPALIVE_MESSAGE, RESUME_ACTION, streamOf, type ErrorFrame, type Frame, type LostRange, type ResumedFrame, type ResumeRequest,
  type StreamName,
} from './protocol.js';

/** `connecting`: an attempt is under way (token, handshake). `reconnecting`: waiting to retry. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ClientError {
  /**
   * `server`: an error frame answering something this client sent (`{error, message}` from
   * hermes, or API Gateway's own `{message}` frames, reported as error `gateway`).
   * `token`: getToken() failed. `subscriber`: a subscriber or listener threw.
   * `protocol`: a frame that is not JSON or not a hermes frame.
   */
  source: 'server' | 'token' | 'subscriber' | 'protocol';
  error: string;
  message: string;
  cause?: unknown;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** False when the connection never opened (refused, unreachable, timed out). */
  wasOpen: boolean;
  /** Node's `ws` says why a handshake failed (e.g. "Unexpected server response: 401"); browsers never do. */
  error?: string;
  /**
   * The HTTP status a refused handshake was answered with (401 or 403: the token is refused),
   * when `handshakeStatus` can read it; a browser never can.
   */
  status?: number;
  /** Delay before the next attempt; absent after close(). */
  retryInMs?: number;
}

export interface StateInfo {
  /** Attempts since the last connection that stayed open `backoff.resetAfterMs` (1 = the first try). */
  attempt: number;
  /** With `reconnecting`: how long until the next attempt. */
  delayMs?: number;
}

export interface ClientEvents {
  state: (state: ConnectionState, info: StateInfo) => void;
  open: (info: { reconnect: boolean }) => void;
  close: (info: CloseInfo) => void;
  error: (error: ClientError) => void;
  /** Every text message as received, before parsing and deduplication (for logs). */
  raw: (text: string) => void;
  /** Every new frame, once, in `seq` order per stream; `frame.replay` is true on a frame a resume sent again. */
  frame: (frame: Frame) => void;
  /** A frame already delivered (same `seq`, or same `id`); subscribers are not called. */
  duplicate: (frame: Frame) => void;
  /**
   * Messages `from`..`to` of a stream are gone for good (older than the stage's retention, or
   * beyond its cap), so they can never be delivered: tell the user, reload the page's data.
   */
  gap: (info: { stream: StreamName; from: number; to: number }) => void;
  /** getToken() returned a token (after a refusal, on expiry, or the first time). */
  token: (token: string) => void;
}

export type Subscriber<T = unknown> = (data: T, frame: Frame) => void;

/** The part of the WebSocket API this client uses; browsers' WebSocket and `ws` both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface BackoffOptions {
  /** Ceiling of the first retry delay; default 500 ms. */
  initialMs?: number;
  /** Largest ceiling; default 30 s. */
  maxMs?: number;
  /** Growth per failed attempt; default 2. */
  factor?: number;
  /**
   * An open connection that lasted this long starts the delays from `initialMs` again; one that
   * closes sooner (a server that accepts and drops at once) counts as a failure. Default 10 s.
   */
  resetAfterMs?: number;
}

export interface ConnectOptions {
  /** The stage's WebSocket URL, e.g. `wss://abc123.execute-api.eu-west-1.amazonaws.com/prod`. */
  url: string;
  /** A token to start with. Without getToken it is used for every attempt. */
  token?: string;
  /**
   * Called for a fresh token: first (without `token`), when the token has expired or will within
   * `renewBeforeSeconds`, and after any attempt that failed before the socket opened, because a
   * browser cannot tell a refused token from an unreachable server.
   */
  getToken?: () => string | Promise<string>;
  /** Default: the global WebSocket. On Node 20 pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  backoff?: BackoffOptions;
  /** Send a keepalive after this long without traffic; API Gateway closes idle sockets at 10 min. Default 9 min, 0 = never. */
  keepAliveMs?: number;
  /** Give up on a handshake after this long; default 35 s (API Gateway allows 29 s for authorizer and $connect). */
  connectTimeoutMs?: number;
  /** How many frame ids are remembered for deduplication; default 1000. */
  dedupeSize?: number;
  /** Renew a token this long before its `exp`; default 30 s. */
  renewBeforeSeconds?: number;
  /**
   * Reads the HTTP status of a refused handshake, which a browser never reveals (there a refused
   * token and an unreachable server both close with 1006 before `open`). Called with each new
   * socket; it calls `refused(status)` when the server answers the upgrade with another status
   * than 101, and that attempt's `close` event carries `status`. On Node with the `ws` package
   * pass `wsHandshakeStatus`.
   */
  handshakeStatus?: (socket: WebSocketLike, refused: (status: number) => void) => void;
  /**
   * Ask for missed messages on every connection (`resume`), and deliver each stream in `seq`
   * order. Default true; false only for a stage deployed before history (it answers the
   * request with an `unknown_action` error, after which the client stops asking anyway).
   */
  resume?: boolean;
  /** The last `seq` seen per stream before this client started (e.g. kept in localStorage from `positions()`). */
  since?: Partial<Record<StreamName, number>>;
  /** How long a frame that came early waits for the ones before it before they are fetched; default 1 s. */
  gapWaitMs?: number;
  /** How long frames wait for the answer to a resume before going on without it; default 10 s. */
  resumeTimeoutMs?: number;
  /** For tests: the jitter source, default Math.random. */
  random?: () => number;
}

export interface HermesClient {
  readonly state: ConnectionState;
  /** Calls `callback(data.data, frame)` for frames whose `data.type` is `type`; `'*'`: `callback(data, frame)` for all. Returns an unsubscribe function. */
  subscribe<T = unknown>(type: string, callback: Subscriber<T>): () => void;
  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void;
  off<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): void;
  /** Broadcasts `data` to the room through the `sendMessage` route. False when not open (nothing is queued); throws RangeError above MAX_SEND_BYTES in any state. */
  send(data: unknown): boolean;
  /** Resolves when the connection is open (now or after the next successful attempt); rejects once closed. */
  opened(): Promise<void>;
  /** The last `seq` delivered per stream: pass it back as `since` to resume after a page reload. */
  positions(): Partial<Record<StreamName, number>>;
  /** Closes for good: no more reconnects or events. */
  close(code?: number, reason?: string): void;
}

export const DEFAULTS = {
  backoff: { initialMs: 500, maxMs: 30_000, factor: 2, resetAfterMs: 10_000 },
  keepAliveMs: 9 * 60_000,
  connectTimeoutMs: 35_000,
  dedupeSize: 1000,
  renewBeforeSeconds: 30,
  gapWaitMs: 1000,
  resumeTimeoutMs: 10_000,
  /** Frames held behind a hole at most, per stream; past it the hole is reported as a gap. */
  maxBuffered: 10_000,
} as const;

/** API Gateway's largest inbound WebSocket frame; a browser sends each message as one frame. */
export const MAX_SEND_BYTES = 32 * 1024;

const OPEN = 1;

/**
 * Delay before retry number `failures` (1 = first retry): "equal jitter", half of the capped
 * exponential ceiling fixed and half random, so a gateway restart does not bring every client
 * back in the same instant, and delays never shrink as failures accumulate.
 */
export function backoffDelay(failures: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { initialMs, maxMs, factor } = { ...DEFAULTS.backoff, ...options };
  const ceiling = Math.min(maxMs, initialMs * factor ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The `exp` claim of a JWT (seconds), without verifying it; undefined if unreadable. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')));
    return typeof claims?.exp === 'number' ? claims.exp : undefined;
  } catch {
    return undefined;
  }
}

export function connect(options: ConnectOptions): HermesClient {
  return new Client(options);
}

/**
 * `handshakeStatus` for Node's `ws` package, whose socket emits `unexpected-response` with the
 * HTTP response of a refused upgrade. Listening to it means `ws` no longer aborts the handshake
 * itself, so this drains the response and ends the attempt.
 */
export function wsHandshakeStatus(socket: WebSocketLike, refused: (status: number) => void): void {
  const ws = socket as WebSocketLike & {
    once?: (event: 'unexpected-response', listener: (req: unknown, res: { statusCode?: number; resume?: () => void }) => void) => void;
    terminate?: () => void;
  };
  if (typeof ws.once !== 'function') return;
  ws.once('unexpected-response', (_req, res) => {
    if (typeof res?.statusCode === 'number') refused(res.statusCode);
    res?.resume?.();
    if (typeof ws.terminate === 'function') ws.terminate();
    else ws.close();
  });
}

/** Insertion-ordered set that forgets its oldest ids past `max`. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number) {}

  /** True the first time an id is seen. */
  add(id: string): boolean {
    if (this.ids.has(id)) {
      this.ids.delete(id); // refresh: a duplicate is likely to come again soon
      this.ids.add(id);
      return false;
    }
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value as string);
    return true;
  }
}

type Listener = (...args: any[]) => void;

class Client implements HermesClient {
  private current: ConnectionState = 'connecting';
  private ws?: WebSocketLike;
  private token?: string;
  /** The last attempt failed before opening: ask getToken() before the next one. */
  private needFreshToken = false;
  /** Failed attempts and short-lived connections since the last one that stayed open long enough. */
  private failures = 0;
  private openedAt = 0;
  private everOpened = false;
  private finished = false;
  private lastActivity = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private connectTimer?: ReturnType<typeof setTimeout>;
  private keepAliveTimer?: ReturnType<typeof setTimeout>;
  private readonly subscribers = new Map<string, Set<Subscriber<any>>>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly seen: RecentIds;
  private readonly WS: WebSocketConstructor;
  private readonly opts: ConnectOptions;
  /** Per stream, when resuming: in-order delivery and what to ask for. */
  private readonly orders?: Record<StreamName, StreamOrder>;

  constructor(options: ConnectOptions) {
    if (!options || typeof options.url !== 'string' || !/^wss?:\/\//i.test(options.url)) {
      throw new TypeError('hermes connect(): `url` must be a ws:// or wss:// URL.');
    }
    if (!options.token && typeof options.getToken !== 'function') {
      throw new TypeError('hermes connect(): pass `token` or `getToken`.');
    }
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof WS !== 'function') {
      throw new TypeError('hermes connect(): there is no global WebSocket here; pass one, e.g. `WebSocket` from the "ws" package.');
    }
    this.WS = WS;
    this.opts = options;
    this.token = options.token;
    this.seen = new RecentIds(options.dedupeSize ?? DEFAULTS.dedupeSize);
    if (options.resume !== false) {
      const order = (name: StreamName) =>
        new StreamOrder(
          name,
          {
            deliver: (frame) => this.deliver(frame),
            duplicate: (frame) => this.emit('duplicate', frame),
            fetch: (since, until) => this.sendResume({ [name]: since }, until === undefined ? undefined : { [name]: until }),
            gap: (range) => this.emit('gap', { stream: name, ...range }),
            reset: ({ since, head }) =>
              this.emit('error', {
                source: 'server',
                error: 'history_reset',
                message: `The server's ${name} stream is at seq ${head}, behind the ${since} this client saw (its history was reset); continuing from ${head}.`,
              }),
          },
          {
            gapWaitMs: options.gapWaitMs ?? DEFAULTS.gapWaitMs,
            resumeTimeoutMs: options.resumeTimeoutMs ?? DEFAULTS.resumeTimeoutMs,
            maxBuffered: DEFAULTS.maxBuffered,
          },
          options.since?.[name],
        );
      this.orders = { room: order('room'), user: order('user') };
    }
    // Start after the caller had a chance to add listeners, so it sees the first state change.
    this.retryTimer = setTimeout(() => void this.attempt(), 0);
  }

  get state(): ConnectionState {
    return this.current;
  }

  subscribe<T = unknown>(type: string, callback: Subscriber<T>): () => void {
    if (typeof type !== 'string' || typeof callback !== 'function') throw new TypeError('subscribe(type, callback): type is a string, callback a function.');
    let set = this.subscribers.get(type);
    if (!set) this.subscribers.set(type, (set = new Set()));
    set.add(callback);
    return () => void this.subscribers.get(type)?.delete(callback);
  }

  on<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener);
    return () => this.off(event, listener);
  }

  off<E extends keyof ClientEvents>(event: E, listener: ClientEvents[E]): void {
    this.listeners.get(event)?.delete(listener as Listener);
  }

  send(data: unknown): boolean {
    if (data === undefined) throw new TypeError('send(data): data must be a JSON value.');
    const text = JSON.stringify({ action: 'sendMessage', data });
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > MAX_SEND_BYTES) {
      // The gateway would close the whole connection (1009) rather than refuse the one message.
      // Checked before the state, so a caller that holds messages for later learns it now.
      throw new RangeError(`send(data): the message is ${bytes} bytes; API Gateway accepts at most ${MAX_SEND_BYTES} from a client.`);
    }
    const ws = this.ws;
    if (!ws || this.current !== 'open' || ws.readyState !== OPEN) return false;
    ws.send(text);
    this.lastActivity = Date.now();
    return true;
  }

  opened(): Promise<void> {
    if (this.current === 'open') return Promise.resolve();
    if (this.finished) return Promise.reject(new Error('The hermes client is closed.'));
    return new Promise((resolve, reject) => {
      const offState = this.on('state', (state) => {
        if (state === 'open') {
          offState();
          resolve();
        } else if (state === 'closed') {
          offState();
          reject(new Error('The hermes client was closed before it connected.'));
        }
      });
    });
  }

  positions(): Partial<Record<StreamName, number>> {
    const out: Partial<Record<StreamName, number>> = {};
    for (const o of Object.values(this.orders ?? {})) if (o.position !== undefined) out[o.name] = o.position;
    return out;
  }

  close(code = 1000, reason = ''): void {
    if (this.finished) return;
    this.finished = true;
    this.clearTimers();
    this.forEachOrder((o) => o.closed());
    const ws = this.ws;
    this.ws = undefined;
    const wasOpen = this.current === 'open';
    if (ws) {
      detach(ws);
      try {
        ws.close(code, reason);
      } catch {
        ws.close(); // a code the browser does not allow a page to send
      }
    }
    this.setState('closed', { attempt: this.failures });
    this.emit('close', { code, reason, wasOpen });
    this.listeners.clear();
  }

  // ---- connecting ------------------------------------------------------------------------------

  private async attempt(): Promise<void> {
    if (this.finished) return;
    this.setState('connecting', { attempt: this.failures + 1 });
    let token: string;
    try {
      token = await this.freshToken();
    } catch (err) {
      if (this.finished) return;
      this.emit('error', { source: 'token', error: 'token_unavailable', message: `getToken() failed: ${describe(err)}`, cause: err });
      return this.retry({ code: 1006, reason: '', wasOpen: false });
    }
    if (this.finished) return;

    const url = new URL(this.opts.url);
    url.searchParams.set('token', token);
    let ws: WebSocketLike;
    let opened = false;
    let failure: string | undefined;
    let status: number | undefined;
    try {
      ws = new this.WS(url.toString());
    } catch (err) {
      return this.retry({ code: 1006, reason: '', wasOpen: false, error: describe(err) });
    }
    try {
      this.opts.handshakeStatus?.(ws, (refusedWith) => {
        if (!opened && Number.isInteger(refusedWith)) status = refusedWith;
      });
    } catch (err) {
      detach(ws);
      ws.close();
      return this.retry({ code: 1006, reason: '', wasOpen: false, error: `handshakeStatus threw: ${describe(err)}` });
    }
    this.ws = ws;
    this.connectTimer = setTimeout(() => {
      if (this.ws !== ws || opened) return;
      this.ws = undefined;
      detach(ws);
      ws.close();
      this.retry({ code: 1006, reason: '', wasOpen: false, error: 'handshake timed out' });
    }, this.opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs);

    ws.onopen = () => {
      if (this.ws !== ws) return;
      opened = true;
      clearTimeout(this.connectTimer);
      const reconnect = this.everOpened;
      this.everOpened = true;
      this.openedAt = this.lastActivity = Date.now();
      this.armKeepAlive();
      // First thing on every connection: what did each stream have since the last frame seen?
      if (this.orders) this.sendResume({ room: this.orders.room.opening(), user: this.orders.user.opening() });
      this.setState('open', { attempt: this.failures + 1 });
      this.emit('open', { reconnect });
    };
    ws.onmessage = (event: { data: unknown }) => {
      if (this.ws !== ws) return;
      this.lastActivity = Date.now(); // any message resets API Gateway's idle timer
      this.receive(event.data);
    };
    ws.onerror = (event: { message?: unknown; error?: unknown }) => {
      if (typeof event?.message === 'string' && event.message) failure = event.message;
    };
    ws.onclose = (event: { code?: number; reason?: string }) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.forEachOrder((o) => o.closed());
      // After a refused upgrade `ws` only says the handshake was aborted; the status says why.
      if (status !== undefined) failure = `Unexpected server response: ${status}`;
      this.retry({
        code: event?.code ?? 1006,
        reason: event?.reason ?? '',
        wasOpen: opened,
        ...(failure ? { error: failure } : {}),
        ...(status !== undefined ? { status } : {}),
      });
    };
  }

  private async freshToken(): Promise<string> {
    const getToken = this.opts.getToken;
    if (getToken && (!this.token || this.needFreshToken || this.expiresSoon(this.token))) {
      const token = await getToken();
      if (typeof token !== 'string' || token === '') throw new TypeError('getToken() must return a non-empty string.');
      this.token = token;
      this.needFreshToken = false;
      this.emit('token', token);
    }
    return this.token as string;
  }

  private expiresSoon(token: string): boolean {
    const exp = tokenExpiry(token);
    const margin = this.opts.renewBeforeSeconds ?? DEFAULTS.renewBeforeSeconds;
    return exp !== undefined && exp - margin <= Date.now() / 1000;
  }

  /** After any failure or close: count it, say so, and try again after the backoff delay. */
  private retry(info: Omit<CloseInfo, 'retryInMs'>): void {
    this.clearTimers();
    if (this.finished) return;
    // A browser reports a refused handshake as a plain 1006 before `open`, exactly like an
    // unreachable server; a fresh token is the only way out of the first case.
    if (!info.wasOpen) this.needFreshToken = true;
    const resetAfterMs = this.opts.backoff?.resetAfterMs ?? DEFAULTS.backoff.resetAfterMs;
    if (info.wasOpen && Date.now() - this.openedAt >= resetAfterMs) this.failures = 0;
    this.failures++;
    const delayMs = backoffDelay(this.failures, this.opts.backoff, this.opts.random);
    this.emit('close', { ...info, retryInMs: delayMs });
    if (this.finished) return; // a close listener may have called close()
    this.setState('reconnecting', { attempt: this.failures + 1, delayMs });
    this.retryTimer = setTimeout(() => void this.attempt(), delayMs);
  }

  // ---- receiving -------------------------------------------------------------------------------

  private receive(data: unknown): void {
    if (typeof data !== 'string') {
      this.emit('error', { source: 'protocol', error: 'binary_frame', message: 'Received a binary message; hermes sends text only.' });
      return;
    }
    this.emit('raw', data);
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      this.emit('error', { source: 'protocol', error: 'invalid_frame', message: `Received a message that is not JSON: ${data.slice(0, 80)}` });
      return;
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
      this.emit('error', { source: 'protocol', error: 'invalid_frame', message: 'Received a message that is not a JSON object.' });
      return;
    }
    const m = msg as Record<string, unknown>;
    if (typeof m.id === 'string' && 'data' in m) return this.dispatch(m as unknown as Frame);
    const resumed = (m as Partial<ResumedFrame>).resumed;
    if (resumed && typeof resumed === 'object' && (resumed.stream === 'room' || resumed.stream === 'user')) {
      this.orders?.[resumed.stream].resumed(resumed);
      return;
    }
    if (typeof m.error === 'string') {
      // A stage without the resume route (deployed before history) answers it so; stop waiting for it.
      if (m.error === 'unknown_action' || m.error === 'invalid_resume') this.forEachOrder((o) => o.unsupported());
      this.emit('error', { source: 'server', error: m.error, message: typeof m.message === 'string' ? m.message : m.error });
      return;
    }
    if (typeof m.message === 'string') {
      // API Gateway's own error frames: {"message": "Internal server error", "connectionId", "requestId"}.
      this.emit('error', { source: 'server', error: 'gateway', message: m.message });
      return;
    }
    this.emit('error', { source: 'protocol', error: 'invalid_frame', message: 'Received a JSON object that is neither a frame nor an error.' });
  }

  /** A frame with a seq goes through its stream's order; one without (a stage with no history) straight on. */
  private dispatch(frame: Frame): void {
    if (this.orders && typeof frame.seq === 'number' && Number.isSafeInteger(frame.seq)) {
      this.orders[streamOf(frame)].frame(frame as Frame & { seq: number });
      return;
    }
    this.deliver(frame);
  }

  private sendResume(since: ResumeRequest['since'], until?: ResumeRequest['until']): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return; // the next open resumes anyway
    ws.send(JSON.stringify({ action: RESUME_ACTION, since, ...(until ? { until } : {}) } satisfies ResumeRequest));
    this.lastActivity = Date.now();
  }

  private forEachOrder(f: (o: StreamOrder) => void): void {
    if (this.orders) for (const o of Object.values(this.orders)) f(o);
  }

  private deliver(frame: Frame): void {
    if (!this.seen.add(frame.id)) {
      this.emit('duplicate', frame);
      return;
    }
    this.emit('frame', frame);
    const data = frame.data as { type?: unknown; data?: unknown } | null;
    if (data && typeof data === 'object' && !Array.isArray(data) && typeof data.type === 'string') {
      this.call(this.subscribers.get(data.type), data.data, frame);
    }
    this.call(this.subscribers.get('*'), frame.data, frame);
  }

  private call(set: Set<Subscriber<any>> | undefined, data: unknown, frame: Frame): void {
    if (!set) return;
    for (const subscriber of [...set]) {
      try {
        subscriber(data, frame);
      } catch (err) {
        this.emit('error', { source: 'subscriber', error: 'subscriber_threw', message: `A subscriber threw: ${describe(err)}`, cause: err });
      }
    }
  }

  // ---- keepalive, state, events ----------------------------------------------------------------

  /** Sends a keepalive only after keepAliveMs without traffic either way; frames already reset the gateway's timer. */
  private armKeepAlive(): void {
    const every = this.opts.keepAliveMs ?? DEFAULTS.keepAliveMs;
    if (!(every > 0)) return;
    clearTimeout(this.keepAliveTimer);
    const due = this.lastActivity + every - Date.now();
    this.keepAliveTimer = setTimeout(() => {
      const ws = this.ws;
      if (!ws || this.current !== 'open' || ws.readyState !== OPEN) return;
      if (Date.now() - this.lastActivity >= every) {
        ws.send(KEEPALIVE_MESSAGE);
        this.lastActivity = Date.now();
      }
      this.armKeepAlive();
    }, Math.max(0, due));
  }

  private setState(state: ConnectionState, info: StateInfo): void {
    this.current = state;
    this.emit('state', state, info);
  }

  private emit<E extends keyof ClientEvents>(event: E, ...args: Parameters<ClientEvents[E]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (err) {
        if (event === 'error') continue; // never loop on a throwing error listener
        this.emit('error', { source: 'subscriber', error: 'listener_threw', message: `A "${event}" listener threw: ${describe(err)}`, cause: err });
      }
    }
  }

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.keepAliveTimer);
  }
}

function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = null;
  // Keep no-op handlers: `ws` (Node) emits an error when a pending handshake is aborted, and
  // an EventEmitter error without a listener would crash the process.
  ws.onerror = ws.onclose = () => {};
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
