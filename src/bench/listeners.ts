/**
 * Bench listeners: N WebSocket clients spread over R rooms, opened with bounded concurrency.
 * A group stays open across rounds (the bench script runs several fan-outs over the same
 * sockets); each frame goes to whichever round is currently listening.
 */
import WebSocket from 'ws';
import { nowMs, perSecond } from './stats.js';

export interface RoomPlan {
  /** Room names, index = room number. */
  rooms: string[];
  /** Listeners per room; sums to the listener count. */
  sizes: number[];
}

/** `listeners` spread as evenly as possible over `rooms` rooms called `<prefix>-r<i>`. */
export function planRooms(prefix: string, rooms: number, listeners: number): RoomPlan {
  const names = Array.from({ length: rooms }, (_, i) => `${prefix}-r${i}`);
  const sizes = names.map((_, i) => Math.floor(listeners / rooms) + (i < listeners % rooms ? 1 : 0));
  return { rooms: names, sizes };
}

/** Receives every frame of every listener of a group while a round runs. */
export interface FrameSink {
  onFrame(listener: number, data: Buffer, receivedAt: number): void;
}

export interface ConnectReport {
  requested: number;
  opened: number;
  failed: number;
  seconds: number;
  perSecond: number;
  /** The first few distinct connect errors. */
  errors: string[];
}

export interface ListenerGroup {
  plan: RoomPlan;
  /** Room number of each open listener. */
  roomOf: number[];
  sink?: FrameSink;
  /** Frames that arrived while no round was listening. */
  stray: number;
  /** Listeners whose socket closed before the group did. */
  dropped(): number;
  /** Frames listener `i` received since it opened, whatever they were; and its socket state. */
  describe(i: number): { frames: number; state: string };
  close(timeoutMs?: number): Promise<void>;
}

export interface ConnectOptions {
  /** Handshakes in flight at once. */
  concurrency?: number;
  /** Per handshake. */
  timeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (opened: number, failed: number, total: number) => void;
}

/**
 * Opens `plan`'s listeners. `urlFor(room)` gives the full URL (with credentials) for a room;
 * it is called once per listener, so a target can mint one token per room and reuse it.
 * Failures are counted and reported, not thrown: the report says how many listened.
 */
export async function connectListeners(
  plan: RoomPlan,
  urlFor: (room: string) => Promise<string>,
  opts: ConnectOptions = {},
): Promise<{ group: ListenerGroup; report: ConnectReport }> {
  const wanted: number[] = plan.sizes.flatMap((n, room) => Array<number>(n).fill(room));
  const sockets: WebSocket[] = [];
  const roomOf: number[] = [];
  const frames: number[] = [];
  const errors = new Set<string>();
  let failed = 0;
  let closedEarly = 0;
  let closing = false;
  const group: ListenerGroup = {
    plan,
    roomOf,
    stray: 0,
    dropped: () => closedEarly,
    describe: (i) => ({ frames: frames[i] ?? 0, state: ['connecting', 'open', 'closing', 'closed'][sockets[i]?.readyState ?? 3] }),
    close: (timeoutMs = 5000) => {
      closing = true;
      return closeAll(sockets, timeoutMs);
    },
  };

  const open = async (room: number): Promise<void> => {
    const url = await urlFor(plan.rooms[room]);
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: opts.timeoutMs ?? 30_000 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => {
        ws.terminate();
        reject(new Error(`handshake refused with HTTP ${res.statusCode}`));
      });
      ws.once('error', reject);
    });
    const index = sockets.length;
    sockets.push(ws);
    roomOf.push(room);
    frames.push(0);
    ws.on('message', (data: Buffer) => {
      const at = nowMs();
      frames[index]++;
      if (group.sink) group.sink.onFrame(index, data, at);
      else group.stray++;
    });
    ws.on('error', () => {}); // a close follows; counted there
    ws.once('close', () => {
      if (!closing) closedEarly++;
    });
  };

  const started = nowMs();
  let next = 0;
  let lastProgress = 0;
  const worker = async () => {
    while (next < wanted.length && !opts.signal?.aborted) {
      const room = wanted[next++];
      try {
        await open(room);
      } catch (err) {
        failed++;
        if (errors.size < 5) errors.add((err as Error).message);
      }
      const t = nowMs();
      if (opts.onProgress && t - lastProgress > 1000) {
        lastProgress = t;
        opts.onProgress(sockets.length, failed, wanted.length);
      }
    }
  };
  const workers = Math.max(1, Math.min(opts.concurrency ?? 50, wanted.length || 1));
  await Promise.all(Array.from({ length: workers }, worker));
  const ms = nowMs() - started;
  opts.onProgress?.(sockets.length, failed, wanted.length);
  return {
    group,
    report: {
      requested: wanted.length,
      opened: sockets.length,
      failed,
      seconds: Math.round(ms) / 1000,
      perSecond: perSecond(sockets.length, ms),
      errors: [...errors],
    },
  };
}

/** Close every socket; sockets that do not finish the close handshake in time are cut. */
async function closeAll(sockets: WebSocket[], timeoutMs: number): Promise<void> {
  const pending = sockets.filter((ws) => ws.readyState !== WebSocket.CLOSED);
  const closed = Promise.all(pending.map((ws) => new Promise((r) => (ws.readyState === WebSocket.CLOSED ? r(undefined) : ws.once('close', r)))));
  for (const ws of pending) ws.close(1000, 'bench done');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)));
  if ((await Promise.race([closed, late])) === 'late') for (const ws of pending) ws.terminate();
  clearTimeout(timer);
}
