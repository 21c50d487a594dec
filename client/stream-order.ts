/**
 * In-order, once-only delivery of one stream of a connection (its room's messages, or its
 * user's): frames carry `seq` 1, 2, 3…; this hands them on in that order, holds one that comes
 * early until the ones before it arrive, asks the server for a gap that does not fill by itself,
 * and drops what it already delivered. Where a stream stands comes from the server's answers
 * to `resume` (client/protocol.ts ResumedFrame). No I/O here: the client gives it hooks.
 */
import type { Frame, LostRange, ResumedFrame, StreamName } from './protocol.js';

export interface StreamOrderHooks {
  /** The next frame in order. */
  deliver(frame: Frame): void;
  /** A frame already delivered (by seq). */
  duplicate(frame: Frame): void;
  /** Ask the server for what the stream had after `since` (up to `until`, for a hole). */
  fetch(since: number, until?: number): void;
  /** Messages from..to are gone for good (older than the retention, or beyond the cap). */
  gap(range: LostRange): void;
  /** The server's stream is behind what this client saw (its history was wiped): start again at `head`. */
  reset(info: { since: number; head: number }): void;
}

export interface StreamOrderOptions {
  /** How long a hole may stay before it is fetched. */
  gapWaitMs: number;
  /** How long to wait for the answer to a resume before going on without it. */
  resumeTimeoutMs: number;
  /** Frames held at most; past it the hole is given up as a gap. */
  maxBuffered: number;
}

export class StreamOrder {
  /** Highest seq delivered in order; undefined until the server said where the stream is. */
  private last: number | undefined;
  /** Highest seq known to exist: frames seen, heads reported. */
  private known = 0;
  private readonly held = new Map<number, Frame>();
  private readonly lost: LostRange[] = [];
  /** A resume for this stream is out and not answered. */
  private waiting = false;
  /** The stage keeps no history (or has no resume route): frames go on as they come. */
  private disabled = false;
  private gapTimer?: ReturnType<typeof setTimeout>;
  private resumeTimer?: ReturnType<typeof setTimeout>;

  constructor(
    readonly name: StreamName,
    private readonly hooks: StreamOrderHooks,
    private readonly opts: StreamOrderOptions,
    /** The last seq seen before this client started (e.g. kept by the page). */
    since?: number,
  ) {
    this.last = since;
  }

  /** The last seq delivered in order, to resume from later. */
  get position(): number | undefined {
    return this.last;
  }

  /** What to ask for when a connection opens: after the last seq, or (null) just where the stream is. */
  opening(): number | null {
    this.expectAnswer();
    return this.last ?? null;
  }

  /** A frame with a seq, live or replayed. */
  frame(frame: Frame & { seq: number }): void {
    if (this.disabled) return this.hooks.deliver(frame);
    const seq = frame.seq;
    if ((this.last !== undefined && seq <= this.last) || this.held.has(seq)) return this.hooks.duplicate(frame);
    this.held.set(seq, frame);
    this.known = Math.max(this.known, seq);
    if (this.last === undefined) {
      // Until the server says where the stream is, frames wait (unless no answer is coming).
      if (!this.waiting) this.baseline(seq - 1);
      return;
    }
    this.drain();
    if (this.held.size > this.opts.maxBuffered) this.giveUpHole();
    this.schedule();
  }

  /** The server's answer to a resume of this stream. */
  resumed(r: ResumedFrame['resumed']): void {
    this.stopWaiting();
    if (!r.history) return this.disable();
    if (this.last !== undefined && r.head < this.last) {
      const since = this.last;
      for (const seq of [...this.held.keys()]) if (seq <= r.head) this.held.delete(seq);
      this.last = r.head;
      this.known = Math.max(r.head, ...this.held.keys());
      this.hooks.reset({ since, head: r.head });
    }
    // Frames that came before the first answer reached this connection live: they are its own.
    if (this.last === undefined) this.baseline(Math.min(r.head, ...[...this.held.keys()].map((s) => s - 1)));
    this.known = Math.max(this.known, r.head);
    this.lost.push(...r.lost);
    this.drain();
    if (r.more && !this.waiting) this.fetchHole();
    this.schedule();
  }

  /** No answer is coming: the server has no resume route. */
  unsupported(): void {
    if (!this.waiting) return;
    this.stopWaiting();
    this.disable();
  }

  /** The connection closed: hold on to what is held, stop the timers (the next open resumes). */
  closed(): void {
    this.stopWaiting();
    clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }

  private baseline(last: number): void {
    this.last = Math.max(0, last);
    this.drain();
    this.schedule();
  }

  private disable(): void {
    this.disabled = true;
    clearTimeout(this.gapTimer);
    const held = [...this.held.values()].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
    this.held.clear();
    for (const f of held) this.hooks.deliver(f);
  }

  /** Hand on every frame that is next in order, stepping over numbers known to be lost. */
  private drain(): void {
    if (this.last === undefined) return;
    let last = this.last;
    for (;;) {
      const next: number = last + 1;
      const frame = this.held.get(next);
      if (frame) {
        this.held.delete(next);
        this.last = last = next;
        this.hooks.deliver(frame);
        continue;
      }
      const i = this.lost.findIndex((l) => l.from <= next && next <= l.to);
      if (i < 0) break;
      const [range] = this.lost.splice(i, 1);
      this.last = last = range.to;
      for (const seq of [...this.held.keys()]) if (seq <= range.to) this.held.delete(seq);
      this.hooks.gap({ from: next, to: range.to });
    }
    // Lost ranges behind us are done with.
    for (let i = this.lost.length - 1; i >= 0; i--) if (this.lost[i].to <= last) this.lost.splice(i, 1);
  }

  /** Too much held behind a hole that does not fill: report it and go on. */
  private giveUpHole(): void {
    const first = Math.min(...this.held.keys());
    this.hooks.gap({ from: this.last! + 1, to: first - 1 });
    this.last = first - 1;
    this.drain();
  }

  /** A hole that stays gapWaitMs is fetched (one fetch at a time). */
  private schedule(): void {
    const missing = !this.disabled && this.last !== undefined && this.known > this.last;
    if (!missing) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
      return;
    }
    if (this.gapTimer || this.waiting) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      if (this.waiting || this.last === undefined || this.known <= this.last) return;
      this.fetchHole();
    }, this.opts.gapWaitMs);
  }

  /** Ask for what follows the last seq delivered: only up to the first one held, which need not come again. */
  private fetchHole(): void {
    this.expectAnswer();
    const held = [...this.held.keys()];
    this.hooks.fetch(this.last!, held.length ? Math.min(...held) - 1 : undefined);
  }

  private expectAnswer(): void {
    this.waiting = true;
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      // No answer (lost, or a stage without the route that did not say so): go on without it.
      this.waiting = false;
      if (this.last === undefined) {
        if (this.held.size) this.baseline(Math.min(...this.held.keys()) - 1);
      } else {
        this.schedule();
      }
    }, this.opts.resumeTimeoutMs);
  }

  private stopWaiting(): void {
    this.waiting = false;
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
  }
}
