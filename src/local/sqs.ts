/**
 * Local SQS: local-aws-sqs (speaks both the JSON and the query protocol, so the SDK v3 and the
 * AWS CLI work), with the stage's queues as the stage definition declares them
 * (src/stack/definition.ts: retention, visibility, redrive).
 */
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import { bindPort, closeServer } from './bind.js';
import { persistQueues, type QueuePersistence, type SqsServiceLike } from './sqs-persistence.js';
import { meterSqs, type UsageMeter } from './usage.js';
import type { ResourceNames } from '../stack/names.js';
import { QUEUES, QUEUE_ORDER, sqsAttributes, type QueueDefinition, type QueueKey } from '../stack/definition.js';

export interface LocalSqs {
  endpoint: string;
  port: number;
  /**
   * Calls `listener` after every request that may have made a message receivable (SendMessage,
   * SendMessageBatch, a visibility change, a redrive; any query-protocol request, whose action
   * is in a body we do not read). The server runs in this process, so the event source's
   * pollers can rest while the queue is empty and still start at once. Returns the unsubscribe.
   */
  onMessagesAvailable(listener: () => void): () => void;
  /**
   * With `persistFile`: puts the messages saved there back into the queues that exist now
   * (call it after ensureQueues); returns how many. Without it: 0.
   */
  restoreQueues(): number;
  /** Stops taking requests; with `persistFile`, saves the queues one last time. */
  close(): Promise<void>;
}

/** JSON-protocol actions (x-amz-target `AmazonSQS.<action>`) that cannot make a message receivable. */
const QUIET_ACTIONS = new Set([
  'ReceiveMessage', 'DeleteMessage', 'DeleteMessageBatch', 'GetQueueAttributes', 'GetQueueUrl', 'ListQueues',
  'ListQueueTags', 'ListDeadLetterSourceQueues', 'ListMessageMoveTasks', 'CreateQueue', 'SetQueueAttributes',
  'TagQueue', 'UntagQueue', 'AddPermission', 'RemovePermission', 'PurgeQueue', 'DeleteQueue',
]);

function mayMakeMessagesAvailable(req: IncomingMessage): boolean {
  const target = req.headers['x-amz-target'];
  if (typeof target !== 'string') return true;
  return !QUIET_ACTIONS.has(target.slice(target.lastIndexOf('.') + 1));
}

/** With a meter, every request is counted as SQS bills it (src/local/usage.ts). */
export async function startSqs(opts: {
  host: string;
  port: number;
  region: string;
  /** Keep the queues' messages in this file across restarts (src/local/sqs-persistence.ts). */
  persistFile?: string;
  onError?: (message: string) => void;
  meter?: UsageMeter;
}): Promise<LocalSqs> {
  const { createRequestHandler } = await import('local-aws-sqs');
  const { createServer } = await import('node:http');
  // We own the server so a busy port is reported like the others'; the handler is made after
  // listening because queue URLs embed the port, which is only known then when port is 0.
  let handle: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  const listeners = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    if (listeners.size && mayMakeMessagesAvailable(req)) {
      res.once('finish', () => {
        for (const l of listeners) l();
      });
    }
    handle!(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const port = await bindPort(server, opts.port, opts.host, 'SQS', '--sqs-port');
  const created = createRequestHandler({
    region: opts.region,
    hostname: opts.host,
    port,
    emulateQueueCreationLifecycle: false,
    validateDlqDestination: true,
  });
  handle = opts.meter ? meterSqs(created.requestHandler, opts.meter) : created.requestHandler;
  const persistence: QueuePersistence | undefined = opts.persistFile
    ? persistQueues(created.service as unknown as SqsServiceLike, opts.persistFile, opts.onError)
    : undefined;
  return {
    endpoint: `http://${opts.host}:${port}`,
    port,
    onMessagesAvailable(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    restoreQueues: () => persistence?.restore() ?? 0,
    async close() {
      await closeServer(server);
      persistence?.stop();
    },
  };
}

export interface StageQueues {
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  dlqArn: string;
}

/** Test-only departures from the definition: shorter visibility, fewer receives before the DLQ. */
export interface QueueOverrides {
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
}

/** Create the stage's queues (CreateQueue is idempotent for equal attributes), dead-letter queue first. */
export async function ensureQueues(
  sqs: SQSClient,
  names: ResourceNames,
  overrides: QueueOverrides = {},
  definitions: Record<QueueKey, QueueDefinition> = QUEUES,
): Promise<StageQueues> {
  const arns = {} as Record<QueueKey, string>;
  const urls = {} as Record<QueueKey, string>;
  for (const key of QUEUE_ORDER) {
    const q: QueueDefinition = { ...definitions[key] };
    if (overrides.visibilityTimeoutSeconds !== undefined && q.visibilityTimeoutSeconds !== undefined) q.visibilityTimeoutSeconds = overrides.visibilityTimeoutSeconds;
    if (overrides.maxReceiveCount !== undefined && q.deadLetter) q.deadLetter = { ...q.deadLetter, maxReceiveCount: overrides.maxReceiveCount };
    const created = await sqs.send(new CreateQueueCommand({ QueueName: names.queueName(key), Attributes: sqsAttributes(q, (k) => arns[k]) }));
    urls[key] = created.QueueUrl!;
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: urls[key], AttributeNames: ['QueueArn'] }));
    arns[key] = attrs.Attributes!.QueueArn!;
  }
  return { queueUrl: urls.messages, queueArn: arns.messages, dlqUrl: urls.dlq, dlqArn: arns.dlq };
}
