/**
 * Persisted local queues: local-aws-sqs keeps its messages in memory only, so in persisted
 * mode `hermes dev` saves every queue's messages (body, message attributes, receive count, sent
 * and first-receive times) to one file in the state dir and puts them back at the next start.
 *
 * How it sees the messages: local-aws-sqs keeps them in private fields, but every message
 * enters a queue through the queue's `newRecord` (send, batch send, a redrive move, a restore)
 * and leaves through `delete`, `clearRecords`, a redrive move into the dead-letter queue (which
 * arrives there with `DeadLetterQueueSourceArn`) or its retention period. Wrapping those keeps
 * a mirror of the queue's own entry objects, whose receive counts local-aws-sqs updates in
 * place; the mirror is what gets written.
 *
 * When: at most once a second while something changed, and at shutdown, atomically (a temporary
 * file renamed over the old one), mode 0600. So after a clean stop nothing is lost; after
 * `kill -9` the changes of the last second at most are: messages sent in it are missing, and
 * messages deleted in it come back (a duplicate, which at-least-once delivery allows). Messages
 * that were in flight (received, not yet deleted) come back visible at once: the process that
 * had them is gone, as if their visibility timeout had run out.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writePrivateFile } from '../config/private-file.js';

/** The parts of local-aws-sqs's Queue this relies on (its package is pinned in the lockfile). */
interface Entry {
  visible: boolean;
  delayed: boolean;
  record: {
    MessageId: string;
    MessageBody: string;
    MessageAttributes?: Record<string, { DataType: string; StringValue?: string; BinaryValue?: unknown }>;
    attributes: Record<string, string>;
  };
}
interface SqsQueue {
  QueueName: string;
  MessageRetentionPeriod: number;
  newRecord(record: Entry['record'], delay?: number): Entry;
  setRecord(input: object, messageId?: string): Entry;
  delete(receiptHandle: string): boolean;
  clearRecords(): void;
  receive(opts: object): Promise<unknown[]>;
  changeVisibility(receiptHandle: string, timeout: string): boolean;
}
export interface SqsServiceLike {
  Queues: SqsQueue[];
}

interface SavedMessage {
  id: string;
  body: string;
  messageAttributes?: Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>;
  /** ApproximateReceiveCount, SentTimestamp, ApproximateFirstReceiveTimestamp, SenderId, AWSTraceHeader, DeadLetterQueueSourceArn. */
  attributes: Record<string, string>;
}
interface SavedQueues {
  version: 1;
  savedAt: string;
  queues: Record<string, SavedMessage[]>;
}

/** System attributes a message keeps across a restart, in the form SendMessage takes them. */
const SYSTEM_ATTRIBUTES = ['AWSTraceHeader', 'DeadLetterQueueSourceArn'];
const KEPT_ATTRIBUTES = ['ApproximateReceiveCount', 'SentTimestamp', 'ApproximateFirstReceiveTimestamp', 'SenderId', ...SYSTEM_ATTRIBUTES];

const SAVE_EVERY_MS = 1000;

export interface QueuePersistence {
  /** Puts the saved messages back into the queues that exist now; returns how many. */
  restore(): number;
  /** Writes the file now if anything changed since the last write. */
  flush(): void;
  stop(): void;
}

/** The message id inside a local-aws-sqs receipt handle (base64 of a UUID and a JSON object). */
function messageIdOf(receiptHandle: string): string | undefined {
  try {
    const text = Buffer.from(receiptHandle, 'base64').toString('utf8');
    return (JSON.parse(text.slice(text.indexOf('{'))) as { MessageId?: string }).MessageId;
  } catch {
    return undefined;
  }
}

function binaryToBase64(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  return undefined;
}

export function persistQueues(service: SqsServiceLike, file: string, onError: (message: string) => void = () => {}): QueuePersistence {
  const mirrors = new Map<string, Map<string, Entry>>();
  let changes = 0;
  let written = 0;
  const changed = () => void changes++;
  const mirrorOf = (name: string) => {
    let m = mirrors.get(name);
    if (!m) mirrors.set(name, (m = new Map()));
    return m;
  };

  const watch = (q: SqsQueue) => {
    if ((q as unknown as { __hermesWatched?: boolean }).__hermesWatched) return;
    (q as unknown as { __hermesWatched?: boolean }).__hermesWatched = true;
    const mirror = mirrorOf(q.QueueName);
    const newRecord = q.newRecord;
    q.newRecord = (record, delay) => {
      const entry = newRecord(record, delay);
      mirror.set(entry.record.MessageId, entry);
      // A redrive move arrives here marked with its source, and has left that queue.
      const source = entry.record.attributes?.DeadLetterQueueSourceArn;
      if (source) mirrors.get(source.slice(source.lastIndexOf(':') + 1))?.delete(entry.record.MessageId);
      changed();
      return entry;
    };
    const del = q.delete;
    q.delete = function (this: SqsQueue, handle: string) {
      const ok = del.call(this, handle);
      const id = messageIdOf(handle);
      if (id) mirror.delete(id);
      changed();
      return ok;
    };
    const clear = q.clearRecords;
    q.clearRecords = function (this: SqsQueue) {
      clear.call(this);
      mirror.clear();
      changed();
    };
    // Receive counts and first-receive times change in place.
    const receive = q.receive;
    q.receive = async function (this: SqsQueue, opts: object) {
      const got = await receive.call(this, opts);
      if (got.length) changed();
      return got;
    };
  };

  const snapshot = (): SavedQueues => {
    const now = Date.now();
    const queues: Record<string, SavedMessage[]> = {};
    for (const q of service.Queues) {
      const mirror = mirrors.get(q.QueueName);
      if (!mirror) continue;
      const out: SavedMessage[] = [];
      for (const [id, e] of mirror) {
        // Past its retention period local-aws-sqs has dropped it without telling.
        if (now - Number(e.record.attributes.SentTimestamp) > q.MessageRetentionPeriod * 1000) {
          mirror.delete(id);
          continue;
        }
        const attributes: Record<string, string> = {};
        for (const k of KEPT_ATTRIBUTES) if (e.record.attributes[k]) attributes[k] = e.record.attributes[k];
        const saved: SavedMessage = { id, body: e.record.MessageBody, attributes };
        if (e.record.MessageAttributes && Object.keys(e.record.MessageAttributes).length) {
          saved.messageAttributes = Object.fromEntries(
            Object.entries(e.record.MessageAttributes).map(([k, v]) => [
              k,
              { DataType: v.DataType, ...(v.StringValue !== undefined ? { StringValue: v.StringValue } : {}), ...(v.BinaryValue !== undefined ? { BinaryValue: binaryToBase64(v.BinaryValue) } : {}) },
            ]),
          );
        }
        out.push(saved);
      }
      queues[q.QueueName] = out;
    }
    return { version: 1, savedAt: new Date(now).toISOString(), queues };
  };

  const write = () => {
    try {
      writePrivateFile(file, JSON.stringify(snapshot()));
    } catch (err) {
      onError(`could not save the queues to ${file}: ${(err as Error).message}`);
    }
  };

  const flush = () => {
    for (const q of service.Queues) watch(q);
    if (changes === written) return;
    const now = changes;
    write();
    written = now;
  };

  const timer = setInterval(flush, SAVE_EVERY_MS);
  timer.unref();

  return {
    restore() {
      for (const q of service.Queues) watch(q);
      if (!existsSync(file)) return 0;
      let saved: SavedQueues;
      try {
        saved = JSON.parse(readFileSync(file, 'utf8')) as SavedQueues;
      } catch (err) {
        onError(`the saved queues in ${file} cannot be read (${(err as Error).message}); starting with empty queues`);
        return 0;
      }
      let n = 0;
      for (const q of service.Queues) {
        for (const m of saved.queues?.[q.QueueName] ?? []) {
          const system = Object.fromEntries(
            SYSTEM_ATTRIBUTES.filter((k) => m.attributes[k]).map((k) => [k, { DataType: 'String', StringValue: m.attributes[k] }]),
          );
          const entry = q.setRecord(
            {
              MessageBody: m.body,
              ...(m.messageAttributes ? { MessageAttributes: m.messageAttributes } : {}),
              ...(Object.keys(system).length ? { MessageSystemAttributes: system } : {}),
            },
            m.id,
          );
          // The counts and times it had, not those of a new message.
          for (const k of ['ApproximateReceiveCount', 'SentTimestamp', 'ApproximateFirstReceiveTimestamp', 'SenderId']) {
            if (m.attributes[k] !== undefined) entry.record.attributes[k] = m.attributes[k];
          }
          n++;
        }
      }
      written = changes; // what is in memory now is what the file holds
      return n;
    },
    flush,
    stop() {
      clearInterval(timer);
      flush();
    },
  };
}
