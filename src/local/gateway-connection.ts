/**
 * One open WebSocket connection of the local gateway, after `$connect` said yes: its inbound
 * rules (text only, 32 KB frames, 128 KB messages), the per-connection message queue, the idle
 * and maximum-lifetime timers, and how it closes (docs/api-gateway-websocket.md §1.4, §5).
 * What a message *does* (route selection, handlers) belongs to the gateway, via `hooks`.
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { ConnectionInfo } from './gateway-events.js';

export interface ConnectionSettings {
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  /** Largest inbound data frame and the size outbound messages are split into; 0 = no limit. */
  maxFrameBytes: number;
}

export interface ConnectionHooks {
  /** Handles one inbound text message; must not reject. Messages arrive one at a time. */
  route(conn: Connection, body: string): Promise<void>;
  /** The socket has closed, with the code and reason `$disconnect` should get. */
  closed(conn: Connection, code: number, reason: string): void;
  log(line: string): void;
}

/** A client that outruns its handlers stops being read at HIGH queued messages, until LOW. */
const QUEUE_HIGH = 64;
const QUEUE_LOW = 16;

export class Connection implements ConnectionInfo {
  readonly id: string;
  readonly connectedAt: number;
  readonly identity: ConnectionInfo['identity'];
  readonly authorizer?: Record<string, string>;
  /** Last message in either direction, ms (§5 idle rule, GetConnection `lastActiveAt`). */
  lastActiveAt = Date.now();

  /** A close was started or the socket died: no more messages, POSTs get 410. */
  private closing = false;
  /** Our own close code and reason; `$disconnect` gets them rather than the client's echo. */
  private serverClose?: { code: number; reason: string };
  /** `$disconnect` is not to run from here (dropped, or already reported). */
  private silenced = false;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private paused = false;
  private idleTimer: NodeJS.Timeout;
  private readonly lifeTimer: NodeJS.Timeout;

  constructor(
    info: ConnectionInfo,
    readonly ws: WebSocket,
    socket: Duplex,
    private readonly settings: ConnectionSettings,
    private readonly hooks: ConnectionHooks,
  ) {
    this.id = info.id;
    this.connectedAt = info.connectedAt;
    this.identity = info.identity;
    this.authorizer = info.authorizer;
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('error', (err) => this.onProtocolError(err));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    this.guardFrameSize(socket);
    this.idleTimer = setTimeout(() => this.onIdle(), settings.idleTimeoutMs).unref();
    // The close code for idle and 2 h expiry is undocumented; 1001 as serverless-offline (§5).
    this.lifeTimer = setTimeout(() => this.close(1001, 'Going away'), settings.maxLifetimeMs).unref();
  }

  /** Open for management calls: `$connect` done and no close under way (§4.3). */
  get isOpen(): boolean {
    return !this.closing && this.ws.readyState === WebSocket.OPEN;
  }

  get isClosed(): boolean {
    return this.ws.readyState === WebSocket.CLOSED;
  }

  /** Bytes queued for a client that is not reading (§4.1 "client side buffer full"). */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** One message (text unless `binary`), split into frames of at most maxFrameBytes (§4.3, §5). Counts as activity. */
  send(data: string | Buffer, binary = false): void {
    if (!this.isOpen) return;
    this.lastActiveAt = Date.now();
    const frame = this.settings.maxFrameBytes;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (frame <= 0 || size <= frame) {
      this.ws.send(data, { binary });
      return;
    }
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let offset = 0; offset < size; offset += frame) {
      this.ws.send(bytes.subarray(offset, offset + frame), { binary, fin: offset + frame >= size });
    }
  }

  /** Server-side close; `hooks.closed` reports this code and reason once the socket is closed. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.serverClose = { code, reason };
    this.stop();
    this.ws.close(code, reason);
  }

  /** Destroys the socket without a close frame and without reporting it (a network cut). */
  drop(): void {
    this.silenced = true;
    this.stop();
    this.ws.terminate();
  }

  /** Destroys the socket; `hooks.closed` still runs (for clients that ignore a close frame). */
  terminate(): void {
    this.ws.terminate();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closing) return;
    this.lastActiveAt = Date.now();
    if (isBinary) return this.close(1003, 'Binary frames are not supported'); // §5
    const body = data.toString('utf8');
    if (++this.queued >= QUEUE_HIGH && !this.paused) {
      // The queue stays bounded and TCP pushes back on the client.
      this.paused = true;
      this.ws.pause();
    }
    this.queue = this.queue.then(async () => {
      await this.hooks.route(this, body);
      if (--this.queued <= QUEUE_LOW && this.paused) {
        this.paused = false;
        this.ws.resume();
      }
    });
  }

  /**
   * `ws` enforces the 128 KB message limit (maxPayload → close 1009) but only hands over whole
   * messages, so the 32 KB frame limit (§5) is checked on the raw socket, ahead of `ws`.
   */
  private guardFrameSize(socket: Duplex): void {
    const limit = this.settings.maxFrameBytes;
    if (limit <= 0) return;
    const scanner = new FrameScanner(limit);
    const onData = (chunk: Buffer) => {
      if (!scanner.push(chunk)) return;
      socket.off('data', onData);
      this.close(1009, 'Frame too big');
    };
    socket.prependListener('data', onData);
  }

  private onIdle(): void {
    if (this.closing) return;
    // Activity only stamps lastActiveAt; the timer re-arms for the remainder when it fires,
    // so a busy connection costs no timer work per message.
    const left = this.lastActiveAt + this.settings.idleTimeoutMs - Date.now();
    if (left > 0) this.idleTimer = setTimeout(() => this.onIdle(), left).unref();
    else this.close(1001, 'Going away');
  }

  /** `ws` closes by itself after a protocol error: 1009 over 128 KB, 1007 bad UTF-8, else 1002. */
  private onProtocolError(err: Error): void {
    const code = (err as { code?: string }).code;
    const status = code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 1009 : code === 'WS_ERR_INVALID_UTF8' ? 1007 : 1002;
    this.serverClose ??= { code: status, reason: '' };
    this.stop();
    this.hooks.log(`error: connection ${this.id}: ${err.message}`);
  }

  private onClose(code: number, reason: string): void {
    this.stop();
    if (this.silenced) return;
    this.silenced = true;
    // The client's own code and reason pass through; for our closes, ours (§1.4, §5).
    const close = this.serverClose ?? { code, reason };
    this.hooks.closed(this, close.code, close.reason);
  }

  private stop(): void {
    this.closing = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.lifeTimer);
  }
}

/**
 * Watches the raw client→server byte stream for data frames larger than `limit`. It reads
 * only frame headers and skips payloads, so it costs next to nothing per chunk.
 */
export class FrameScanner {
  private readonly header = Buffer.alloc(14);
  private headerLength = 0;
  private needed = 2;
  private skip = 0;

  constructor(private readonly limit: number) {}

  /** True once a data frame over the limit was seen. */
  push(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.header[this.headerLength++] = chunk[i++];
      const len7 = this.header[1] & 0x7f;
      if (this.headerLength === 2) {
        const masked = (this.header[1] & 0x80) !== 0;
        this.needed = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
      }
      if (this.headerLength < 2 || this.headerLength < this.needed) continue;
      const length =
        len7 === 126 ? this.header.readUInt16BE(2)
        : len7 === 127 ? this.header.readUInt32BE(2) * 2 ** 32 + this.header.readUInt32BE(6)
        : len7;
      const opcode = this.header[0] & 0x0f;
      if (opcode < 0x8 && length > this.limit) return true; // a data or continuation frame
      this.skip = length;
      this.headerLength = 0;
      this.needed = 2;
    }
    return false;
  }
}
