/**
 * What a local stack's traffic would be billed for on AWS, counted where it happens:
 * - Lambda: invocations and duration per function (wall time of each invocation, billed in
 *   whole milliseconds), with the memory the definition configures;
 * - DynamoDB: read and write request units, from the capacity dynalite reports for each request
 *   (it is asked for ReturnConsumedCapacity), plus the index writes it leaves out;
 * - SQS: requests, each 64 KB of payload a request of its own, empty receives apart;
 * - API Gateway: messages in and out (each 32 KB a message of its own) and connection time.
 * A bench takes a snapshot before and after what it measures and prices the difference
 * (src/bench/cost.ts). Everything here is a counter: nothing changes what the stack does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HandlerName } from '../stack/definition.js';

export interface FunctionUsage {
  invocations: number;
  /** Sum of invocation wall times, ms. */
  durationMs: number;
  /** Sum of durations each rounded up to a whole ms, as Lambda bills them. */
  billedMs: number;
  memoryMb: number;
}

export interface Usage {
  lambda: Partial<Record<HandlerName, FunctionUsage>>;
  dynamodb: { readUnits: number; writeUnits: number; requests: number; byOperation: Record<string, number> };
  /** `requests` are billed requests (64 KB chunks); empty receives are counted in them and apart. */
  sqs: { requests: number; emptyReceives: number; byAction: Record<string, number> };
  apigw: { messagesIn: number; messagesOut: number; connectionMinutes: number; connections: number };
}

const SQS_CHUNK = 64 * 1024;
const APIGW_MESSAGE_UNIT = 32 * 1024;

export function emptyUsage(): Usage {
  return {
    lambda: {},
    dynamodb: { readUnits: 0, writeUnits: 0, requests: 0, byOperation: {} },
    sqs: { requests: 0, emptyReceives: 0, byAction: {} },
    apigw: { messagesIn: 0, messagesOut: 0, connectionMinutes: 0, connections: 0 },
  };
}

/** What the gateway reports to a meter. */
export interface GatewayMeter {
  message(direction: 'in' | 'out', bytes: number): void;
  opened(connectionId: string): void;
  closed(connectionId: string): void;
}

export class UsageMeter implements GatewayMeter {
  private readonly counts = emptyUsage();
  /** Connection id → when it opened (ms), for the minutes of connections still open. */
  private readonly open = new Map<string, number>();
  private closedMs = 0;
  private running = 0;

  constructor(private readonly now: () => number = Date.now) {}

  // ---- API Gateway ------------------------------------------------------------------------------
  message(direction: 'in' | 'out', bytes: number): void {
    const units = Math.max(1, Math.ceil(bytes / APIGW_MESSAGE_UNIT));
    if (direction === 'in') this.counts.apigw.messagesIn += units;
    else this.counts.apigw.messagesOut += units;
  }

  opened(connectionId: string): void {
    this.open.set(connectionId, this.now());
    this.counts.apigw.connections++;
  }

  closed(connectionId: string): void {
    const at = this.open.get(connectionId);
    if (at === undefined) return;
    this.open.delete(connectionId);
    this.closedMs += this.now() - at;
  }

  // ---- Lambda -----------------------------------------------------------------------------------
  /** Wraps a function's invoke so each invocation is counted with its wall time. */
  meterInvoke<E, R, O>(handler: HandlerName, memoryMb: number, invoke: (event: E, opts?: O) => Promise<R>): (event: E, opts?: O) => Promise<R> {
    return async (event, opts) => {
      const started = performance.now();
      this.running++;
      try {
        return await invoke(event, opts);
      } finally {
        this.running--;
        const ms = performance.now() - started;
        const f = (this.counts.lambda[handler] ??= { invocations: 0, durationMs: 0, billedMs: 0, memoryMb });
        f.invocations++;
        f.durationMs += ms;
        f.billedMs += Math.max(1, Math.ceil(ms));
      }
    };
  }

  // ---- DynamoDB ---------------------------------------------------------------------------------
  dynamodb(operation: string, readUnits: number, writeUnits: number): void {
    const d = this.counts.dynamodb;
    d.requests++;
    d.byOperation[operation] = (d.byOperation[operation] ?? 0) + 1;
    d.readUnits += readUnits;
    d.writeUnits += writeUnits;
  }

  // ---- SQS --------------------------------------------------------------------------------------
  sqs(action: string, payloadBytes: number, emptyReceive: boolean): void {
    const s = this.counts.sqs;
    s.requests += Math.max(1, Math.ceil(payloadBytes / SQS_CHUNK));
    s.byAction[action] = (s.byAction[action] ?? 0) + 1;
    if (emptyReceive) s.emptyReceives++;
  }

  /** Invocations started and not finished yet. */
  inFlight(): number {
    return this.running;
  }

  /** A copy of the counts so far; connection minutes include the connections still open. */
  snapshot(): Usage {
    const u = structuredClone(this.counts);
    const t = this.now();
    let openMs = 0;
    for (const at of this.open.values()) openMs += t - at;
    u.apigw.connectionMinutes = (this.closedMs + openMs) / 60_000;
    return u;
  }
}

/** What happened between two snapshots of one meter. */
export function usageBetween(before: Usage, after: Usage): Usage {
  const d = emptyUsage();
  for (const [h, a] of Object.entries(after.lambda) as Array<[HandlerName, FunctionUsage]>) {
    const b = before.lambda[h];
    const invocations = a.invocations - (b?.invocations ?? 0);
    if (invocations > 0) {
      d.lambda[h] = { invocations, durationMs: a.durationMs - (b?.durationMs ?? 0), billedMs: a.billedMs - (b?.billedMs ?? 0), memoryMb: a.memoryMb };
    }
  }
  const diff = (x: Record<string, number>, y: Record<string, number>) =>
    Object.fromEntries(Object.entries(y).map(([k, v]) => [k, v - (x[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
  d.dynamodb = {
    readUnits: after.dynamodb.readUnits - before.dynamodb.readUnits,
    writeUnits: after.dynamodb.writeUnits - before.dynamodb.writeUnits,
    requests: after.dynamodb.requests - before.dynamodb.requests,
    byOperation: diff(before.dynamodb.byOperation, after.dynamodb.byOperation),
  };
  d.sqs = {
    requests: after.sqs.requests - before.sqs.requests,
    emptyReceives: after.sqs.emptyReceives - before.sqs.emptyReceives,
    byAction: diff(before.sqs.byAction, after.sqs.byAction),
  };
  d.apigw = {
    messagesIn: after.apigw.messagesIn - before.apigw.messagesIn,
    messagesOut: after.apigw.messagesOut - before.apigw.messagesOut,
    connectionMinutes: after.apigw.connectionMinutes - before.apigw.connectionMinutes,
    connections: after.apigw.connections - before.apigw.connections,
  };
  return d;
}

/** Two windows' usage added up. */
export function sumUsage(a: Usage, b: Usage): Usage {
  const add = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const lambda: Usage['lambda'] = structuredClone(a.lambda);
  for (const [h, f] of Object.entries(b.lambda) as Array<[HandlerName, NonNullable<Usage['lambda'][HandlerName]>]>) {
    const e = lambda[h];
    lambda[h] = e ? { invocations: e.invocations + f.invocations, durationMs: e.durationMs + f.durationMs, billedMs: e.billedMs + f.billedMs, memoryMb: f.memoryMb } : { ...f };
  }
  return {
    lambda,
    dynamodb: { readUnits: a.dynamodb.readUnits + b.dynamodb.readUnits, writeUnits: a.dynamodb.writeUnits + b.dynamodb.writeUnits, requests: a.dynamodb.requests + b.dynamodb.requests, byOperation: add(a.dynamodb.byOperation, b.dynamodb.byOperation) },
    sqs: { requests: a.sqs.requests + b.sqs.requests, emptyReceives: a.sqs.emptyReceives + b.sqs.emptyReceives, byAction: add(a.sqs.byAction, b.sqs.byAction) },
    apigw: {
      messagesIn: a.apigw.messagesIn + b.apigw.messagesIn,
      messagesOut: a.apigw.messagesOut + b.apigw.messagesOut,
      connectionMinutes: a.apigw.connectionMinutes + b.apigw.connectionMinutes,
      connections: a.apigw.connections + b.apigw.connections,
    },
  };
}

// ---- the HTTP stand-ins -------------------------------------------------------------------------

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Calls `done(head, tail, bytes)` once the response is sent: its first and last bytes, and its size. */
function watchResponse(res: ServerResponse, done: (head: string, tail: string, bytes: number) => void, keep = 1024): void {
  let head = Buffer.alloc(0);
  let tail = Buffer.alloc(0);
  let bytes = 0;
  const take = (chunk: unknown, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    bytes += b.length;
    if (head.length < keep) head = Buffer.concat([head, b.subarray(0, keep - head.length)]);
    tail = Buffer.concat([tail, b]).subarray(-keep);
  };
  const write = res.write.bind(res) as (...a: unknown[]) => boolean;
  const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
  res.write = ((...a: unknown[]) => (take(a[0], a[1]), write(...a))) as typeof res.write;
  res.end = ((...a: unknown[]) => (take(a[0], a[1]), end(...a))) as typeof res.end;
  res.once('finish', () => done(head.toString('utf8'), tail.toString('utf8'), bytes));
}

/** The ConsumedCapacity entries of a dynalite response: one object, or one per table. */
function consumedCapacity(tail: string, table: string): Array<{ units: number; table: string }> {
  // dynalite writes ConsumedCapacity after the items, with ReturnConsumedCapacity TOTAL as flat objects.
  const m = /"ConsumedCapacity":(\[[^\]]*\]|\{[^{}]*\})/.exec(tail);
  if (!m) return [];
  const parsed = JSON.parse(m[1]) as { CapacityUnits?: number; TableName?: string } | Array<{ CapacityUnits?: number; TableName?: string }>;
  return (Array.isArray(parsed) ? parsed : [parsed]).map((c) => ({ units: c.CapacityUnits ?? 0, table: c.TableName ?? table }));
}

/**
 * dynalite's request handler, metered. Each request is made to return its ConsumedCapacity
 * (dynalite computes it from item sizes by DynamoDB's rules). dynalite counts writes to the
 * table only; DynamoDB also charges each global secondary index the item is written to, so a
 * write is counted once more per index of its table (`indexesOf`: every hermes row carries the
 * keys of its table's indexes; a delete of a row that was not there is counted as if it had
 * been). A conditional write that fails still costs a write unit. The responses keep the ConsumedCapacity field; SDK callers ignore what they did not ask for.
 */
export function meterDynamo(handler: Handler, meter: UsageMeter, indexesOf: (table: string) => number): Handler {
  return (req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.split('.')[1] ?? 'unknown';
    const chunks: Buffer[] = [];
    // Buffer the body, add ReturnConsumedCapacity, and hand dynalite a request that replays it.
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      let table = '';
      try {
        const data = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        table = typeof data.TableName === 'string' ? data.TableName : '';
        if (data.ReturnConsumedCapacity === undefined || data.ReturnConsumedCapacity === 'NONE') {
          data.ReturnConsumedCapacity = 'TOTAL';
          body = Buffer.from(JSON.stringify(data));
        }
      } catch {
        // not JSON: dynalite answers the error
      }
      watchResponse(res, (head, tail) => {
        const isWrite = /^(PutItem|DeleteItem|UpdateItem|BatchWriteItem|TransactWriteItems)$/.test(operation);
        let read = 0;
        let write = 0;
        const caps = consumedCapacity(tail, table);
        for (const c of caps) {
          if (isWrite) write += c.units * (1 + indexesOf(c.table));
          else read += c.units;
        }
        if (isWrite && !caps.length && /ConditionalCheckFailed/.test(head)) write += 1;
        meter.dynamodb(operation, read, write);
      });
      handler(replayRequest(req, body), res);
    });
  };
}

/** A request object dynalite reads like the original: same headers, url and method, the given body. */
function replayRequest(req: IncomingMessage, body: Buffer): IncomingMessage {
  const listeners = new Map<string, Array<(arg?: unknown) => void>>();
  const fake = {
    headers: { ...req.headers, 'content-length': String(body.length) },
    method: req.method,
    url: req.url,
    socket: req.socket,
    on(event: string, fn: (arg?: unknown) => void) {
      (listeners.get(event) ?? listeners.set(event, []).get(event)!).push(fn);
      return fake;
    },
    removeAllListeners() {
      listeners.clear();
      return fake;
    },
  };
  setImmediate(() => {
    for (const fn of listeners.get('data') ?? []) fn(body);
    for (const fn of listeners.get('end') ?? []) fn();
  });
  return fake as unknown as IncomingMessage;
}

/**
 * local-aws-sqs's request handler, metered: one request per call and per 64 KB of its payload
 * (the larger of request and response body); a ReceiveMessage that returned nothing is also
 * counted as an empty receive (the local poller short-polls; Lambda's long-polls, docs/bench.md).
 */
export function meterSqs<H extends (req: IncomingMessage, res: ServerResponse) => Promise<void>>(handler: H, meter: UsageMeter): H {
  return (async (req: IncomingMessage, res: ServerResponse) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith('AmazonSQS.') ? target.slice('AmazonSQS.'.length) : 'query-protocol';
    const requestBytes = Number(req.headers['content-length'] ?? 0) || 0;
    watchResponse(res, (head, _tail, bytes) => {
      const empty = action === 'ReceiveMessage' && !/"Messages"\s*:\s*\[\s*\{/.test(head);
      meter.sqs(action, Math.max(requestBytes, bytes), empty);
    });
    return handler(req, res);
  }) as H;
}
