/**
 * A handler's JSON log line (core/handler-log.ts) made readable for a terminal, as `hermes dev`
 * and the test logs show it:
 *   [send-message] delivered messageId=5f0c… room=lobby delivered=2 pruned=0 failed=0 (request 3f2a9c1e)
 * The level is not repeated: the local stack's logger gets warn and error lines on their own
 * methods (`hermes dev` colours them, and shows info only with --verbose).
 */

/** Keys every line has; the request id is shown short, at the end. */
const STANDARD_KEYS = new Set([
  'level', 'message', 'timestamp', 'service', 'cold_start', 'function_arn', 'function_memory_size',
  'function_name', 'function_request_id', 'sampling_rate', 'xray_trace_id', 'tenant_id',
]);

function show(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

export function readableHandlerLine(handler: string, line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `[${handler}] ${line}`;
  }
  if (!entry || typeof entry !== 'object') return `[${handler}] ${line}`;
  const keys = Object.entries(entry)
    .filter(([k, v]) => !STANDARD_KEYS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${show(v)}`);
  const request = typeof entry.function_request_id === 'string' ? ` (request ${entry.function_request_id.slice(0, 8)})` : '';
  return `[${handler}] ${[String(entry.message ?? ''), ...keys].join(' ')}${request}`;
}

/**
 * A queue delivery as `hermes dev` prints it whatever the verbosity, from send-message's
 * "delivered" line: `delivery room=lobby delivered=2 pruned=0 failed=0 14 ms (request 3f2a9c1e)`.
 */
export function deliveryLine(handler: string, line: string): string | undefined {
  if (handler !== 'send-message') return undefined;
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (e?.message !== 'delivered') return undefined;
  const request = typeof e.function_request_id === 'string' ? ` (request ${e.function_request_id.slice(0, 8)})` : '';
  const ms = typeof e.durationMs === 'number' ? ` ${e.durationMs} ms` : '';
  const to = e.toUser !== undefined ? `user=${show(e.toUser)}` : `room=${show(e.room)}`;
  return `delivery ${to} delivered=${e.delivered} pruned=${e.pruned} failed=${e.failed}${ms}${request}`;
}
