/**
 * Local SQS: local-aws-sqs (speaks both the JSON and the query protocol, so the SDK v3 and the
 * AWS CLI work), with the stage's queue and its dead-letter queue, redrive after 5 receives.
 */
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import { listen, closeServer } from './listen.js';
import type { ResourceNames } from '../core/names.js';

export const MAX_RECEIVE_COUNT = 5;

export interface LocalSqs {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

export async function startSqs(opts: { host: string; port: number; region: string }): Promise<LocalSqs> {
  const { createRequestHandler } = await import('local-aws-sqs');
  const { createServer } = await import('node:http');
  // We own the server so a busy port is reported like the others'; the handler is made after
  // listening because queue URLs embed the port, which is only known then when port is 0.
  let handle: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  const server: Server = createServer((req, res) => {
    handle!(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const port = await listen(server, opts.port, opts.host, 'SQS', '--sqs-port');
  handle = createRequestHandler({
    region: opts.region,
    hostname: opts.host,
    port,
    emulateQueueCreationLifecycle: false,
    validateDlqDestination: true,
  }).requestHandler;
  return { endpoint: `http://${opts.host}:${port}`, port, close: () => closeServer(server) };
}

export interface StageQueues {
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  dlqArn: string;
}

export async function ensureQueues(
  sqs: SQSClient,
  names: ResourceNames,
  opts: { visibilityTimeoutSeconds: number; maxReceiveCount?: number },
): Promise<StageQueues> {
  const arnOf = async (url: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: names.dlq, Attributes: { MessageRetentionPeriod: '1209600' } }))).QueueUrl!;
  const dlqArn = await arnOf(dlqUrl);
  const queueUrl = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: names.queue,
        Attributes: {
          VisibilityTimeout: String(opts.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: opts.maxReceiveCount ?? MAX_RECEIVE_COUNT }),
        },
      }),
    )
  ).QueueUrl!;
  return { queueUrl, queueArn: await arnOf(queueUrl), dlqUrl, dlqArn };
}
