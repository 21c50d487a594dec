/**
 * `hermes bench` as a function: open the listeners, run one round, close, report. The CLI verb
 * and the bench script both build on it (the script keeps listeners open across rounds).
 */
import { randomBytes } from 'node:crypto';
import { connectListeners, planRooms, type ConnectReport } from './listeners.js';
import { runRound, type RoundProgress, type RoundReport } from './round.js';
import type { BenchTarget } from './target.js';
import { usageBetween, type Usage } from '../local/usage.js';

export interface BenchOptions {
  rooms: number;
  listeners: number;
  messages: number;
  rate?: number;
  payload: number;
  connectConcurrency?: number;
  quietMs?: number;
  drainTimeoutMs?: number;
  signal?: AbortSignal;
  /** A line of progress, at most about once a second. */
  progress?: (line: string) => void;
  /** The stack's usage meter (a stack the bench started itself): the run's windows are metered. */
  meter?: { snapshot(): Usage };
}

/** What each phase of the run used: opening the listeners, the round, closing them. */
export interface RunUsage {
  connect: Usage;
  round: Usage;
  close: Usage;
}

export interface BenchReport {
  target: string;
  settings: { rooms: number; listeners: number; messages: number; rate: number | null; payloadBytes: number };
  connect: ConnectReport;
  round: RoundReport;
  /** Listener sockets the server closed during the run (must be 0). */
  dropped: number;
  notes: string[];
  usage?: RunUsage;
}

export function newRunId(): string {
  return randomBytes(4).toString('hex');
}

export function describeProgress(p: RoundProgress): string {
  const pct = p.expected ? Math.floor((100 * p.received) / p.expected) : 0;
  return p.phase === 'publish'
    ? `published ${p.published}/${p.messages} messages, ${p.received}/${p.expected} frames received`
    : `waiting for frames: ${p.received}/${p.expected} (${pct}%)`;
}

export async function runBench(target: BenchTarget, opts: BenchOptions): Promise<BenchReport> {
  const runId = newRunId();
  const plan = planRooms(`bench-${runId}`, opts.rooms, opts.listeners);
  const say = opts.progress ?? (() => {});
  const meter = opts.meter;
  const start = meter?.snapshot();
  say(`opening ${opts.listeners} listeners in ${opts.rooms} rooms on ${target.name}…`);
  const { group, report: connect } = await connectListeners(plan, (room) => target.listenerUrl(room), {
    concurrency: opts.connectConcurrency,
    signal: opts.signal,
    onProgress: (opened, failed, total) => say(`connected ${opened}/${total}${failed ? `, ${failed} failed` : ''}`),
  });
  const connected = meter?.snapshot();
  let rounded: Usage | undefined;
  let report: BenchReport | undefined;
  try {
    if (connect.opened === 0) {
      report = { target: target.name, settings: settingsOf(opts), connect, round: emptyRound(opts.messages), dropped: 0, notes: target.notes };
      return report;
    }
    say(`publishing ${opts.messages} messages${opts.rate ? ` at ${opts.rate}/s` : ' as fast as the queue takes them'}…`);
    const round = await runRound(group, target.publish, {
      runId,
      messages: opts.messages,
      rate: opts.rate,
      payload: opts.payload,
      quietMs: opts.quietMs,
      drainTimeoutMs: opts.drainTimeoutMs,
      signal: opts.signal,
      onProgress: (p) => say(describeProgress(p)),
    });
    // The event source deletes a batch after its invocation returns: let the last deletes land.
    if (meter) await sleep(SETTLE_MS);
    rounded = meter?.snapshot();
    report = { target: target.name, settings: settingsOf(opts), connect, round, dropped: group.dropped(), notes: target.notes };
    return report;
  } finally {
    say('closing listeners…');
    await group.close();
    if (meter && start && connected && report) {
      const before = rounded ?? connected;
      // $disconnect runs after the socket closed: wait (bounded) until it ran for every listener.
      const until = Date.now() + 5000;
      while (Date.now() < until && (usageBetween(before, meter.snapshot()).lambda.disconnect?.invocations ?? 0) < connect.opened) await sleep(50);
      report.usage = { connect: usageBetween(start, connected), round: usageBetween(connected, before), close: usageBetween(before, meter.snapshot()) };
    }
  }
}

const SETTLE_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function settingsOf(o: BenchOptions): BenchReport['settings'] {
  return { rooms: o.rooms, listeners: o.listeners, messages: o.messages, rate: o.rate ?? null, payloadBytes: o.payload };
}

function emptyRound(messages: number): RoundReport {
  return {
    messages,
    published: 0,
    publishFailed: 0,
    publishRate: 0,
    frames: { expected: 0, received: 0, lost: 0, listenersMissing: 0, missingDetails: [], duplicated: 0, misrouted: 0, foreign: 0, perSecond: 0 },
    latencyMs: { samples: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 },
    seconds: 0,
    drained: 'complete',
  };
}
