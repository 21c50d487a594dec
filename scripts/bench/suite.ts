/**
 * The fan-out benchmark suite behind scripts/bench-fanout.mjs. In one run on one machine:
 * 1. throughput, side by side on the same listeners: hermes end to end (queue → send-message
 *    → room index → @connections → socket); a bare loop of PostToConnection calls against the
 *    same gateway (with hermes's management client, and with a stock SDK v3 client); a bare
 *    `ws` server broadcasting the same frames to as many sockets (the machine's floor);
 * 2. latency for one room of 1,000 listeners; 3. a sustained publish rate with no frame lost;
 * 4. read capacity per message, room index against Scan; 5. the effect of shards on one large
 *    room; and, on request, a concurrency sweep and CPU profiles of the server process.
 * The system under test runs in a child process (scripts/bench/server.ts); listeners and the
 * publisher run here.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createDocumentClient, createSqsClient } from '../../src/core/clients.js';
import { DEFAULT_FANOUT_CONCURRENCY, DEFAULT_SHARD_SIZE } from '../../src/core/handler-env.js';
import { ServerChild } from './child.js';
import { connectListeners, planRooms, type ListenerGroup } from '../../src/bench/listeners.js';
import { runRound, type PublishFn, type RoundReport } from '../../src/bench/round.js';
import { hermesTarget, type BenchTarget } from '../../src/bench/target.js';
import { measureRcu, type RcuReport } from './rcu.js';
import type { ProfileSummary } from './profile.js';
import { fmt, table } from '../../src/bench/format.js';
import { round } from '../../src/bench/stats.js';

export const SCENARIOS = ['rcu', 'throughput', 'latency', 'sustained', 'shards', 'tune'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface SuiteOptions {
  serverFile: string;
  /** Unminified Lambda bundles, so that profiles can name modules. */
  profileBundleDir?: string;
  profile: boolean;
  scenarios: Scenario[];
  repeat: number;
  quick: boolean;
  /** Stack settings for every scenario (defaults: the stack's own). */
  stack: { fanoutConcurrency?: number; pollers?: number };
  log: (line: string) => void;
  out: (text: string) => void;
}

interface StackInfo {
  endpoints: { websocket: string; management: string; dynamodb: string; sqs: string };
  queueUrl: string;
  tokensTable: string;
  connectionsTable: string;
  jwtSecret: string;
  region: string;
}

export interface Measured {
  variant: string;
  report: RoundReport;
  /** CPU time of the server process per delivered frame, µs. */
  serverCpuUsPerFrame: number;
  profile?: ProfileSummary;
}

const sizes = (quick: boolean) => ({
  throughput: quick ? { rooms: 4, listeners: 200, messages: 50 } : { rooms: 10, listeners: 1000, messages: 200 },
  latency: quick ? { rooms: 1, listeners: 200, messages: 20, rate: 5 } : { rooms: 1, listeners: 1000, messages: 60, rate: 5 },
  sustained: quick ? { rooms: 20, listeners: 200, rate: 50, seconds: 5 } : { rooms: 100, listeners: 1000, rate: 200, seconds: 30 },
  shards: quick
    ? { listeners: 1000, messages: 5, paced: 3, shardSizes: [0, 400] }
    : { listeners: 5000, messages: 10, paced: 5, shardSizes: [0, 2000, 1000] },
  rcu: quick ? { rooms: 20, perRoom: 50 } : { rooms: 100, perRoom: 100 },
});

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  };
}

export async function runSuite(opts: SuiteOptions): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = { machine: machine(), startedAt: new Date().toISOString() };
  const log = opts.log;
  const size = sizes(opts.quick);
  const child = await ServerChild.start(opts.serverFile);
  let stackRunning = false;
  /** Rows dynalite's room index lost, per listener group opened on the stack. */
  const indexLosses: number[] = [];
  let clients: { ddb: DynamoDBDocumentClient; sqs: SQSClient } | undefined;
  const stopClients = () => {
    clients?.ddb.destroy();
    clients?.sqs.destroy();
    clients = undefined;
  };

  const startStack = async (extra: Record<string, unknown> = {}) => {
    stopClients();
    const options = { ...opts.stack, ...extra, ...(opts.profile && opts.profileBundleDir ? { bundleDir: opts.profileBundleDir } : {}) };
    const info = await child.call<StackInfo>('startStack', { options });
    stackRunning = true;
    clients = {
      ddb: await createDocumentClient({ region: info.region, endpoint: info.endpoints.dynamodb }),
      sqs: await createSqsClient({ region: info.region, endpoint: info.endpoints.sqs }),
    };
    const target = hermesTarget('hermes local stack', {
      websocketUrl: info.endpoints.websocket,
      ddb: clients.ddb,
      sqs: clients.sqs,
      queueUrl: info.queueUrl,
      tokensTable: info.tokensTable,
      jwtSecret: info.jwtSecret,
    });
    return { info, target };
  };
  const stopStack = async () => {
    stackRunning = false;
    stopClients();
    await child.call('stopStack');
  };

  const connect = async (label: string, rooms: number, listeners: number, urlFor: (room: string) => Promise<string>) => {
    const plan = planRooms(`b${randomBytes(3).toString('hex')}`, rooms, listeners);
    log(`${label}: opening ${fmt(listeners)} listeners in ${fmt(rooms)} rooms…`);
    const { group, report } = await connectListeners(plan, urlFor, {
      concurrency: 50,
      onProgress: (o, f, t) => log(`  connected ${o}/${t}${f ? ` (${f} failed)` : ''}`),
    });
    if (report.failed) throw new Error(`${report.failed} listeners could not connect: ${report.errors.join('; ')}`);
    log(`  ${fmt(report.opened)} listeners at ${fmt(report.perSecond)} connects/s`);
    if (stackRunning) {
      // Every open socket must have its row, or fan-out cannot reach it.
      const c = await child.call<{ gateway: number; rows: number; openWithoutRow: string[]; rowsMissingFromRoomIndex: string[] }>('connectionCounts');
      if (c.openWithoutRow.length || c.gateway !== report.opened) log(`  WARNING: gateway holds ${c.gateway} sockets, table has ${c.rows} rows; open without a row: ${c.openWithoutRow.join(', ')}`);
      if (c.rowsMissingFromRoomIndex.length) {
        indexLosses.push(c.rowsMissingFromRoomIndex.length);
        log(`  WARNING: ${c.rowsMissingFromRoomIndex.length} rows are missing from dynalite's room index (${c.rowsMissingFromRoomIndex.join(', ')}): fan-out cannot reach them`);
      }
    }
    return { group, report };
  };

  const measure = async (
    variant: string,
    group: ListenerGroup,
    publish: PublishFn,
    round_: { messages: number; rate?: number; payload?: number; quietMs?: number },
    profile = false,
  ): Promise<Measured> => {
    log(`  ${variant}: ${fmt(round_.messages)} messages${round_.rate ? ` at ${round_.rate}/s` : ''}…`);
    if (profile) await child.call('profileStart');
    const cpu0 = await child.call<{ user: number; system: number }>('cpu');
    const report = await runRound(group, publish, {
      runId: randomBytes(4).toString('hex'),
      payload: 64,
      quietMs: 10_000,
      drainTimeoutMs: 120_000,
      ...round_,
      onProgress: (p) => log(`    ${p.phase === 'publish' ? `published ${p.published}/${p.messages}, ` : ''}${fmt(p.received)}/${fmt(p.expected)} frames`),
    });
    const cpu1 = await child.call<{ user: number; system: number }>('cpu');
    const prof = profile ? ((await child.call<ProfileSummary>('profileStop')) ?? undefined) : undefined;
    const cpuUs = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
    const m: Measured = { variant, report, serverCpuUsPerFrame: report.frames.received ? round(cpuUs / report.frames.received, 1) : 0, ...(prof ? { profile: prof } : {}) };
    const l = report.latencyMs;
    const dropped = group.dropped();
    if (report.frames.listenersMissing) log(`    listeners that missed frames: ${JSON.stringify(report.frames.missingDetails)}`);
    log(`    → ${fmt(report.frames.perSecond)} frames/s, p50 ${l.p50} ms, p99 ${l.p99} ms, lost ${report.frames.lost}${report.frames.lost ? ` (${report.frames.listenersMissing} listeners)` : ''}, duplicated ${report.frames.duplicated}${dropped ? `, ${dropped} listeners dropped so far` : ''}`);
    return m;
  };

  const postTo = (op: 'post' | 'wsBroadcast'): PublishFn => (messages) => child.call<{ failed: number[] }>(op, { messages });
  const hermesPublish = (t: BenchTarget): PublishFn => t.publish;

  try {
    for (const scenario of opts.scenarios) {
      log(`\n== ${scenario} ==`);
      if (scenario === 'rcu') {
        await startStack();
        log(`seeding ${size.rcu.rooms} rooms x ${size.rcu.perRoom} connections…`);
        const rcu = await measureRcu(clients!.ddb, { rooms: size.rcu.rooms, perRoom: size.rcu.perRoom });
        await stopStack();
        results.rcu = rcu;
        opts.out(formatRcu(rcu));
      }

      if (scenario === 'throughput') {
        const s = size.throughput;
        const { target } = await startStack();
        const { group, report: connectReport } = await connect('throughput', s.rooms, s.listeners, (r) => target.listenerUrl(r));
        await measure('warm-up', group, hermesPublish(target), { messages: s.rooms * 2, quietMs: 3000 });
        const runs: Record<string, Measured[]> = { hermes: [], loopHermes: [], loopSdk: [], ws: [] };
        // The loop gets the sockets a send-message client has (2 x fan-out concurrency), and
        // the number of calls in flight that serves it best, measured here: the floor.
        const maxSockets = 2 * (opts.stack.fanoutConcurrency ?? DEFAULT_FANOUT_CONCURRENCY);
        const sweep: Array<{ concurrency: number; framesPerSecond: number }> = [];
        for (const concurrency of [maxSockets / 2, maxSockets, maxSockets * 2.5, maxSockets * 5, maxSockets * 10]) {
          await child.call('postStart', { client: 'hermes', concurrency, maxSockets });
          const m = await measure(`PostToConnection loop (hermes client), ${concurrency} in flight`, group, postTo('post'), { messages: Math.ceil(s.messages / 2) });
          sweep.push({ concurrency, framesPerSecond: m.report.frames.perSecond });
        }
        const bareConcurrency = [...sweep].sort((a, b) => b.framesPerSecond - a.framesPerSecond)[0].concurrency;
        log(`  loop concurrency sweep: ${sweep.map((x) => `${x.concurrency}: ${fmt(x.framesPerSecond)}/s`).join(', ')}; using ${bareConcurrency}`);
        for (let rep = 0; rep < opts.repeat; rep++) {
          const profile = opts.profile && rep === 0;
          runs.hermes.push(await measure('hermes end to end', group, hermesPublish(target), { messages: s.messages }, profile));
          await child.call('postStart', { client: 'hermes', concurrency: bareConcurrency, maxSockets });
          runs.loopHermes.push(await measure('PostToConnection loop (hermes client)', group, postTo('post'), { messages: s.messages }, profile));
          await child.call('postStart', { client: 'sdk', concurrency: bareConcurrency, maxSockets });
          runs.loopSdk.push(await measure('PostToConnection loop (stock SDK v3 client)', group, postTo('post'), { messages: s.messages }, profile));
        }
        await group.close();
        await stopStack();
        const wsUrl = await child.call<string>('wsStart');
        const bare = await connect('bare ws server', s.rooms, s.listeners, async (room) => `${wsUrl}?room=${encodeURIComponent(room)}`);
        for (let rep = 0; rep < opts.repeat; rep++) {
          runs.ws.push(await measure('bare ws broadcast', bare.group, postTo('wsBroadcast'), { messages: s.messages }, opts.profile && rep === 0));
        }
        await bare.group.close();
        await child.call('wsStop');
        const median = (ms: Measured[]) => [...ms].sort((a, b) => a.report.frames.perSecond - b.report.frames.perSecond)[Math.floor(ms.length / 2)];
        const picked = { hermes: median(runs.hermes), loopHermes: median(runs.loopHermes), loopSdk: median(runs.loopSdk), ws: median(runs.ws) };
        results.throughput = { settings: { ...s, payloadBytes: 64, repeat: opts.repeat, bareLoopConcurrency: bareConcurrency, maxSockets, sweep }, connect: connectReport, runs, median: picked };
        opts.out(formatThroughput(s, opts.repeat, { concurrency: bareConcurrency, maxSockets, sweep }, picked, runs));
      }

      if (scenario === 'latency') {
        const s = size.latency;
        const { target } = await startStack();
        const { group, report: connectReport } = await connect('latency', s.rooms, s.listeners, (r) => target.listenerUrl(r));
        await measure('warm-up', group, hermesPublish(target), { messages: 2, quietMs: 3000 });
        const m = await measure('hermes end to end', group, hermesPublish(target), { messages: s.messages, rate: s.rate }, opts.profile);
        await group.close();
        await stopStack();
        results.latency = { settings: s, connect: connectReport, result: m };
        opts.out(formatSingle(`(2) latency: one room of ${fmt(s.listeners)} listeners, ${s.messages} messages at ${s.rate}/s`, m, connectReport.perSecond));
      }

      if (scenario === 'sustained') {
        const s = size.sustained;
        const { target } = await startStack();
        const { group, report: connectReport } = await connect('sustained', s.rooms, s.listeners, (r) => target.listenerUrl(r));
        await measure('warm-up', group, hermesPublish(target), { messages: s.rooms, quietMs: 3000 });
        const m = await measure('hermes end to end', group, hermesPublish(target), { messages: s.rate * s.seconds, rate: s.rate }, opts.profile);
        await group.close();
        await stopStack();
        results.sustained = { settings: s, connect: connectReport, result: m };
        opts.out(
          formatSingle(
            `(3) sustained: ${fmt(s.rooms)} rooms of ${fmt(s.listeners / s.rooms)} listeners, ${s.rate} messages/s for ${s.seconds} s`,
            m,
            connectReport.perSecond,
          ),
        );
      }

      if (scenario === 'shards') {
        const s = size.shards;
        const rows: Array<{ shardSize: number; m: Measured; paced: Measured; records: number }> = [];
        for (const shardSize of s.shardSizes) {
          const { target } = await startStack({ shardSize });
          const { group } = await connect(`shards (shard size ${shardSize || 'off'})`, 1, s.listeners, (r) => target.listenerUrl(r));
          await measure('warm-up', group, hermesPublish(target), { messages: 1, quietMs: 5000 });
          const before = await child.call<{ records: number }>('pollerStats');
          const m = await measure(`hermes end to end, shard size ${shardSize || 'off'}`, group, hermesPublish(target), { messages: s.messages });
          const after = await child.call<{ records: number }>('pollerStats');
          // One message at a time: how long one message of the large room takes to reach everyone.
          const paced = await measure(`one at a time, shard size ${shardSize || 'off'}`, group, hermesPublish(target), { messages: s.paced, rate: 1 });
          rows.push({ shardSize, m, paced, records: after.records - before.records });
          await group.close(10_000);
          await stopStack();
        }
        results.shards = { settings: s, rows };
        opts.out(formatShards(s.listeners, s.messages, s.paced, rows));
        if (rows.some((r) => r.m.report.frames.lost || r.paced.report.frames.lost)) {
          opts.out(
            'Frames lost here are connections missing from dynalite\'s room index (see the WARNING lines): dynalite keys a GSI entry by the\n' +
              'index key plus 6 hex digits of an MD5 of the table key, so two connections of one room collide with probability ~N^2/2^25\n' +
              '(about 0.75 per room of 5,000). A local-stack defect, not a fan-out one; DynamoDB itself keeps every entry.\n',
          );
        }
      }

      if (scenario === 'tune') {
        const s = size.throughput;
        const grid: Array<{ fanoutConcurrency: number; pollers: number }> = [];
        for (const pollers of [1, 2, 4, 8]) for (const fanoutConcurrency of [16, 32, 64, 128]) grid.push({ fanoutConcurrency, pollers });
        const rows: Array<{ fanoutConcurrency: number; pollers: number; m: Measured }> = [];
        for (const g of grid) {
          const { target } = await startStack(g);
          const { group } = await connect(`tune pollers=${g.pollers} concurrency=${g.fanoutConcurrency}`, s.rooms, s.listeners, (r) => target.listenerUrl(r));
          await measure('warm-up', group, hermesPublish(target), { messages: s.rooms * 2, quietMs: 3000 });
          const m = await measure('hermes end to end', group, hermesPublish(target), { messages: s.messages });
          rows.push({ ...g, m });
          await group.close();
          await stopStack();
        }
        results.tune = rows.map((r) => ({ pollers: r.pollers, fanoutConcurrency: r.fanoutConcurrency, framesPerSecond: r.m.report.frames.perSecond, p99: r.m.report.latencyMs.p99 }));
        opts.out(
          [
            `(tune) hermes end to end, ${fmt(s.listeners)} listeners in ${s.rooms} rooms, ${s.messages} messages; frames/s (p99 ms)`,
            table([
              ['pollers \\ fan-out concurrency', '16', '32', '64', '128'],
              ...[1, 2, 4, 8].map((p) => [
                String(p),
                ...[16, 32, 64, 128].map((c) => {
                  const r = rows.find((x) => x.pollers === p && x.fanoutConcurrency === c)!;
                  return `${fmt(r.m.report.frames.perSecond)} (${Math.round(r.m.report.latencyMs.p99)})`;
                }),
              ]),
            ]),
            '',
          ].join('\n'),
        );
      }
    }
  } finally {
    stopClients();
    await child.stop();
  }
  results.roomIndexLosses = indexLosses;
  results.finishedAt = new Date().toISOString();
  (results.machine as { loadAverageAtEnd?: number[] }).loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
  return results;
}

// ---- formatting ---------------------------------------------------------------------------------

function formatRcu(r: RcuReport): string {
  const row = (name: string, c: RcuReport['query']) => [name, fmt(c.requests), fmt(c.itemsRead), fmt(c.itemsReturned), fmt(c.bytesRead), c.rcu, c.reportedRcu];
  return [
    `(4) read capacity per message: ${fmt(r.rooms)} rooms x ${fmt(r.perRoom)} connections (${fmt(r.tableItems)} rows, ~${r.averageItemBytes} B each), mean of ${r.sampledRooms} rooms`,
    table([
      ['', 'requests', 'items read', 'items returned', 'bytes read', 'RCU', 'RCU (dynalite)'],
      row('Query on the room index (hermes)', r.query),
      row('Scan + filter on room_id', r.scan),
    ]),
    `Scan / Query: ${r.ratio}x more read capacity per message`,
    r.method,
    '',
  ].join('\n');
}

function latencyRows(ms: Measured[]): Array<Array<string | number>> {
  const l = (f: (m: Measured) => string | number) => ms.map(f);
  return [
    ['latency p50 (ms)', ...l((m) => m.report.latencyMs.p50)],
    ['latency p95 (ms)', ...l((m) => m.report.latencyMs.p95)],
    ['latency p99 (ms)', ...l((m) => m.report.latencyMs.p99)],
    ['latency max (ms)', ...l((m) => m.report.latencyMs.max)],
    ['frames lost / duplicated', ...l((m) => `${fmt(m.report.frames.lost)} / ${fmt(m.report.frames.duplicated)}`)],
    ['server CPU per frame (µs)', ...l((m) => m.serverCpuUsPerFrame)],
  ];
}

function formatProfiles(ms: Measured[]): string[] {
  const withProfile = ms.filter((m) => m.profile);
  if (!withProfile.length) return [];
  const names = [...new Set(withProfile.flatMap((m) => m.profile!.components.map((c) => c.component)))];
  const share = (m: Measured, c: string) => m.profile!.components.find((x) => x.component === c)?.percent ?? 0;
  names.sort((a, b) => share(withProfile[0], b) - share(withProfile[0], a));
  return [
    '',
    'where the server process spends its time (% of CPU profile samples):',
    table([['', ...withProfile.map((m) => m.variant)], ...names.map((c) => [c, ...withProfile.map((m) => `${share(m, c)}%`)])]),
    ...withProfile.flatMap((m) => [
      '',
      `functions with the most self time, ${m.variant}:`,
      table([['function', 'component', '%'], ...m.profile!.top.slice(0, 12).map((t) => [t.fn, t.component, `${t.percent}%`])]),
    ]),
  ];
}

function formatThroughput(
  s: { rooms: number; listeners: number; messages: number },
  repeat: number,
  loop: { concurrency: number; maxSockets: number; sweep: Array<{ concurrency: number; framesPerSecond: number }> },
  p: Record<'hermes' | 'loopHermes' | 'loopSdk' | 'ws', Measured>,
  runs: Record<string, Measured[]>,
): string {
  const cols = [p.hermes, p.loopHermes, p.loopSdk, p.ws];
  const floor = p.loopHermes.report.frames.perSecond;
  const all = (k: string) => runs[k].map((m) => fmt(m.report.frames.perSecond)).join(', ');
  return [
    `(1) throughput: ${fmt(s.listeners)} listeners in ${s.rooms} rooms, ${s.messages} messages = ${fmt(s.messages * (s.listeners / s.rooms))} frames per run, 64 B padding; median of ${repeat} runs`,
    table([
      ['', 'hermes end to end', 'PostToConnection loop, hermes client', 'PostToConnection loop, stock SDK v3', 'bare ws broadcast'],
      ['delivered frames/s', ...cols.map((m) => fmt(m.report.frames.perSecond))],
      ['vs the PostToConnection loop (hermes client)', ...cols.map((m) => `${round(m.report.frames.perSecond / floor, 2)}x`)],
      ...latencyRows(cols),
    ]),
    `all runs, frames/s: hermes ${all('hermes')}; loop (hermes client) ${all('loopHermes')}; loop (stock SDK) ${all('loopSdk')}; bare ws ${all('ws')}`,
    `The loops post from the server process over ${loop.maxSockets} keep-alive sockets (as many as a send-message client has) with ${loop.concurrency} calls in flight, the best of ` +
      `${loop.sweep.map((x) => `${x.concurrency}: ${fmt(x.framesPerSecond)}/s`).join(', ')}. Their latency counts from handing the message to the server process.`,
    ...formatProfiles([p.hermes, p.loopHermes, p.loopSdk, p.ws].filter((m) => m.profile)),
    '',
  ].join('\n');
}

function formatSingle(title: string, m: Measured, connectRate: number): string {
  const r = m.report;
  return [
    title,
    table([
      ['', 'hermes end to end'],
      ['connect rate (/s)', fmt(connectRate)],
      ['messages published', `${fmt(r.published)} at ${fmt(r.publishRate)}/s${r.publishFailed ? ` (${r.publishFailed} failed)` : ''}`],
      ['frames expected / received', `${fmt(r.frames.expected)} / ${fmt(r.frames.received)}`],
      ['delivered frames/s', fmt(r.frames.perSecond)],
      ...latencyRows([m]),
    ]),
    ...formatProfiles([m]),
    '',
  ].join('\n');
}

function formatShards(
  listeners: number,
  messages: number,
  paced: number,
  rows: Array<{ shardSize: number; m: Measured; paced: Measured; records: number }>,
): string {
  const head = ['', ...rows.map((r) => (r.shardSize ? `shard size ${fmt(r.shardSize)}` : 'no shards'))];
  return [
    `(5) one room of ${fmt(listeners)} listeners, by shard size (HERMES_SHARD_SIZE; default ${DEFAULT_SHARD_SIZE})`,
    `${messages} messages as fast as possible:`,
    table([
      head,
      ['queue records delivered', ...rows.map((r) => fmt(r.records))],
      ['delivered frames/s', ...rows.map((r) => fmt(r.m.report.frames.perSecond))],
      ...latencyRows(rows.map((r) => r.m)),
    ]),
    `${paced} messages, one per second (each message's fan-out alone):`,
    table([head, ...latencyRows(rows.map((r) => r.paced))]),
    '',
  ].join('\n');
}
