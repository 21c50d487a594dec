/**
 * Small text helpers shared by the verbs: aligned tables, times, durations, and the one-line
 * human form of a frame that `hermes listen` prints. No heavy imports: loaded by actions only.
 */
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
 * One line for a received WebSocket message: `12:03:04  info     backend   Backup job finished`.
 * Frames that follow the subscriber convention (`data: {type, data}`) show their type and text;
 * other data is shown as JSON; gateway error frames (`{message, connectionId, requestId}`) show
 * as errors from `(gateway)`; text that is not JSON is shown as it came.
 */
export function formatFrame(c: Colors, raw: string, receivedAt = new Date()): string {
  let frame: unknown;
  try {
    frame = JSON.parse(raw);
  } catch {
    return `${c.dim(clock(receivedAt))}  ${raw}`;
  }
  let time = receivedAt;
  let type = 'message';
  let sender = '-';
  let body: string;
  const f = frame as Record<string, unknown>;
  if (f && typeof f === 'object' && !Array.isArray(f) && 'data' in f && 'room_id' in f) {
    const sent = typeof f.sent_at === 'string' ? new Date(f.sent_at) : undefined;
    if (sent && !Number.isNaN(sent.getTime())) time = sent;
    if (typeof f.user_id === 'string' && f.user_id) sender = f.user_id;
    const d = f.data as Record<string, unknown> | null;
    if (d && typeof d === 'object' && !Array.isArray(d) && typeof d.type === 'string' && 'data' in d) {
      type = d.type;
      body = asText(d.data);
    } else {
      body = asText(f.data);
    }
  } else if (f && typeof f === 'object' && typeof f.message === 'string' && 'requestId' in f) {
    type = 'error';
    sender = '(gateway)';
    body = f.message;
  } else {
    body = asText(frame);
  }
  return `${c.dim(clock(time))}  ${colorFor(c, type)(type.padEnd(7))}  ${c.bold(sender.padEnd(9))}  ${body}`;
}
