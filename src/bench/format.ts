/** Plain-text tables for bench reports (the CLI verb and the bench script). */
import type { BenchReport } from './bench.js';

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
