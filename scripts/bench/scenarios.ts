/**
 * The scenarios of the fan-out benchmark, one function each. Each starts what it measures,
 * stops it again, and returns its figures (for --json) and its printed report.
 */
import { DEFAULT_FANOUT_CONCURRENCY } from '../../src/core/handler-env.js';
import { fmt } from '../../src/bench/format.js';
import { measureRcu } from './rcu.js';
import type { BenchSession, Measured } from './session.js';
import { connectPath } from './connect-path.js';
import { storm } from './storm.js';
import { cost } from './month.js';

/** The event source's counters (src/local/poller.ts); `errors` counts failed invocations (timeouts). */
interface PollerStats {
  records: number;
  errors: number;
}
import { formatRcu, formatShards, formatSingle, formatThroughput, formatTune, type ShardRow, type TuneRow } from './report.js';
import { history } from './history.js';

export interface ScenarioResult {
  result: unknown;
  text: string;
}

const sizes = (quick: boolean) => ({
  throughput: quick ? { rooms: 4, listeners: 200, messages: 50 } : { rooms: 10, listeners: 1000, messages: 200 },
  latency: quick ? { rooms: 1, listeners: 200, messages: 20, rate: 5 } : { rooms: 1, listeners: 1000, messages: 60, rate: 5 },
  sustained: quick ? { rooms: 20, listeners: 200, rate: 50, seconds: 5 } : { rooms: 100, listeners: 1000, rate: 200, seconds: 30 },
  // The last setting: no shards and a send-message timeout this short, so that the deadline
  // hand-over (core/deliver.ts) has to carry the room.
  shards: quick
    ? { listeners: 1000, messages: 5, paced: 3, settings: [{ shardSize: 0 }, { shardSize: 400 }, { shardSize: 0, timeoutSeconds: 1 }] }
    : { listeners: 5000, messages: 10, paced: 5, settings: [{ shardSize: 0 }, { shardSize: 2000 }, { shardSize: 1000 }, { shardSize: 0, timeoutSeconds: 5 }] },
  rcu: quick ? { rooms: 20, perRoom: 50 } : { rooms: 100, perRoom: 100 },
});

/** (4) Read capacity per message, room index Query against Scan, on a scratch table. */
async function rcu(b: BenchSession): Promise<ScenarioResult> {
  const s = sizes(b.opts.quick).rcu;
  const { ddb } = await b.startStack();
  b.log(`seeding ${s.rooms} rooms x ${s.perRoom} connections…`);
  const r = await measureRcu(ddb, { rooms: s.rooms, perRoom: s.perRoom });
  await b.stopStack();
  return { result: r, text: formatRcu(r) };
}

/** The median run by delivered frames per second. */
const median = (ms: Measured[]) => [...ms].sort((a, b) => a.report.frames.perSecond - b.report.frames.perSecond)[Math.floor(ms.length / 2)];

/**
 * (1) Throughput, on the same listeners: hermes end to end, the bare PostToConnection loop with
 * hermes's management client and with a stock SDK client; then a bare ws broadcast to as many
 * sockets of its own.
 */
async function throughput(b: BenchSession): Promise<ScenarioResult> {
  const s = sizes(b.opts.quick).throughput;
  const { repeat, profile } = b.opts;
  const { target } = await b.startStack();
  const { group, report: connectReport } = await b.connect('throughput', s.rooms, s.listeners, (r) => target.listenerUrl(r));
  await b.measure('warm-up', group, target.publish, { messages: s.rooms * 2, quietMs: 3000 });
  const runs: Record<'hermes' | 'loopHermes' | 'loopSdk' | 'ws', Measured[]> = { hermes: [], loopHermes: [], loopSdk: [], ws: [] };
  // The loop gets the sockets a send-message client has (2 x fan-out concurrency), and
  // the number of calls in flight that serves it best, measured here: the floor.
  const maxSockets = 2 * (b.opts.stack.fanoutConcurrency ?? DEFAULT_FANOUT_CONCURRENCY);
  const sweep: Array<{ concurrency: number; framesPerSecond: number }> = [];
  for (const concurrency of [maxSockets / 2, maxSockets, maxSockets * 2.5, maxSockets * 5, maxSockets * 10]) {
    await b.child.call('postStart', { client: 'hermes', concurrency, maxSockets });
    const m = await b.measure(`PostToConnection loop (hermes client), ${concurrency} in flight`, group, b.postTo('post'), { messages: Math.ceil(s.messages / 2) });
    sweep.push({ concurrency, framesPerSecond: m.report.frames.perSecond });
  }
  const bareConcurrency = [...sweep].sort((x, y) => y.framesPerSecond - x.framesPerSecond)[0].concurrency;
  b.log(`  loop concurrency sweep: ${sweep.map((x) => `${x.concurrency}: ${fmt(x.framesPerSecond)}/s`).join(', ')}; using ${bareConcurrency}`);
  for (let rep = 0; rep < repeat; rep++) {
    const profileThis = profile && rep === 0;
    runs.hermes.push(await b.measure('hermes end to end', group, target.publish, { messages: s.messages }, profileThis));
    await b.child.call('postStart', { client: 'hermes', concurrency: bareConcurrency, maxSockets });
    runs.loopHermes.push(await b.measure('PostToConnection loop (hermes client)', group, b.postTo('post'), { messages: s.messages }, profileThis));
    await b.child.call('postStart', { client: 'sdk', concurrency: bareConcurrency, maxSockets });
    runs.loopSdk.push(await b.measure('PostToConnection loop (stock SDK v3 client)', group, b.postTo('post'), { messages: s.messages }, profileThis));
  }
  await group.close();
  await b.stopStack();

  const wsUrl = await b.child.call<string>('wsStart');
  const bare = await b.connect('bare ws server', s.rooms, s.listeners, async (room) => `${wsUrl}?room=${encodeURIComponent(room)}`);
  for (let rep = 0; rep < repeat; rep++) {
    runs.ws.push(await b.measure('bare ws broadcast', bare.group, b.postTo('wsBroadcast'), { messages: s.messages }, profile && rep === 0));
  }
  await bare.group.close();
  await b.child.call('wsStop');

  const picked = { hermes: median(runs.hermes), loopHermes: median(runs.loopHermes), loopSdk: median(runs.loopSdk), ws: median(runs.ws) };
  const loop = { concurrency: bareConcurrency, maxSockets, sweep };
  return {
    result: { settings: { ...s, payloadBytes: 64, repeat, bareLoopConcurrency: bareConcurrency, maxSockets, sweep }, connect: connectReport, runs, median: picked },
    text: formatThroughput(s, repeat, loop, picked, runs),
  };
}

/** (2) Publish-to-receive latency for one room, at a steady low rate. */
async function latency(b: BenchSession): Promise<ScenarioResult> {
  const s = sizes(b.opts.quick).latency;
  const { target } = await b.startStack();
  const { group, report: connectReport } = await b.connect('latency', s.rooms, s.listeners, (r) => target.listenerUrl(r));
  await b.measure('warm-up', group, target.publish, { messages: 2, quietMs: 3000 });
  const m = await b.measure('hermes end to end', group, target.publish, { messages: s.messages, rate: s.rate }, b.opts.profile);
  await group.close();
  await b.stopStack();
  return {
    result: { settings: s, connect: connectReport, result: m },
    text: formatSingle(`(2) latency: one room of ${fmt(s.listeners)} listeners, ${s.messages} messages at ${s.rate}/s`, m, connectReport.perSecond),
  };
}

/** (3) A sustained publish rate over many rooms, with no frame lost. */
async function sustained(b: BenchSession): Promise<ScenarioResult> {
  const s = sizes(b.opts.quick).sustained;
  const { target } = await b.startStack();
  const { group, report: connectReport } = await b.connect('sustained', s.rooms, s.listeners, (r) => target.listenerUrl(r));
  await b.measure('warm-up', group, target.publish, { messages: s.rooms, quietMs: 3000 });
  const m = await b.measure('hermes end to end', group, target.publish, { messages: s.rate * s.seconds, rate: s.rate }, b.opts.profile);
  await group.close();
  await b.stopStack();
  const title = `(3) sustained: ${fmt(s.rooms)} rooms of ${fmt(s.listeners / s.rooms)} listeners, ${s.rate} messages/s for ${s.seconds} s`;
  return { result: { settings: s, connect: connectReport, result: m }, text: formatSingle(title, m, connectReport.perSecond) };
}

/** (5) One large room, by shard size: as fast as possible, then one message at a time. */
async function shards(b: BenchSession): Promise<ScenarioResult> {
  const s = sizes(b.opts.quick).shards;
  const rows: ShardRow[] = [];
  for (const { shardSize, timeoutSeconds } of s.settings) {
    const label = `${shardSize || 'off'}${timeoutSeconds ? `, send-message timeout ${timeoutSeconds} s` : ''}`;
    const { target } = await b.startStack({ shardSize, ...(timeoutSeconds ? { timeoutSeconds: { 'send-message': timeoutSeconds } } : {}) });
    const { group } = await b.connect(`shards (shard size ${label})`, 1, s.listeners, (r) => target.listenerUrl(r));
    await b.measure('warm-up', group, target.publish, { messages: 1, quietMs: 5000 });
    const before = await b.child.call<PollerStats>('pollerStats');
    const m = await b.measure(`hermes end to end, shard size ${label}`, group, target.publish, { messages: s.messages });
    const after = await b.child.call<PollerStats>('pollerStats');
    // One message at a time: how long one message of the large room takes to reach everyone.
    const paced = await b.measure(`one at a time, shard size ${label}`, group, target.publish, { messages: s.paced, rate: 1 });
    const end = await b.child.call<PollerStats>('pollerStats');
    rows.push({ shardSize, timeoutSeconds, m, paced, records: after.records - before.records, failedInvocations: end.errors - before.errors });
    await group.close(10_000);
    await b.stopStack();
  }
  return { result: { settings: s, rows }, text: formatShards(s.listeners, s.messages, s.paced, rows) };
}

/** (tune) hermes end to end over a grid of pollers x fan-out concurrency. */
async function tune(b: BenchSession): Promise<ScenarioResult> {
  const s = sizes(b.opts.quick).throughput;
  const rows: TuneRow[] = [];
  for (const pollers of [1, 2, 4, 8]) {
    for (const fanoutConcurrency of [16, 32, 64, 128]) {
      const { target } = await b.startStack({ fanoutConcurrency, pollers });
      const { group } = await b.connect(`tune pollers=${pollers} concurrency=${fanoutConcurrency}`, s.rooms, s.listeners, (r) => target.listenerUrl(r));
      await b.measure('warm-up', group, target.publish, { messages: s.rooms * 2, quietMs: 3000 });
      const m = await b.measure('hermes end to end', group, target.publish, { messages: s.messages });
      rows.push({ fanoutConcurrency, pollers, m });
      await group.close();
      await b.stopStack();
    }
  }
  return {
    result: rows.map((r) => ({ pollers: r.pollers, fanoutConcurrency: r.fanoutConcurrency, framesPerSecond: r.m.report.frames.perSecond, p99: r.m.report.latencyMs.p99 })),
    text: formatTune(s, rows),
  };
}

/** In the order a full run takes them; `tune` runs only when asked for. */
export const SCENARIO_RUNS = { rcu, throughput, latency, sustained, shards, history, connect: connectPath, storm, cost, tune } satisfies Record<string, (b: BenchSession) => Promise<ScenarioResult>>;
export type Scenario = keyof typeof SCENARIO_RUNS;
export const SCENARIOS = Object.keys(SCENARIO_RUNS) as Scenario[];
