/**
 * One bench round: publish M messages round-robin over the group's rooms (at a rate, or as
 * fast as the target takes them), then wait until every listener has every frame of its room
 * or the frames stop coming. Each message carries its publish time (`data.sent_ms`) and an id
 * `bench-<run>-<seq>`, so each frame is matched on receipt: latency, lost and duplicated
 * frames are counted per listener, against what that listener's room was sent.
 */
import type { QueueMessage } from '../core/envelope.js';
import type { FrameSink, ListenerGroup } from './listeners.js';
import { nowMs, perSecond, round, summarise, type LatencySummary } from './stats.js';

/** Hands messages to the system under test; resolves once accepted (queued, or posted). */
export type PublishFn = (messages: QueueMessage[]) => Promise<{ failed: number[] }>;

export interface RoundOptions {
  /** Unique per round: frames of other rounds are not counted. */
  runId: string;
  messages: number;
  /** Messages per second; undefined = as fast as the target accepts them. */
  rate?: number;
  /** Bytes of padding in each message's data. */
  payload?: number;
  /** Messages per publish call (SQS takes at most 10). */
  batch?: number;
  /** Publish calls in flight at once. */
  inFlight?: number;
  /** Stop waiting when no frame arrived for this long after the last publish. */
  quietMs?: number;
  /** Stop waiting this long after the last publish in any case. */
  drainTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (p: RoundProgress) => void;
}

export interface RoundProgress {
  phase: 'publish' | 'drain';
  published: number;
  messages: number;
  received: number;
  expected: number;
}

export interface RoundReport {
  messages: number;
  published: number;
  publishFailed: number;
  /** Achieved publish rate (messages/s). */
  publishRate: number;
  frames: {
    expected: number;
    received: number;
    lost: number;
    /** Listeners that missed at least one frame. */
    listenersMissing: number;
    /** The first few of those: how many frames each got in all, and its socket's state. */
    missingDetails: Array<{ listener: number; room: string; frames: number; state: string; lost: number }>;
    duplicated: number;
    /** Frames of this round that reached a listener of another room (must be 0). */
    misrouted: number;
    /** Frames that were not from this round (other traffic, error frames). */
    foreign: number;
    /** Delivered frames per second, first publish to last frame. */
    perSecond: number;
  };
  latencyMs: LatencySummary;
  seconds: number;
  /** Why waiting stopped: everything arrived, frames stopped coming, or the bound was hit. */
  drained: 'complete' | 'quiet' | 'timeout' | 'aborted';
}

/** Matches frames to messages. Counts are per listener and per message of its room. */
class Ledger implements FrameSink {
  readonly prefix: string;
  /** counts[l][k]: copies of the k-th message of listener l's room that l received. */
  readonly counts: Uint8Array[];
  readonly latencies: number[] = [];
  /** Every frame of this round that reached a listener of its room, duplicates included. */
  received = 0;
  /** Distinct (listener, message) pairs received. */
  distinct = 0;
  misrouted = 0;
  foreign = 0;
  lastFrameAt = 0;

  constructor(
    runId: string,
    private readonly roomOf: number[],
    private readonly rooms: number,
    messages: number,
  ) {
    this.prefix = `{"id":"${messageIdPrefix(runId)}`;
    this.counts = roomOf.map((r) => new Uint8Array(r < messages ? Math.ceil((messages - r) / rooms) : 0));
  }

  onFrame(listener: number, data: Buffer, at: number): void {
    // Only the head of the frame is decoded: the id comes first and data.sent_ms near it.
    const head = data.toString('latin1', 0, Math.min(data.length, 512));
    if (!head.startsWith(this.prefix)) {
      this.foreign++;
      return;
    }
    const seq = parseInt(head.slice(this.prefix.length, this.prefix.length + 12), 10);
    const room = this.roomOf[listener];
    const k = (seq - room) / this.rooms;
    const slots = this.counts[listener];
    if (!Number.isInteger(k) || k < 0 || k >= slots.length) {
      this.misrouted++;
      return;
    }
    if (slots[k] === 0) this.distinct++;
    if (slots[k] < 255) slots[k]++;
    this.received++;
    this.lastFrameAt = at;
    const i = head.indexOf('"sent_ms":');
    const sent = i >= 0 ? parseFloat(head.slice(i + 10, i + 40)) : sentFromJson(data);
    if (Number.isFinite(sent)) this.latencies.push(at - sent);
  }
}

function sentFromJson(data: Buffer): number {
  try {
    return Number((JSON.parse(data.toString('utf8')) as { data?: { sent_ms?: unknown } }).data?.sent_ms);
  } catch {
    return NaN;
  }
}

export function messageIdPrefix(runId: string): string {
  return `bench-${runId}-`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runRound(group: ListenerGroup, publish: PublishFn, opts: RoundOptions): Promise<RoundReport> {
  const { rooms } = group.plan;
  const R = rooms.length;
  const M = opts.messages;
  const ledger = new Ledger(opts.runId, group.roomOf, R, M);
  const listenersPerRoom = new Array<number>(R).fill(0);
  for (const r of group.roomOf) listenersPerRoom[r]++;
  const pad = 'x'.repeat(Math.max(0, opts.payload ?? 0));
  const batch = Math.max(1, Math.min(10, opts.batch ?? 10));
  const inFlightMax = Math.max(1, opts.inFlight ?? 8);
  const failedSeqs = new Set<number>();
  let expected = 0;
  let published = 0;
  let handedOver = 0;

  const progress = (phase: RoundProgress['phase']) =>
    opts.onProgress?.({ phase, published, messages: M, received: ledger.distinct, expected });

  const message = (seq: number, sentMs: number): QueueMessage => ({
    id: `${messageIdPrefix(opts.runId)}${seq}`,
    room_id: rooms[seq % R],
    user_id: 'hermes-bench',
    // sent_ms first: listeners read it from the head of the frame.
    data: { sent_ms: round(sentMs, 3), seq, ...(pad ? { pad } : {}) },
  });

  group.sink = ledger;
  const started = nowMs();
  const inFlight = new Set<Promise<void>>();
  const send = (from: number, to: number) => {
    const sentMs = nowMs();
    const msgs: QueueMessage[] = [];
    for (let s = from; s < to; s++) {
      msgs.push(message(s, sentMs));
      expected += listenersPerRoom[s % R];
    }
    handedOver = to;
    const p: Promise<void> = publish(msgs)
      .then(
        (res) => {
          for (const i of res.failed) failedSeqs.add(from + i);
        },
        () => {
          for (let s = from; s < to; s++) failedSeqs.add(s);
        },
      )
      .then(() => {
        published += to - from;
        inFlight.delete(p);
      });
    inFlight.add(p);
  };

  let lastProgress = started;
  while (handedOver < M && !opts.signal?.aborted) {
    const due = opts.rate ? Math.min(M, Math.floor(((nowMs() - started) * opts.rate) / 1000) + 1) : M;
    while (handedOver < due && inFlight.size < inFlightMax) send(handedOver, Math.min(due, handedOver + batch));
    if (inFlight.size >= inFlightMax) await Promise.race(inFlight);
    // With a rate: wake when the next message is due, but at most every 10 ms (small batches).
    else if (handedOver < M) await sleep(Math.max(10, started + (handedOver * 1000) / opts.rate! - nowMs()));
    if (nowMs() - lastProgress > 1000) {
      lastProgress = nowMs();
      progress('publish');
    }
  }
  await Promise.all(inFlight);
  const publishedAt = nowMs();
  for (const s of failedSeqs) expected -= listenersPerRoom[s % R];

  // Drain: bounded by quiet time and by a hard deadline, so a lost frame never hangs the bench.
  const quietMs = opts.quietMs ?? 5000;
  const deadline = publishedAt + (opts.drainTimeoutMs ?? 60_000);
  let drained: RoundReport['drained'] = 'complete';
  for (;;) {
    if (ledger.distinct >= expected) break;
    const t = nowMs();
    if (opts.signal?.aborted) {
      drained = 'aborted';
      break;
    }
    if (t > deadline) {
      drained = 'timeout';
      break;
    }
    if (t - Math.max(ledger.lastFrameAt, publishedAt) > quietMs) {
      drained = 'quiet';
      break;
    }
    if (t - lastProgress > 1000) {
      lastProgress = t;
      progress('drain');
    }
    await sleep(20);
  }
  group.sink = undefined;
  progress('drain');

  let lost = 0;
  let listenersMissing = 0;
  const missingDetails: RoundReport['frames']['missingDetails'] = [];
  let duplicated = 0;
  ledger.counts.forEach((slots, l) => {
    const room = group.roomOf[l];
    const lostBefore = lost;
    for (let k = 0; k < slots.length; k++) {
      if (failedSeqs.has(room + k * R)) continue;
      if (slots[k] === 0) lost++;
      else duplicated += slots[k] - 1;
    }
    if (lost > lostBefore) {
      listenersMissing++;
      if (missingDetails.length < 5) missingDetails.push({ listener: l, room: rooms[room], lost: lost - lostBefore, ...group.describe(l) });
    }
  });
  const end = ledger.lastFrameAt > 0 ? ledger.lastFrameAt : nowMs();
  return {
    messages: M,
    published: published - failedSeqs.size,
    publishFailed: failedSeqs.size,
    publishRate: perSecond(published, publishedAt - started),
    frames: {
      expected,
      received: ledger.received,
      lost,
      listenersMissing,
      missingDetails,
      duplicated,
      misrouted: ledger.misrouted,
      foreign: ledger.foreign,
      perSecond: perSecond(ledger.received, end - started),
    },
    latencyMs: summarise(ledger.latencies),
    seconds: round((end - started) / 1000, 2),
    drained,
  };
}
