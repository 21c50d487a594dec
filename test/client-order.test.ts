/**
 * The client's per-stream order and resume (client/stream-order.ts through
 * client/hermes-client.ts) against an in-memory socket: frames in seq order once each, early
 * ones held, a hole fetched after gapWaitMs, a resume on every open from the last seq seen,
 * lost ranges reported as gap events, stages without history.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { connect, type ConnectOptions, type Frame, type HermesClient, type ResumedFrame, type WebSocketLike } from '../client/hermes-client.js';
import { eventually } from './helpers/ws.js';

class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((e: any) => void) | null = null;
  onmessage: ((e: any) => void) | null = null;
  onclose: ((e: any) => void) | null = null;
  onerror: ((e: any) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }
}

const clients: HermesClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  FakeSocket.all = [];
});

const roomFrame = (seq: number, extra: Partial<Frame> = {}): Frame => ({ id: `r${seq}`, room_id: 'r', user_id: 'u', data: seq, sent_at: '', seq, ...extra });
const userFrame = (seq: number): Frame => ({ id: `u${seq}`, room_id: null, to_user_id: 'bob', user_id: 'svc', data: `to-bob-${seq}`, sent_at: '', seq });
const resumed = (r: Partial<ResumedFrame['resumed']> & { stream: 'room' | 'user' }): ResumedFrame => ({
  resumed: { history: true, since: null, head: 0, through: 0, more: false, lost: [], ...r },
});

async function start(extra: Partial<ConnectOptions> = {}) {
  const client = connect({ url: 'ws://h/s', token: 't', WebSocket: FakeSocket, backoff: { initialMs: 5, maxMs: 10 }, gapWaitMs: 30, ...extra });
  clients.push(client);
  const frames: Frame[] = [];
  const duplicates: Frame[] = [];
  const gaps: unknown[] = [];
  const errors: string[] = [];
  client.on('frame', (f) => frames.push(f));
  client.on('duplicate', (f) => duplicates.push(f));
  client.on('gap', (g) => gaps.push(g));
  client.on('error', (e) => errors.push(e.error));
  await eventually(() => FakeSocket.all.length === 1);
  const ws = FakeSocket.all[0];
  ws.open();
  return { client, ws, frames, duplicates, gaps, errors, seqs: () => frames.map((f) => `${f.to_user_id ? 'u' : 'r'}${f.seq}`) };
}

describe('client: in-order, once-only delivery per stream', () => {
  it('asks where both streams are on open, holds frames until told, then delivers in seq order', async () => {
    const t = await start();
    expect(t.ws.sent).toEqual([{ action: 'resume', since: { room: null, user: null } }]);
    t.ws.receive(roomFrame(6));
    t.ws.receive(roomFrame(5));
    expect(t.frames).toEqual([]); // not before the stream's position is known
    t.ws.receive(resumed({ stream: 'room', head: 5, through: 5 }));
    t.ws.receive(resumed({ stream: 'user', head: 0 }));
    t.ws.receive(roomFrame(8));
    t.ws.receive(roomFrame(7));
    t.ws.receive(roomFrame(7));
    t.ws.receive(userFrame(1));
    expect(t.seqs()).toEqual(['r5', 'r6', 'r7', 'r8', 'u1']);
    expect(t.duplicates.map((f) => f.seq)).toEqual([7]);
    expect(t.client.positions()).toEqual({ room: 8, user: 1 });
  });

  it('fetches a hole that does not fill within gapWaitMs, and merges the replay with live frames', async () => {
    const t = await start();
    t.ws.receive(resumed({ stream: 'room', head: 0 }));
    t.ws.receive(roomFrame(1));
    t.ws.receive(roomFrame(3));
    t.ws.receive(roomFrame(4));
    expect(t.seqs()).toEqual(['r1']);
    await eventually(() => t.ws.sent.length === 2, 5000, 'the gap fetch');
    // Only the hole: 3 and 4 are held already.
    expect(t.ws.sent[1]).toEqual({ action: 'resume', since: { room: 1 }, until: { room: 2 } });
    t.ws.receive(roomFrame(2, { replay: true }));
    t.ws.receive(resumed({ stream: 'room', since: 1, head: 4, through: 2 }));
    t.ws.receive(roomFrame(4));
    expect(t.seqs()).toEqual(['r1', 'r2', 'r3', 'r4']);
    expect(t.frames[1].replay).toBe(true);
    expect(t.duplicates.map((f) => f.seq)).toEqual([4]);
  });

  it('resumes from the last seq seen on every reconnect', async () => {
    const t = await start();
    t.ws.receive(resumed({ stream: 'room', head: 10 }));
    t.ws.receive(resumed({ stream: 'user', head: 2 }));
    t.ws.receive(roomFrame(11));
    t.ws.drop();
    await eventually(() => FakeSocket.all.length === 2, 5000, 'the reconnect');
    const again = FakeSocket.all[1];
    again.open();
    expect(again.sent).toEqual([{ action: 'resume', since: { room: 11, user: 2 } }]);
    again.receive(roomFrame(12, { replay: true }));
    again.receive(roomFrame(13, { replay: true }));
    again.receive(resumed({ stream: 'room', since: 11, head: 13, through: 13 }));
    expect(t.seqs()).toEqual(['r11', 'r12', 'r13']);
  });

  it('reports what the server lost as a gap event and goes on after it', async () => {
    const t = await start({ since: { room: 3 } });
    expect(t.ws.sent).toEqual([{ action: 'resume', since: { room: 3, user: null } }]);
    t.ws.receive(roomFrame(10, { replay: true }));
    t.ws.receive(resumed({ stream: 'room', since: 3, head: 10, through: 10, lost: [{ from: 4, to: 9 }] }));
    expect(t.gaps).toEqual([{ stream: 'room', from: 4, to: 9 }]);
    expect(t.seqs()).toEqual(['r10']);
  });

  it('asks again at once when the answer says there is more', async () => {
    const t = await start({ since: { room: 0 } });
    t.ws.receive(roomFrame(1, { replay: true }));
    t.ws.receive(roomFrame(2, { replay: true }));
    t.ws.receive(resumed({ stream: 'room', since: 0, head: 5, through: 2, more: true }));
    expect(t.ws.sent[1]).toEqual({ action: 'resume', since: { room: 2 } });
    // A hole up to frames already held is asked for up to them only.
    t.ws.receive(roomFrame(5));
    t.ws.receive(roomFrame(3, { replay: true }));
    t.ws.receive(resumed({ stream: 'room', since: 2, head: 5, through: 3, more: true }));
    expect(t.ws.sent[2]).toEqual({ action: 'resume', since: { room: 3 }, until: { room: 4 } });
  });

  it('starts again from the server’s head when its history was reset, and says so', async () => {
    const t = await start({ since: { room: 50 } });
    t.ws.receive(resumed({ stream: 'room', since: 50, head: 2, through: 50 }));
    t.ws.receive(roomFrame(3));
    expect(t.errors).toEqual(['history_reset']);
    expect(t.seqs()).toEqual(['r3']);
  });

  it('delivers at once on a stage without history, or without the resume route', async () => {
    const off = await start();
    off.ws.receive(resumed({ stream: 'room', history: false }));
    off.ws.receive({ id: 'a', room_id: 'r', user_id: null, data: 1, sent_at: '' });
    off.ws.receive({ id: 'a', room_id: 'r', user_id: null, data: 1, sent_at: '' });
    expect(off.frames.map((f) => f.id)).toEqual(['a']);
    expect(off.duplicates.map((f) => f.id)).toEqual(['a']);
    off.client.close();
    FakeSocket.all = [];

    const old = await start();
    old.ws.receive(roomFrame(4));
    old.ws.receive({ error: 'unknown_action', message: 'Unknown action "resume".' });
    old.ws.receive(roomFrame(6));
    expect(old.seqs()).toEqual(['r4', 'r6']);
    expect(old.errors).toEqual(['unknown_action']);
  });

  it('with resume: false, sends nothing and delivers as frames come', async () => {
    const t = await start({ resume: false });
    t.ws.receive(roomFrame(2));
    t.ws.receive(roomFrame(1));
    expect(t.ws.sent).toEqual([]);
    expect(t.seqs()).toEqual(['r2', 'r1']);
  });
});
