/**
 * send-message: delivers messages to every connection of their room. Two triggers:
 * - SQS: every record of the batch is delivered (the original design read only the first);
 *   a record whose delivery failed transiently is returned in `batchItemFailures` so only it is
 *   retried; a malformed record goes to the dead-letter queue with the reason attached (or,
 *   without a DLQ configured, is failed until the queue's redrive moves it there).
 * - The WebSocket `sendMessage` route: the room and the user come from the authorizer context,
 *   never from the message body.
 */
import type { SQSBatchResponse, SQSEvent, APIGatewayProxyResult } from 'aws-lambda';
import { HERMES_ERROR_ATTRIBUTE, HERMES_SOURCE_ID_ATTRIBUTE, sendDeadLetter } from '../src/core/dead-letter.js';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { handlerSettings, type Env } from '../src/core/handler-env.js';
import { handlerDeps, managementEndpointFor, type HandlerDeps, type HandlerOverrides } from '../src/core/handler-deps.js';
import { parseQueueMessage } from '../src/core/envelope.js';
import { deliverMessage } from '../src/core/deliver.js';
import { HermesError, MalformedMessageError } from '../src/core/errors.js';
import type { ErrorFrame, WebSocketEvent } from '../src/core/ws-event.js';
import { randomUUID } from 'node:crypto';

/** Message attributes written on a dead letter that hermes itself moved there (core/dlq.ts). */
export const DEAD_LETTER_ATTRIBUTES = { error: HERMES_ERROR_ATTRIBUTE, sourceMessageId: HERMES_SOURCE_ID_ATTRIBUTE } as const;

async function deliveryDeps(deps: HandlerDeps, endpoint: string) {
  const s = deps.settings;
  return {
    ddb: await deps.ddb(),
    table: s.connectionsTable,
    management: await deps.management(endpoint),
    concurrency: s.fanoutConcurrency,
    connectGraceSeconds: s.connectGraceSeconds,
    shardSize: s.queueUrl ? s.shardSize : 0,
    queueUrl: s.queueUrl,
    sqs: s.queueUrl ? await deps.sqs() : undefined,
    logger: deps.logger,
  };
}

async function handleQueue(deps: HandlerDeps, event: SQSEvent): Promise<SQSBatchResponse> {
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  const endpoint = deps.settings.managementEndpoint;
  const dlqUrl = deps.settings.dlqUrl;
  await Promise.all(
    event.Records.map(async (record) => {
      const log = (level: 'info' | 'warn' | 'error', msg: string, extra: object = {}) =>
        deps.logger[level](JSON.stringify({ level, msg, messageId: record.messageId, ...extra }));
      try {
        const msg = parseQueueMessage(record.body);
        if (!endpoint) throw new Error('HERMES_MANAGEMENT_ENDPOINT is not set: the queue trigger cannot reach @connections.');
        // A message without an id keeps the SQS message id across redeliveries, so clients can
        // drop the duplicates that at-least-once delivery brings.
        const result = await deliverMessage(await deliveryDeps(deps, endpoint), msg, msg.id ?? record.messageId);
        log(result.failed ? 'warn' : 'info', 'delivered', {
          room: msg.room_id, delivered: result.delivered, pruned: result.pruned, failed: result.failed, shards: result.shards,
          ...(result.failed ? { firstFailure: result.failures[0] } : {}),
        });
        if (result.failed) failures.push({ itemIdentifier: record.messageId });
      } catch (err) {
        if (err instanceof MalformedMessageError || (err instanceof HermesError && err.name === 'LimitError')) {
          log('warn', 'malformed message', { error: err.message });
          if (dlqUrl) {
            try {
              await sendDeadLetter(await deps.sqs(), dlqUrl, { body: record.body, sourceMessageId: record.messageId, reason: err.message });
              return;
            } catch (dlqErr) {
              log('error', 'could not move message to the dead-letter queue', { error: (dlqErr as Error).message });
            }
          }
          failures.push({ itemIdentifier: record.messageId });
          return;
        }
        log('error', 'delivery failed', { error: (err as Error).message });
        failures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
}

async function sendError(deps: HandlerDeps, event: WebSocketEvent, frame: ErrorFrame): Promise<void> {
  const management = await deps.management(managementEndpointFor(deps.settings, event.requestContext));
  await management
    .send(new PostToConnectionCommand({ ConnectionId: event.requestContext.connectionId, Data: Buffer.from(JSON.stringify(frame)) }))
    .catch(() => undefined); // the sender may be gone already; nothing else to tell
}

async function handleRoute(deps: HandlerDeps, event: WebSocketEvent): Promise<APIGatewayProxyResult> {
  const ctx = event.requestContext;
  const roomId = ctx.authorizer?.room_id;
  const userId = ctx.authorizer?.user_id;
  if (!roomId || !userId) return { statusCode: 403, body: 'Forbidden' };
  let body: { data?: unknown };
  try {
    body = JSON.parse(event.body ?? '');
  } catch {
    await sendError(deps, event, { error: 'invalid_json', message: 'The message is not JSON. Send {"action":"sendMessage","data":...}.' });
    return { statusCode: 400, body: 'Bad Request' };
  }
  if (!body || typeof body !== 'object' || !('data' in body)) {
    await sendError(deps, event, { error: 'missing_data', message: 'sendMessage needs a "data" field: {"action":"sendMessage","data":...}.' });
    return { statusCode: 400, body: 'Bad Request' };
  }
  try {
    const result = await deliverMessage(
      await deliveryDeps(deps, managementEndpointFor(deps.settings, ctx)),
      { room_id: roomId, user_id: userId, data: body.data },
      randomUUID(),
    );
    deps.logger.info(JSON.stringify({ level: 'info', msg: 'broadcast', room: roomId, delivered: result.delivered, pruned: result.pruned, failed: result.failed }));
    return { statusCode: 200, body: 'OK' };
  } catch (err) {
    if (err instanceof HermesError) {
      await sendError(deps, event, { error: 'rejected', message: err.message });
      return { statusCode: 400, body: 'Bad Request' };
    }
    throw err;
  }
}

export function createHandler(env: Env, overrides: HandlerOverrides = {}) {
  const deps = handlerDeps(handlerSettings(env), overrides);
  return async (event: SQSEvent | WebSocketEvent): Promise<SQSBatchResponse | APIGatewayProxyResult> => {
    if ('Records' in event) return handleQueue(deps, event);
    return handleRoute(deps, event);
  };
}

let cached: ReturnType<typeof createHandler> | undefined;
export const handler = (event: SQSEvent | WebSocketEvent) => (cached ??= createHandler(process.env))(event);
