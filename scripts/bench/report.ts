/**
 * The printed report of each fan-out benchmark scenario: plain-text tables, one function per
 * scenario, plus the latency rows and CPU profile shares they have in common.
 */
import { DEFAULT_SHARD_SIZE } from '../../src/core/handler-env.js';
import { fmt, table } from '../../src/bench/format.js';
import { round } from '../../src/bench/stats.js';
import type { RcuReport } from './rcu.js';
import type { Measured } from './session.js';

export interface ShardRow {
  shardSize: number;
  /** A send-message timeout shorter than defined, to make the deadline hand-over carry the room. */
  timeoutSeconds?: number;
  m: Measured;
  paced: Measured;
  records: number;
  /** Invocations that failed (a timeout among them): each would redeliver its batch. Must be 0. */
  failedInvocations: number;
}

export interface TuneRow {
  fanoutConcurrency: number;
  pollers: number;
  m: Measured;
}

export function formatRcu(r: RcuReport): string {
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

export function formatProfiles(ms: Measured[]): string[] {
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

export function formatThroughput(
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

export function formatSingle(title: string, m: Measured, connectRate: number): string {
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

export function formatShards(
  listeners: number,
  messages: number,
  paced: number,
  rows: ShardRow[],
): string {
  const head = ['', ...rows.map((r) => `${r.shardSize ? `shard size ${fmt(r.shardSize)}` : 'no shards'}${r.timeoutSeconds ? `, ${r.timeoutSeconds} s timeout` : ''}`)];
  return [
    `(5) one room of ${fmt(listeners)} listeners, by shard size (HERMES_SHARD_SIZE; default ${DEFAULT_SHARD_SIZE})`,
    `${messages} messages as fast as possible:`,
    table([
      head,
      ['queue records delivered', ...rows.map((r) => fmt(r.records))],
      ['failed invocations (timeouts; must be 0)', ...rows.map((r) => fmt(r.failedInvocations))],
      ['delivered frames/s', ...rows.map((r) => fmt(r.m.report.frames.perSecond))],
      ...latencyRows(rows.map((r) => r.m)),
    ]),
    'With a timeout shorter than the fan-out of a burst, send-message stops before its deadline and hands the connections not reached',
    'to the queue as shards (core/deliver.ts): more queue records, no failed invocation, nothing lost or duplicated.',
    `${paced} messages, one per second (each message's fan-out alone):`,
    table([head, ...latencyRows(rows.map((r) => r.paced))]),
    '',
    ...(rows.some((r) => r.m.report.frames.lost || r.paced.report.frames.lost)
      ? [
          'Frames lost here are connections missing from dynalite\'s room index (see the WARNING lines): dynalite keys a GSI entry by the\n' +
            'index key plus 6 hex digits of an MD5 of the table key, so two connections of one room collide with probability ~N^2/2^25\n' +
            '(about 0.75 per room of 5,000). A local-stack defect, not a fan-out one; DynamoDB itself keeps every entry.\n',
        ]
      : []),
  ].join('\n');
}

export function formatTune(s: { rooms: number; listeners: number; messages: number }, rows: TuneRow[]): string {
  const pollers = [...new Set(rows.map((r) => r.pollers))];
  const concurrencies = [...new Set(rows.map((r) => r.fanoutConcurrency))];
  return [
    `(tune) hermes end to end, ${fmt(s.listeners)} listeners in ${s.rooms} rooms, ${s.messages} messages; frames/s (p99 ms)`,
    table([
      ['pollers \\ fan-out concurrency', ...concurrencies.map(String)],
      ...pollers.map((p) => [
        String(p),
        ...concurrencies.map((c) => {
          const r = rows.find((x) => x.pollers === p && x.fanoutConcurrency === c)!;
          return `${fmt(r.m.report.frames.perSecond)} (${Math.round(r.m.report.latencyMs.p99)})`;
        }),
      ]),
    ]),
    '',
  ].join('\n');
}
