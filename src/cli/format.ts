/**
 * Small text helpers shared by the verbs: aligned tables, times, durations, and the one-line
 * human form of a frame that `hermes listen` prints. No heavy imports: loaded by actions only.
 */
import type { Frame } from '../../client/protocol.js';
import type { CliContext } from './context.js';

type Colors = CliContext['c'];

/** Columns padded to their widest cell; the header dimmed. */
export function table(c: Colors, header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [c.dim(line(header)), ...rows.map(line)].join('\n');
}

/** `2025-01-02 03:04:05Z` from epoch seconds: sortable, unambiguous, one column wide. */
export function utcSeconds(epochSeconds: number): string {
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** `1.2 s`, `45 s`, `3m 05s`, `2h 10m`, `3d 4h`. */
export function humanDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `in 59m 58s` or `3m 02s ago`. */
export function relative(epochSeconds: number, nowMs = Date.now()): string {
  const delta = epochSeconds * 1000 - nowMs;
  return delta >= 0 ? `in ${humanDuration(delta)}` : `${humanDuration(-delta)} ago`;
}

/** Local wall-clock time `HH:MM:SS`, as log tails show it. */
export function clock(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

function colorFor(c: Colors, type: string): (s: string) => string {
  switch (type.toLowerCase()) {
    case 'error':
    case 'fatal':
    case 'critical':
      return c.red;
    case 'warn':
    case 'warning':
      return c.yellow;
    case 'success':
    case 'ok':
      return c.green;
    case 'info':
      return c.cyan;
    case 'debug':
    case 'trace':
      return c.gray;
    default:
      return c.magenta;
  }
}

const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * One line for a received frame: `12:03:04  info     backend   Backup job finished`, at the
 * time it was sent; `(to alice, replayed)` after a message to one user, or one a resume sent again. Frames that follow the subscriber convention (`data: {type, data}`) show
 * their type and text; other data is shown as JSON.
 */
export function formatFrame(c: Colors, frame: Frame, receivedAt = new Date()): string {
  const sent = new Date(frame.sent_at);
  const time = Number.isNaN(sent.getTime()) ? receivedAt : sent;
  const sender = frame.user_id || '-';
  let type = 'message';
  let body: string;
  const d = frame.data as Record<string, unknown> | null;
  if (d && typeof d === 'object' && !Array.isArray(d) && typeof d.type === 'string' && 'data' in d) {
    type = d.type;
    body = asText(d.data);
  } else {
    body = asText(frame.data);
  }
  const marks = [frame.to_user_id !== undefined && `to ${frame.to_user_id}`, frame.replay && 'replayed'].filter(Boolean);
  return `${c.dim(clock(time))}  ${colorFor(c, type)(type.padEnd(7))}  ${c.bold(sender.padEnd(9))}  ${body}${marks.length ? `  ${c.dim(`(${marks.join(', ')})`)}` : ''}`;
}

/** The last part of a queue URL: its name. */
export function queueName(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/** Body text on one line, cut to `max` characters. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\r?\n/g, '\\n');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
