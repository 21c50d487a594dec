/**
 * The dead-letter queue, for operators: look at dead letters without consuming them, move them
 * back to the main queue, or delete them. Two kinds land there:
 * - messages send-message moved itself because they can never be delivered (not JSON, no room,
 *   too large); they carry the reason in the `hermes_error` message attribute (core/dead-letter.ts
 *   writes it);
 * - messages SQS moved by redrive after `maxReceiveCount` failed receives (transient failures
 *   that kept failing); they carry no hermes attribute.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
  UnsupportedOperation,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { HermesError } from './errors.js';
import { describeError } from './management.js';
import { HERMES_ERROR_ATTRIBUTE, HERMES_SOURCE_ID_ATTRIBUTE } from './dead-letter.js';

type Sqs = Pick<SQSClient, 'send'>;

export interface QueueDepth {
  /** ApproximateNumberOfMessages: waiting to be received. */
  visible: number;
  /** ApproximateNumberOfMessagesNotVisible: received, not yet deleted. */
  inFlight: number;
  /** ApproximateNumberOfMessagesDelayed. */
  delayed: number;
}

export async function queueDepth(sqs: Sqs, queueUrl: string): Promise<QueueDepth> {
  const res = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const n = (k: string) => Number(res.Attributes?.[k as never] ?? 0) || 0;
  return { visible: n('ApproximateNumberOfMessages'), inFlight: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
}

async function queueAttribute(sqs: Sqs, queueUrl: string, name: 'QueueArn' | 'RedrivePolicy'): Promise<string | undefined> {
  const res = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [name] }));
  return res.Attributes?.[name];
}

/** The main queue's redrive `maxReceiveCount`, or undefined when it has no redrive policy. */
export async function maxReceiveCountOf(sqs: Sqs, queueUrl: string): Promise<number | undefined> {
  const policy = await queueAttribute(sqs, queueUrl, 'RedrivePolicy');
  if (!policy) return undefined;
  try {
    const n = Number((JSON.parse(policy) as { maxReceiveCount?: unknown }).maxReceiveCount);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export interface DeadLetter {
  messageId: string;
  /** ApproximateReceiveCount as SQS reports it (looking at a message counts as a receive). */
  receiveCount: number;
  /** When the message entered the dead-letter queue (SentTimestamp), ISO 8601. */
  sentAt?: string;
  /**
   * `hermes`: send-message dead-lettered it with a reason; `redrive`: SQS moved it after too many
   * receives (it carries DeadLetterQueueSourceArn); `unknown`: neither, e.g. sent to the
   * dead-letter queue directly, so its reason cannot be told.
   */
  origin: 'hermes' | 'redrive' | 'unknown';
  reason: string;
  /** For `hermes` dead letters: the message id it had on the main queue. */
  sourceMessageId?: string;
  body: string;
}

export function toDeadLetter(m: Message, maxReceiveCount?: number): DeadLetter {
  const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue;
  const receiveCount = Number(m.Attributes?.ApproximateReceiveCount ?? 0) || 0;
  const sent = Number(m.Attributes?.SentTimestamp);
  const error = attr(HERMES_ERROR_ATTRIBUTE);
  const common = {
    messageId: m.MessageId ?? '',
    receiveCount,
    ...(Number.isFinite(sent) && sent > 0 ? { sentAt: new Date(sent).toISOString() } : {}),
    body: m.Body ?? '',
  };
  if (error !== undefined) {
    const sourceMessageId = attr(HERMES_SOURCE_ID_ATTRIBUTE);
    return { ...common, origin: 'hermes', reason: error, ...(sourceMessageId ? { sourceMessageId } : {}) };
  }
  // SQS marks what its redrive moved with the queue it came from.
  const source = m.Attributes?.DeadLetterQueueSourceArn;
  if (source) {
    const from = source.slice(source.lastIndexOf(':') + 1);
    return { ...common, origin: 'redrive', reason: `exceeded maxReceiveCount (${maxReceiveCount ?? receiveCount} receives) on ${from}` };
  }
  return {
    ...common,
    origin: 'unknown',
    reason: `reason unknown: neither hermes nor the queue's redrive put it here (sent to the dead-letter queue directly?); received ${receiveCount} time${receiveCount === 1 ? '' : 's'} here`,
  };
}

const ALL_ATTRIBUTES = {
  AttributeNames: ['All' as const], // what older endpoints (and local-aws-sqs) read
  MessageSystemAttributeNames: ['All' as const],
  MessageAttributeNames: ['All'],
};

async function changeVisibility(sqs: Sqs, queueUrl: string, handles: Map<string, string>, seconds: number): Promise<string[]> {
  const failed: string[] = [];
  const entries = [...handles.entries()];
  for (let i = 0; i < entries.length; i += 10) {
    const chunk = entries.slice(i, i + 10);
    try {
      const res = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map(([, handle], j) => ({ Id: String(j), ReceiptHandle: handle, VisibilityTimeout: seconds })),
        }),
      );
      for (const f of res.Failed ?? []) failed.push(chunk[Number(f.Id)][0]);
    } catch {
      failed.push(...chunk.map(([id]) => id));
    }
  }
  return failed;
}

interface WalkOptions {
  /** Stop once this many distinct messages were received. */
  max: number;
  /** How long a received message stays hidden while the walk goes on. */
  visibilityTimeoutSeconds: number;
  waitSeconds?: number;
  signal?: AbortSignal;
  /** After each batch, with how many were deleted so far. */
  onProgress?: (deleted: number) => void;
}

interface WalkResult {
  /** Distinct messages received. */
  seen: number;
  deleted: number;
  deleteFailed: Array<{ messageId: string; error: string }>;
  /** Message ids that could not be made visible again; they reappear on their own. */
  notRestored: string[];
}

/**
 * The one receive-and-delete loop behind list, redrive --copy and purge. It receives batches of
 * messages it has not seen yet until `max` were seen, a receive brings nothing new (the queue is
 * exhausted, or the first ones reappeared after a slow run) or the signal aborts. `handle` gets
 * each batch of new messages and returns those to delete; they are deleted only after it
 * returned (so never before a copy was sent). Everything received and not deleted is made
 * visible again when the walk ends, also when it fails midway, so it consumes only what
 * `handle` chose. A receive with VisibilityTimeout 0 would be simpler but returns the same
 * messages over and over.
 */
async function walkDeadLetters(
  deps: { sqs: Sqs; dlqUrl: string },
  opts: WalkOptions,
  handle: (batch: Message[]) => Promise<Message[]>,
): Promise<WalkResult> {
  const result: WalkResult = { seen: 0, deleted: 0, deleteFailed: [], notRestored: [] };
  const seen = new Set<string>();
  const held = new Map<string, string>(); // received, not deleted: the latest receipt handle (only it is valid)
  try {
    while (seen.size < opts.max && !opts.signal?.aborted) {
      const res = await deps.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: deps.dlqUrl,
          MaxNumberOfMessages: Math.min(10, opts.max - seen.size),
          VisibilityTimeout: opts.visibilityTimeoutSeconds,
          WaitTimeSeconds: opts.waitSeconds ?? 1,
          ...ALL_ATTRIBUTES,
        }),
      );
      const fresh: Message[] = [];
      for (const m of res.Messages ?? []) {
        if (!m.MessageId || !m.ReceiptHandle) continue;
        held.set(m.MessageId, m.ReceiptHandle);
        if (!seen.has(m.MessageId)) fresh.push(m);
        seen.add(m.MessageId);
      }
      if (fresh.length === 0) break;
      const doomed = await handle(fresh);
      if (doomed.length) {
        const del = await deps.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: deps.dlqUrl,
            Entries: doomed.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
        for (const ok of del.Successful ?? []) {
          held.delete(doomed[Number(ok.Id)].MessageId!);
          result.deleted++;
        }
        for (const f of del.Failed ?? []) {
          result.deleteFailed.push({ messageId: doomed[Number(f.Id)].MessageId!, error: `${f.Code}: ${f.Message ?? ''}`.trim() });
        }
      }
      opts.onProgress?.(result.deleted);
    }
  } finally {
    result.seen = seen.size;
    result.notRestored = await changeVisibility(deps.sqs, deps.dlqUrl, held, 0);
  }
  return result;
}

export interface PeekOptions {
  limit: number;
  maxReceiveCount?: number;
  /** How long the listed messages are hidden if making them visible again fails. */
  visibilityTimeoutSeconds?: number;
  /** Long poll per receive: short polls may answer empty while messages exist. */
  waitSeconds?: number;
  /**
   * How many are waiting (ApproximateNumberOfMessages): the listing stops once it has seen
   * that many, and asks for no more per receive, since some endpoints' long polls wait for a
   * full batch.
   */
  expected?: number;
}

export interface PeekResult {
  messages: DeadLetter[];
  /** Message ids that could not be made visible again; they reappear on their own. */
  notRestored: string[];
}

/** Receives up to `limit` dead letters and makes every one of them visible again: listing consumes nothing. */
export async function peekDeadLetters(deps: { sqs: Sqs; dlqUrl: string }, opts: PeekOptions): Promise<PeekResult> {
  const messages: DeadLetter[] = [];
  const walk = await walkDeadLetters(
    deps,
    {
      max: opts.expected ? Math.min(opts.limit, opts.expected) : opts.limit,
      visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds ?? 30,
      waitSeconds: opts.waitSeconds,
    },
    async (batch) => {
      messages.push(...batch.map((m) => toDeadLetter(m, opts.maxReceiveCount)));
      return [];
    },
  );
  return { messages, notRestored: walk.notRestored };
}

export interface RedriveDeps {
  sqs: Sqs;
  dlqUrl: string;
  queueUrl: string;
}

export interface RedriveOptions {
  /** Skip StartMessageMoveTask and copy message by message. */
  copy?: boolean;
  pollMs?: number;
  signal?: AbortSignal;
  onProgress?: (moved: number, total: number) => void;
}

export interface RedriveResult {
  method: 'move-task' | 'copy';
  /** Dead letters waiting when the redrive began (approximate on AWS). */
  total: number;
  moved: number;
  /** COMPLETED, or RUNNING when the wait was interrupted (the task goes on), FAILED, CANCELLED. */
  status: 'COMPLETED' | 'RUNNING' | 'FAILED' | 'CANCELLED';
  failureReason?: string;
  failed: Array<{ messageId: string; error: string }>;
}

function moveTasksUnsupported(err: unknown): boolean {
  const name = (err as Error)?.name;
  return err instanceof UnsupportedOperation || name === 'InvalidAction' || name === 'UnknownOperationException';
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * Moves every dead letter back to the main queue: with SQS's own move task where the endpoint
 * has one (it keeps the message attributes), else by copying. Malformed messages will be
 * dead-lettered again by send-message, with a fresh reason.
 */
export async function redriveDeadLetters(deps: RedriveDeps, opts: RedriveOptions = {}): Promise<RedriveResult> {
  const depth = await queueDepth(deps.sqs, deps.dlqUrl);
  const total = depth.visible;
  if (total === 0) return { method: opts.copy ? 'copy' : 'move-task', total, moved: 0, status: 'COMPLETED', failed: [] };
  if (!opts.copy) {
    const [sourceArn, destinationArn] = await Promise.all([
      queueAttribute(deps.sqs, deps.dlqUrl, 'QueueArn'),
      queueAttribute(deps.sqs, deps.queueUrl, 'QueueArn'),
    ]);
    try {
      // An explicit destination: messages send-message dead-lettered itself have no redrive source.
      await deps.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }));
    } catch (err) {
      if (!moveTasksUnsupported(err)) {
        throw new HermesError(`SQS refused to start moving the dead letters back: ${describeError(err)}`, {
          hint: 'If a move task is already running, wait for it to finish (or cancel it in the SQS console) and try again.',
          cause: err,
        });
      }
      return copyBack(deps, total, opts);
    }
    return waitForMoveTask(deps.sqs, sourceArn!, total, opts);
  }
  return copyBack(deps, total, opts);
}

async function waitForMoveTask(sqs: Sqs, sourceArn: string, total: number, opts: RedriveOptions): Promise<RedriveResult> {
  for (;;) {
    const res = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }));
    const task = res.Results?.[0]; // the most recent task of this source: ours
    const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    const status = (task?.Status ?? 'COMPLETED') as RedriveResult['status'] | 'CANCELLING';
    if (status !== 'RUNNING' && status !== 'CANCELLING') {
      return { method: 'move-task', total, moved, status, ...(task?.FailureReason ? { failureReason: task.FailureReason } : {}), failed: [] };
    }
    opts.onProgress?.(moved, total);
    if (opts.signal?.aborted) return { method: 'move-task', total, moved, status: 'RUNNING', failed: [] };
    await sleep(opts.pollMs ?? 500, opts.signal);
  }
}

/** Without the hermes_* reason attributes, and in the shape SendMessage accepts. */
function attributesToCopy(m: Message): Record<string, MessageAttributeValue> | undefined {
  const out: Record<string, MessageAttributeValue> = {};
  for (const [k, v] of Object.entries(m.MessageAttributes ?? {})) {
    if (k === HERMES_ERROR_ATTRIBUTE || k === HERMES_SOURCE_ID_ATTRIBUTE || !v.DataType) continue;
    out[k] = { DataType: v.DataType, ...(v.StringValue !== undefined ? { StringValue: v.StringValue } : {}), ...(v.BinaryValue ? { BinaryValue: v.BinaryValue } : {}) };
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * Receive → send to the main queue → delete from the DLQ, never deleting before the send
 * succeeded. At most the messages there at the start are moved, so a malformed one that
 * send-message dead-letters again during the run is not moved round in circles.
 */
async function copyBack(deps: RedriveDeps, total: number, opts: RedriveOptions): Promise<RedriveResult> {
  const failed: RedriveResult['failed'] = [];
  const walk = await walkDeadLetters(
    deps,
    { max: total, visibilityTimeoutSeconds: 60, signal: opts.signal, onProgress: (moved) => opts.onProgress?.(moved, total) },
    async (batch) => {
      const sent = await deps.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: deps.queueUrl,
          Entries: batch.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '', MessageAttributes: attributesToCopy(m) })),
        }),
      );
      for (const f of sent.Failed ?? []) {
        failed.push({ messageId: batch[Number(f.Id)].MessageId!, error: `could not send it back: ${f.Code}: ${f.Message ?? ''}`.trim() });
      }
      return (sent.Successful ?? []).map((s) => batch[Number(s.Id)]);
    },
  );
  for (const f of walk.deleteFailed) {
    failed.push({ messageId: f.messageId, error: `sent back, but not deleted from the dead-letter queue (it may be delivered twice): ${f.error}` });
  }
  const cancelled = opts.signal?.aborted && walk.seen < total;
  return { method: 'copy', total, moved: walk.deleted, status: cancelled ? 'CANCELLED' : 'COMPLETED', failed };
}

/**
 * Deletes the dead letters waiting when it starts, by receive + delete rather than PurgeQueue:
 * PurgeQueue may go on deleting for 60 s (local-aws-sqs emulates that too) and allows one call
 * a minute, so it cannot say how many it removed nor be checked right after. Messages in
 * flight (someone is looking at them) are left; they are counted in `inFlight`.
 */
export async function purgeDeadLetters(deps: { sqs: Sqs; dlqUrl: string }, opts: { signal?: AbortSignal } = {}): Promise<PurgeResult> {
  const depth = await queueDepth(deps.sqs, deps.dlqUrl);
  const walk = await walkDeadLetters(deps, { max: depth.visible, visibilityTimeoutSeconds: 30, signal: opts.signal }, async (batch) => batch);
  return { purged: walk.deleted, inFlight: depth.inFlight, failed: walk.deleteFailed };
}

export interface PurgeResult {
  purged: number;
  /** Dead letters that were being looked at (in flight) and so were not purged. */
  inFlight: number;
  failed: Array<{ messageId: string; error: string }>;
}
