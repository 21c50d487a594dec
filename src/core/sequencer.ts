/**
 * Sequence numbers: each frame accepted for a stream gets the next number of that stream, once,
 * with no gaps, even when SQS hands the same record to two invocations at once. Only
 * single-item conditional writes are used (dynalite has no transactions):
 *
 *   1. read the head H (./history.ts readHead: high-water mark and newest item, consistently);
 *   2. look the frame id up in the frame index (consistently); if found, that is its number;
 *   3. put the frame at H + 1 if that number is free; if it is not, start again at 1.
 *
 * Why this is enough: a number is only ever put at (head read by its writer) + 1, after the put
 * at the head had succeeded, so numbers are written in order and a head read proves every
 * number up to it is written. If a frame is put at H + 1, any other copy of it was either put
 * at a number <= H (written before step 1, so step 2 would have found it) or above H + 1 (whose
 * writer read a head >= H + 1 after this put, so its own step 2 finds this one). The LSI is
 * updated with the item, atomically, which is what makes step 2 trustworthy; a GSI would not be.
 * A crash between any two steps leaves either nothing or a complete message: the put is the
 * allocation. Then the high-water mark is raised (so TTL deleting the newest items cannot make
 * numbers go back) and, past the cap, old messages are trimmed.
 *
 * Frames for the same stream arriving together (a batch, or concurrent invocations in one
 * process) are numbered together: one head read, their lookups in parallel, then their puts one
 * after the other (a put may not start before the previous one succeeded, or a crash could
 * leave a hole). Across processes, a lost race on step 3 costs a retry, with jitter.
 */
import type { Frame } from '../../client/protocol.js';
import {
  findFrameSeq, getMessage, putMessage, raiseHead, readHead, streamKey, trim, trimRange,
  type HistoryDeps, type StoredMessage, type StreamRef,
} from './history.js';
import { jitteredDelay, sleep } from './retry.js';

export interface Sequenced {
  /** The frame with its `seq`, as first stored: a redelivery gets the original back. */
  frame: Frame;
  /** Its JSON text, exactly as stored and posted. */
  payload: string;
  /** False when the frame id already had a number (a redelivery). */
  fresh: boolean;
}

export interface Sequencer {
  /** Number a frame in its stream (it must not have a `seq` yet). */
  assign(stream: StreamRef, frame: Frame): Promise<Sequenced>;
}

export interface SequencerOptions {
  /** Attempts of steps 1-3 before giving up (the record is then retried by SQS). Default 25. */
  maxAttempts?: number;
  /** Frames numbered per round for one stream. Default 25. */
  batchSize?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Structured warnings: trimming failed (the reader-side cap and TTL still hold). */
  logger?: { warn(message: string, keys: Record<string, unknown>): void };
}

interface Pending {
  frame: Frame;
  resolve: (s: Sequenced) => void;
  reject: (err: unknown) => void;
}

export class SequenceContentionError extends Error {
  override name = 'SequenceContentionError';
}

/** The frame's JSON with `seq` added: the one serialisation every connection and the history get. */
export function withSeq(frame: Frame, seq: number): { frame: Frame; payload: string } {
  const numbered = { ...frame, seq };
  return { frame: numbered, payload: JSON.stringify(numbered) };
}

export function createSequencer(deps: HistoryDeps, opts: SequencerOptions = {}): Sequencer {
  const queues = new Map<string, { stream: StreamRef; pending: Pending[]; running: boolean }>();
  const maxAttempts = opts.maxAttempts ?? 25;
  const batchSize = opts.batchSize ?? 25;
  const wait = opts.sleep ?? sleep;
  const random = opts.random ?? Math.random;

  const stored = (m: StoredMessage, fresh: boolean): Sequenced => ({ frame: JSON.parse(m.payload) as Frame, payload: m.payload, fresh });

  /**
   * Steps 1-3 for a round of frames of one stream, in order; then the mark and the trim. Each
   * frame is answered when the round is complete, so an invocation that returns leaves no write
   * of its own behind (Lambda freezes what is still running).
   */
  async function number(stream: StreamRef, round: Pending[]): Promise<void> {
    let todo = round;
    let highest = 0;
    const answers: Array<() => void> = [];
    const trims: Array<{ from: number; to: number }> = [];
    for (let attempt = 1; todo.length; attempt++) {
      if (attempt > maxAttempts) {
        throw new SequenceContentionError(`Could not number ${todo.length} frames of ${streamKey(stream)} after ${maxAttempts} attempts: too many writers at once.`);
      }
      if (attempt > 1) await wait(jitteredDelay(attempt, 5, 200, random));
      let head = await readHead(deps, stream);
      const known = await Promise.all(todo.map((p) => findFrameSeq(deps, stream, p.frame.id)));
      const next: Pending[] = [];
      let lostRace = false;
      for (let i = 0; i < todo.length; i++) {
        const p = todo[i];
        const seq = known[i];
        if (seq !== undefined) {
          const m = await getMessage(deps, stream, seq);
          if (m) {
            highest = Math.max(highest, seq);
            answers.push(() => p.resolve(stored(m, false)));
            continue;
          }
          // Trimmed or expired between the two reads: outside the idempotency window, numbered anew.
        }
        if (lostRace) {
          next.push(p);
          continue;
        }
        const { payload } = withSeq(p.frame, head + 1);
        const put = await putMessage(deps, stream, { seq: head + 1, frameId: p.frame.id, payload, sentMs: Date.parse(p.frame.sent_at) || Date.now() });
        if (!put) {
          lostRace = true; // another writer took head + 1: read again
          next.push(p);
          continue;
        }
        head += 1;
        highest = Math.max(highest, head);
        answers.push(() => p.resolve(stored(put, true)));
        const range = trimRange(deps.maxPerStream, head);
        if (range) trims.push(range);
      }
      todo = next;
    }
    if (highest > 0) await raiseHead(deps, stream, highest);
    for (const range of trims) {
      await trim(deps, stream, range).catch((err) =>
        opts.logger?.warn('history: could not trim', { stream: streamKey(stream), ...range, error: (err as Error).message }),
      );
    }
    for (const answer of answers) answer();
  }

  async function drain(key: string): Promise<void> {
    const q = queues.get(key)!;
    q.running = true;
    try {
      while (q.pending.length) {
        const round = q.pending.splice(0, batchSize);
        // Same frame id twice in a round: number it once, answer both.
        const byId = new Map<string, Pending[]>();
        for (const p of round) byId.set(p.frame.id, [...(byId.get(p.frame.id) ?? []), p]);
        const unique = [...byId.values()].map((same) => ({
          frame: same[0].frame,
          resolve: (s: Sequenced) => same.forEach((p, i) => p.resolve(i === 0 ? s : { ...s, fresh: false })),
          reject: (e: unknown) => same.forEach((p) => p.reject(e)),
        }));
        try {
          await number(q.stream, unique);
        } catch (err) {
          for (const p of unique) p.reject(err); // a settled promise ignores this
        }
      }
    } finally {
      q.running = false;
      queues.delete(key);
    }
  }

  return {
    assign(stream, frame) {
      const key = streamKey(stream);
      let q = queues.get(key);
      if (!q) queues.set(key, (q = { stream, pending: [], running: false }));
      const queue = q;
      return new Promise<Sequenced>((resolve, reject) => {
        queue.pending.push({ frame, resolve, reject });
        // Start on the next turn, so frames that arrive together (a batch's records) share a round.
        if (!queue.running) {
          queue.running = true;
          setImmediate(() => void drain(key));
        }
      });
    },
  };
}
