/**
 * The history scenario of the fan-out benchmark, in one run:
 * (a) what keeping history costs: hermes end to end on the throughput scenario's listeners,
 *     with history off (retention 0: no seq, no table writes) and on (the default), stacks
 *     alternating so the machine's drift hits both, the median of each;
 * (b) the fault: 50 listeners on the client library (resume, in-order delivery), 1,000
 *     messages published at a steady rate while the gateway is restarted twice mid-stream.
 *     Every listener must end with every message exactly once at the application, in seq
 *     order; the figures say how many came by replay and how many copies the client dropped.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { connect, type Frame, type HermesClient } from '../../client/hermes-client.js';
import { fmt, table } from '../../src/bench/format.js';
import { round } from '../../src/bench/stats.js';
import type { BenchSession, Measured } from './session.js';
import { formatProfiles } from './report.js';

const sizes = (quick: boolean) => ({
  cost: quick ? { rooms: 4, listeners: 200, messages: 100 } : { rooms: 10, listeners: 1000, messages: 200 },
  fault: quick ? { listeners: 50, messages: 300, rate: 100, restarts: 2, downMs: 1000 } : { listeners: 50, messages: 1000, rate: 100, restarts: 2, downMs: 1000 },
});

const median = (ms: Measured[]) => [...ms].sort((a, b) => a.report.frames.perSecond - b.report.frames.perSecond)[Math.floor(ms.length / 2)];

/** (a) Throughput with history off and on, alternating stacks; `repeat` rounds of each. */
async function cost(b: BenchSession) {
  const s = sizes(b.opts.quick).cost;
  const runs: Record<'off' | 'on', Measured[]> = { off: [], on: [] };
  for (let rep = 0; rep < b.opts.repeat; rep++) {
    for (const variant of ['off', 'on'] as const) {
      const { target } = await b.startStack(variant === 'off' ? { historyRetentionSeconds: 0 } : {});
      const { group } = await b.connect(`history ${variant}`, s.rooms, s.listeners, (r) => target.listenerUrl(r));
      await b.measure('warm-up', group, target.publish, { messages: s.rooms * 2, quietMs: 3000 });
      runs[variant].push(await b.measure(`hermes end to end, history ${variant}`, group, target.publish, { messages: s.messages }, b.opts.profile && rep === 0));
      await group.close();
      await b.stopStack();
    }
  }
  const picked = { off: median(runs.off), on: median(runs.on) };
  const ratio = round(picked.on.report.frames.perSecond / picked.off.report.frames.perSecond, 2);
  return { settings: s, runs, median: picked, ratio };
}

interface Listener {
  client: HermesClient;
  /** Application deliveries per message index. */
  got: Uint16Array;
  lastSeq: number;
  outOfOrder: number;
  replayed: number;
  droppedCopies: number;
  gaps: number;
  reconnects: number;
  /** Disconnected since the last restart, not open again yet. */
  down: boolean;
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** (b) 50 client-library listeners, 1,000 messages, two gateway restarts while publishing. */
async function fault(b: BenchSession) {
  const s = sizes(b.opts.quick).fault;
  // A short visibility timeout, so records that failed while the gateway was down are retried
  // (and their copies dropped by the clients) within the run.
  const { target } = await b.startStack({ visibilityTimeoutSeconds: 5 });
  const room = `fault-${randomBytes(3).toString('hex')}`;
  const run = randomBytes(4).toString('hex');
  b.log(`fault: opening ${s.listeners} client-library listeners in room ${room}…`);
  const listeners: Listener[] = [];
  for (let i = 0; i < s.listeners; i++) {
    const url = new URL(await target.listenerUrl(room));
    const token = url.searchParams.get('token')!;
    url.searchParams.delete('token');
    const client = connect({ url: url.toString(), token, WebSocket });
    const l: Listener = { client, got: new Uint16Array(s.messages), lastSeq: 0, outOfOrder: 0, replayed: 0, droppedCopies: 0, gaps: 0, reconnects: 0, down: false };
    client.on('frame', (f: Frame) => {
      const d = f.data as { run?: string; i?: number } | null;
      if (d?.run !== run || typeof d.i !== 'number') return;
      l.got[d.i]++;
      if (f.replay) l.replayed++;
      if ((f.seq ?? 0) <= l.lastSeq) l.outOfOrder++;
      l.lastSeq = f.seq ?? l.lastSeq;
    });
    client.on('duplicate', () => l.droppedCopies++);
    client.on('gap', () => l.gaps++);
    client.on('open', ({ reconnect }) => reconnect && l.reconnects++);
    client.on('close', () => (l.down = true));
    client.on('open', () => (l.down = false));
    listeners.push(l);
  }
  await Promise.all(listeners.map((l) => l.client.opened()));
  // Settled: every listener has its row and knows where the room's stream is.
  await new Promise((r) => setTimeout(r, 1000));

  const started = Date.now();
  const restartsAt = Array.from({ length: s.restarts }, (_, k) => Math.floor(((k + 1) * s.messages) / (s.restarts + 1)));
  const restarts: Array<{ afterMessage: number; ms: number }> = [];
  let restarting: Promise<unknown> = Promise.resolve();
  b.log(`  publishing ${fmt(s.messages)} messages at ${s.rate}/s; restarting the gateway after messages ${restartsAt.join(' and ')} (down ${s.downMs} ms each)…`);
  for (let i = 0; i < s.messages; i += 10) {
    const due = started + (i * 1000) / s.rate;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const batch = Array.from({ length: Math.min(10, s.messages - i) }, (_, k) => ({ room_id: room, user_id: 'bench', data: { run, i: i + k } }));
    const res = await target.publish(batch);
    if (res.failed.length) throw new Error(`${res.failed.length} messages were not accepted by the queue`);
    if (restartsAt.some((at) => at >= i && at < i + 10)) {
      const t0 = Date.now();
      // In the background: publishing goes on while the gateway is down. A second restart waits
      // until every listener is back from the first, so each is a separate outage for each.
      const after = i + batch.length;
      restarting = restarting
        .then(() => waitUntil(() => listeners.every((l) => !l.down), 60_000))
        .then(() => b.child.call('restartGateway', { downMs: s.downMs }))
        .then(() => restarts.push({ afterMessage: after, ms: Date.now() - t0 }));
    }
  }
  const published = Date.now();
  await restarting;
  const complete = () => listeners.every((l) => l.got.every((n) => n >= 1));
  let said = Date.now();
  const deadline = Date.now() + 120_000;
  while (!complete() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    if (Date.now() - said > 5000) {
      said = Date.now();
      const got = listeners.reduce((n, l) => n + l.got.filter((c) => c > 0).length, 0);
      b.log(`    ${fmt(got)}/${fmt(s.listeners * s.messages)} delivered, ${listeners.filter((l) => l.down).length} listeners reconnecting`);
    }
  }
  const completeMs = Date.now() - started;
  // Then until the queue is empty: retried records post copies, which must not reach the application.
  const drainDeadline = Date.now() + 60_000;
  for (;;) {
    const q = await b.child.call<{ visible: number; inFlight: number }>('queueCounts');
    if ((q.visible === 0 && q.inFlight === 0) || Date.now() > drainDeadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, 1000));
  for (const l of listeners) l.client.close();
  await b.stopStack();

  const sum = (f: (l: Listener) => number) => listeners.reduce((n, l) => n + f(l), 0);
  const lost = sum((l) => l.got.filter((n) => n === 0).length);
  const duplicated = sum((l) => l.got.reduce((n, c) => n + Math.max(0, c - 1), 0));
  return {
    settings: s,
    expected: s.listeners * s.messages,
    delivered: sum((l) => l.got.filter((n) => n > 0).length),
    lost,
    duplicated,
    outOfOrder: sum((l) => l.outOfOrder),
    replayed: sum((l) => l.replayed),
    droppedCopies: sum((l) => l.droppedCopies),
    gaps: sum((l) => l.gaps),
    reconnects: sum((l) => l.reconnects),
    restarts,
    publishSeconds: round((published - started) / 1000, 1),
    completeSeconds: round(completeMs / 1000, 1),
  };
}

export async function history(b: BenchSession) {
  const c = await cost(b);
  const f = await fault(b);
  const cs = c.settings;
  const fs = f.settings;
  const ok = f.lost === 0 && f.duplicated === 0 && f.outOfOrder === 0;
  const text = [
    `(6) history: what keeping it costs, and a fault run`,
    `throughput, ${fmt(cs.rooms)} rooms of ${fmt(cs.listeners / cs.rooms)} listeners, ${fmt(cs.messages)} messages, median of ${b.opts.repeat}, stacks alternating:`,
    table([
      ['', 'history off', 'history on'],
      ['frames/s', fmt(c.median.off.report.frames.perSecond), fmt(c.median.on.report.frames.perSecond)],
      ['latency p50 / p99 (ms)', `${c.median.off.report.latencyMs.p50} / ${c.median.off.report.latencyMs.p99}`, `${c.median.on.report.latencyMs.p50} / ${c.median.on.report.latencyMs.p99}`],
      ['frames lost / duplicated', `${c.median.off.report.frames.lost} / ${c.median.off.report.frames.duplicated}`, `${c.median.on.report.frames.lost} / ${c.median.on.report.frames.duplicated}`],
      ['server CPU per frame (µs)', c.median.off.serverCpuUsPerFrame, c.median.on.serverCpuUsPerFrame],
      ['all runs, frames/s', c.runs.off.map((m) => fmt(m.report.frames.perSecond)).join(', '), c.runs.on.map((m) => fmt(m.report.frames.perSecond)).join(', ')],
    ]),
    `history on / off: ${c.ratio}x the throughput (target >= 0.8x)`,
    ...formatProfiles([...c.runs.off, ...c.runs.on]),
    '',
    `fault: ${fs.listeners} listeners (client library) in one room, ${fmt(fs.messages)} messages at ${fs.rate}/s, gateway restarted ${f.restarts.length} times mid-stream (down ${fs.downMs} ms each):`,
    table([
      ['messages x listeners', fmt(f.expected)],
      ['delivered to the application', fmt(f.delivered)],
      ['lost', fmt(f.lost)],
      ['duplicated at the application', fmt(f.duplicated)],
      ['out of seq order', fmt(f.outOfOrder)],
      ['delivered by replay (resume)', fmt(f.replayed)],
      ['copies the client dropped', fmt(f.droppedCopies)],
      ['gap events', fmt(f.gaps)],
      ['reconnects', fmt(f.reconnects)],
      ['published in / all delivered after (s)', `${f.publishSeconds} / ${f.completeSeconds}`],
    ]),
    ok ? `fault: 0 lost, 0 duplicated, 0 out of order` : `fault: FAILED: ${f.lost} lost, ${f.duplicated} duplicated, ${f.outOfOrder} out of order`,
    '',
  ].join('\n');
  return { result: { cost: c, fault: f }, text };
}
