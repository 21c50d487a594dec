/** Plain-text tables for bench reports (the CLI verb and the bench script). */
import type { BenchReport } from './bench.js';
import { MINUTES_PER_MONTH, type RunCost, type UnitCost } from './cost.js';

/** Left-aligned first column, right-aligned others; `header` rows are underlined. */
export function table(rows: Array<Array<string | number>>, header = 1): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const out: string[] = [];
  cells.forEach((r, i) => {
    out.push(line(r));
    if (i === header - 1) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  });
  return out.join('\n');
}

export const fmt = (n: number): string => n.toLocaleString('en-US');

export function formatReport(r: BenchReport): string {
  const s = r.settings;
  const f = r.round.frames;
  const l = r.round.latencyMs;
  const rows: Array<Array<string | number>> = [
    ['', 'value'],
    ['listeners connected', `${fmt(r.connect.opened)} of ${fmt(r.connect.requested)}${r.connect.failed ? ` (${fmt(r.connect.failed)} failed)` : ''}`],
    ['connect rate', `${fmt(r.connect.perSecond)} /s`],
    ['messages published', `${fmt(r.round.published)}${r.round.publishFailed ? ` (${fmt(r.round.publishFailed)} failed)` : ''} at ${fmt(r.round.publishRate)} /s`],
    ['frames expected', fmt(f.expected)],
    ['frames received', fmt(f.received)],
    ['delivered frames/s', fmt(f.perSecond)],
    ['latency p50', `${l.p50} ms`],
    ['latency p95', `${l.p95} ms`],
    ['latency p99', `${l.p99} ms`],
    ['latency max', `${l.max} ms`],
    ['frames lost', `${fmt(f.lost)}${f.lost ? ` (${fmt(f.listenersMissing)} listeners missed frames)` : ''}`],
    ['frames duplicated', fmt(f.duplicated)],
  ];
  if (f.misrouted) rows.push(['frames to the wrong room', fmt(f.misrouted)]);
  if (r.dropped) rows.push(['listeners dropped by the server', fmt(r.dropped)]);
  const head = `hermes bench: ${r.target}, ${fmt(s.listeners)} listeners in ${fmt(s.rooms)} rooms, ${fmt(s.messages)} messages` +
    `${s.rate ? ` at ${fmt(s.rate)}/s` : ' (as fast as possible)'}, ${fmt(s.payloadBytes)} B padding, ${r.round.seconds} s`;
  const tail: string[] = [];
  if (r.connect.errors.length) tail.push(`connect errors: ${r.connect.errors.join('; ')}`);
  if (r.round.drained !== 'complete') tail.push(`stopped waiting for frames: ${r.round.drained === 'quiet' ? 'none arrived for a while' : r.round.drained}`);
  tail.push(...r.notes.map((n) => `note: ${n}`));
  return [head, '', table(rows), ...(tail.length ? ['', ...tail] : [])].join('\n');
}

/** Dollars, with enough digits to show fractions of a cent. */
export function usd(x: number): string {
  if (x === 0) return '$0';
  if (Math.abs(x) >= 100) return `$${fmt(Math.round(x))}`;
  if (Math.abs(x) >= 0.995) return `$${x.toFixed(2)}`;
  return `$${x.toPrecision(2)}`;
}

/** The cost section of a bench report: per million notifications and connects, what each line was. */
export function formatCost(c: RunCost): string {
  const n = c.notifications;
  const k = c.connects;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = (u: UnitCost) =>
    u.priced.lines.map((l) => [`  ${l.item}`, `${fmt(Math.round(l.quantity * 100) / 100)} ${l.unit}`, usd(u.count ? (l.usd * 1e6) / u.count : 0)]);
  return [
    `cost, priced for ${c.prices.region} on-demand (${c.architecture}), prices of ${c.prices.date}${c.prices.overridden.length ? `, overridden: ${c.prices.overridden.join(', ')}` : ''}:`,
    table([
      ['', 'hermes (Lambda, DynamoDB, SQS)', 'API Gateway messages', 'together'],
      [`per 1M delivered notifications (${fmt(n.count)} measured)`, usd(n.perMillion.hermes), usd(n.perMillion.apigwMessages), usd(n.perMillion.total)],
      [`per 1M connects (${fmt(k.count)} measured, with their disconnects)`, usd(k.perMillion.hermes), usd(k.perMillion.apigwMessages), usd(k.perMillion.total)],
    ]),
    `hermes's own share of a notification: ${pct(c.ownShareOfMessages)} of API Gateway's message charge for it`,
    `connection minutes: ${fmt(Math.round(c.connectionMinutes.minutes * 10) / 10)} in this run (${usd(c.connectionMinutes.usd)}); a connection open for a month: ${usd(MINUTES_PER_MONTH * (c.connectionMinutes.minutes ? c.connectionMinutes.usd / c.connectionMinutes.minutes : 0))}`,
    `a stage at rest for a month (nothing connected): ${usd(c.atRestMonth.usd)}, the event source's long polls (${fmt(c.atRestMonth.sqsRequests)} SQS receives, assumed, not measured)`,
    '',
    table([['what the round used', 'quantity', 'per 1M notifications'], ...lines(n)]),
    '',
    table([['what the connects used', 'quantity', 'per 1M connects'], ...lines(k)]),
  ].join('\n');
}
