/**
 * The handlers' log lines for `hermes logs`, from CloudWatch Logs for a deployed stage and from
 * the local stack's log file (local/log-file.ts) for `hermes dev`, as one kind of entry: time,
 * function, level, request id, message and the line's other fields. Powertools lines are JSON
 * (core/handler-log.ts); Lambda's own lines (START, END, REPORT) are text with the request id.
 */
import type { HandlerName } from '../stack/definition.js';
import type { ResourceNames } from '../stack/names.js';
import { readableHandlerLine } from '../local/handler-log-lines.js';

export interface LogEntry {
  time: number;
  function: HandlerName | string;
  level?: string;
  requestId?: string;
  message: string;
  /** The whole line when it was JSON; the text otherwise. */
  raw: Record<string, unknown> | string;
}

/** The handler a function name belongs to (`hermes-<stage>-<handler>`), or the name itself. */
function handlerOf(names: ResourceNames, handlers: readonly HandlerName[], fn: string): string {
  return handlers.find((h) => names.fn(h) === fn) ?? fn;
}

export function toEntry(names: ResourceNames, handlers: readonly HandlerName[], line: string, fallback: { fn?: string; time?: number }): LogEntry | undefined {
  const text = line.trim();
  if (!text) return undefined;
  let json: Record<string, unknown> | undefined;
  // CloudWatch prefixes nothing to a JSON line a Node function writes; Lambda's own lines are text.
  const start = text.indexOf('{');
  if (start >= 0) {
    try {
      const parsed: unknown = JSON.parse(text.slice(start));
      if (parsed && typeof parsed === 'object') json = parsed as Record<string, unknown>;
    } catch {
      // not JSON
    }
  }
  if (json) {
    const fn = typeof json.function_name === 'string' ? json.function_name : (fallback.fn ?? '?');
    const t = typeof json.timestamp === 'string' ? Date.parse(json.timestamp) : NaN;
    return {
      time: Number.isNaN(t) ? (fallback.time ?? 0) : t,
      function: handlerOf(names, handlers, fn),
      level: typeof json.level === 'string' ? json.level : undefined,
      requestId: typeof json.function_request_id === 'string' ? json.function_request_id : undefined,
      message: String(json.message ?? ''),
      raw: json,
    };
  }
  return {
    time: fallback.time ?? 0,
    function: handlerOf(names, handlers, fallback.fn ?? '?'),
    requestId: /RequestId: ([0-9a-f-]{36})/.exec(text)?.[1],
    message: text,
    raw: text,
  };
}

export function formatEntry(e: LogEntry, c: { dim: (s: string) => string; yellow: (s: string) => string; red: (s: string) => string }): string {
  const time = c.dim(new Date(e.time).toISOString().replace('T', ' ').slice(0, 23));
  const level = e.level === 'ERROR' ? c.red('ERROR') : e.level === 'WARN' ? c.yellow('WARN ') : (e.level ?? '').padEnd(5);
  const body = typeof e.raw === 'string' ? `[${e.function}] ${e.raw}` : readableHandlerLine(String(e.function), JSON.stringify(e.raw));
  return `${time} ${level} ${body}`;
}

/** What --json prints for an entry: one object a line. */
export function entryJson(e: LogEntry): Record<string, unknown> {
  return { time: new Date(e.time).toISOString(), function: e.function, ...(e.level ? { level: e.level } : {}), ...(e.requestId ? { requestId: e.requestId } : {}), message: e.message, line: e.raw };
}
