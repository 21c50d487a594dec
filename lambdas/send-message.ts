/**
 * send-message: delivers messages to every connection of their room. Two triggers:
 * - SQS: every record of the batch is delivered (the original design read only the first);
 *   a record whose delivery failed transiently is returned in `batchItemFailures` so only it is
 *   retried; a malformed record goes to the dead-letter queue with the reason attached (or,
 *   without a DLQ configured, is failed until the queue's redrive moves it there).
 * - The WebSocket `sendMessage` route: the room and the user come from the authorizer context,
 *   never from the message body.
 * A queue message goes to a room, or to every connection of one user (`to_user_id`). When the
 * stage keeps history, each message is numbered in its stream and kept (src/core/sequencer.ts).
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord, APIGatewayProxyResult, Context } from 'aws-lambda';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { HERMES_ERROR_ATTRIBUTE, HERMES_SOURCE_ID_ATTRIBUTE, sendDeadLetter } from '../src/core/dead-letter.js';
import { answerSender } from '../src/core/answer-sender.js';
import { handlerSettings, type Env } from '../src/core/handler-env.js';
import { handlerDeps, managementEndpointFor, type HandlerDeps, type HandlerOverrides } from '../src/core/handler-deps.js';
import { createDocumentClient, createSqsClient, createManagementClient } from '../src/core/clients.js';
import { parseQueueMessage, type QueueMessage } from '../src/core/envelope.js';
import { deliverMessage, type DeliverResult } from '../src/core/deliver.js';
import { stopTimeFor } from '../src/core/deadline.js';
import { createSequencer, type Sequencer } from '../src/core/sequencer.js';
import { HermesError, LimitError, MalformedMessageError } from '../src/core/errors.js';
import type { ErrorFrame, WebSocketEvent } from '../src/core/ws-event.js';
import { randomUUID } from 'node:crypto';

/** Message attributes written on a dead letter that hermes itself moved there (core/dead-letter.ts). */
export const DEAD_LETTER_ATTRIBUTES = { error: HERMES_ERROR_ATTRIBUTE, sourceMessageId: HERMES_SOURCE_ID_ATTRIBUTE } as const;

/**
 * One sequencer per handler instance, not per invocation: frames of a stream that arrive
 * together (a batch, or invocations the local stack runs at once) are numbered together.
 */
const sequencers = new WeakMap<HandlerDeps, Sequencer | undefined>();
async function sequencerFor(deps: HandlerDeps): Promise<Sequencer | undefined> {
  if (!sequencers.has(deps)) {
    // Only a successful read is kept: deps.history() is tried again after a failure, and so is this.
    const history = await deps.history();
    // Callers that got here together awaited the same read; the first one back makes the sequencer.
    if (!sequencers.has(deps)) sequencers.set(deps, history ? createSequencer(history, { logger: deps.invocationLogger() }) : undefined);
  }
  return sequencers.get(deps);
}

/**
 * With a queue to hand over to, fan-out stops starting posts shortly before the invocation's
 * deadline (core/deliver.ts): the rest of the room goes back on the queue instead of the whole
 * record being retried after a timeout.
 */
async function deliveryDeps(deps: HandlerDeps, endpoint: string, log: Logger, context?: Context) {
  const s = deps.settings;
  return {
    ...(s.queueUrl && context ? { stopAt: stopTimeFor(context.getRemainingTimeInMillis()) } : {}),
    sequencer: await sequencerFor(deps),
    ddb: await deps.ddb(),
    table: s.connectionsTable,
    management: await deps.management(endpoint),
    concurrency: s.fanoutConcurrency,
    connectGraceSeconds: s.connectGraceSeconds,
    shardSize: s.queueUrl ? s.shardSize : 0,
    queueUrl: s.queueUrl,
    sqs: s.queueUrl ? await deps.sqs() : undefined,
    logger: log,
  };
}

/** A record that can never be delivered: to the dead-letter queue with the reason, or failed when there is none. */
async function deadLetter(deps: HandlerDeps, log: Logger, record: SQSRecord, err: MalformedMessageError | LimitError): Promise<void> {
  log.warn('malformed message', { messageId: record.messageId, error: err.message });
  const dlqUrl = deps.settings.dlqUrl;
  // Without a DLQ the record is failed until the queue's redrive moves it there.
  if (!dlqUrl) throw err;
  try {
    await sendDeadLetter(await deps.sqs(), dlqUrl, { body: record.body, sourceMessageId: record.messageId, reason: err.message });
  } catch (dlqErr) {
    log.error('could not move message to the dead-letter queue', { messageId: record.messageId, error: (dlqErr as Error).message });
    throw dlqErr;
  }
}

/** One queue record; a throw fails just this record (it is returned in batchItemFailures). */
async function deliverRecord(deps: HandlerDeps, log: Logger, record: SQSRecord, context?: Context): Promise<void> {
  const started = Date.now();
  const endpoint = deps.settings.managementEndpoint;
  let msg: QueueMessage;
  let result: DeliverResult;
  try {
    msg = parseQueueMessage(record.body);
    if (!endpoint) throw new Error('HERMES_MANAGEMENT_ENDPOINT is not set: the queue trigger cannot reach @connections.');
    // A message without an id keeps the SQS message id across redeliveries, so clients can
    // drop the duplicates that at-least-once delivery brings.
    result = await deliverMessage(await deliveryDeps(deps, endpoint, log, context), msg, msg.id ?? record.messageId);
  } catch (err) {
    if (err instanceof MalformedMessageError || err instanceof LimitError) return deadLetter(deps, log, record, err);
    log.error('delivery failed', { messageId: record.messageId, error: (err as Error).message });
    throw err;
  }
  log[result.failed ? 'warn' : 'info']('delivered', {
    messageId: record.messageId, ...(msg.to_user_id !== undefined ? { toUser: msg.to_user_id } : { room: msg.room_id }),
    ...(result.seq !== undefined ? { seq: result.seq, redelivery: !result.fresh } : {}),
    delivered: result.delivered, pruned: result.pruned, failed: result.failed, shards: result.shards, handedOver: result.handedOver,
    durationMs: Date.now() - started,
    ...(result.failed ? { firstFailure: result.failures[0] } : {}),
  });
  // The whole record is retried: connections that got the frame get it again, with the same id, which clients drop.
  if (result.failed) throw new Error(`${result.failed} of the room's connections could not be reached.`);
}

/**
 * Every record of the batch, in parallel. A new processor per invocation: it keeps the batch
 * on the instance, and the local stack runs invocations of one handler concurrently. With
 * every record failed the response lists them all (Lambda retries just those, i.e. all)
 * instead of Powertools' default of throwing.
 */
function handleQueue(deps: HandlerDeps, event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  const log = deps.invocationLogger(context);
  // Powertools hands each record handler the invocation's context (its deadline) as well.
  return processPartialResponse(event, (record: SQSRecord, ctx?: Context) => deliverRecord(deps, log, record, ctx), new BatchProcessor(EventType.SQS), {
    context,
    throwOnFullBatchFailure: false,
  });
}

async function handleRoute(deps: HandlerDeps, event: WebSocketEvent, context?: Context): Promise<APIGatewayProxyResult> {
  const log = deps.invocationLogger(context);
  const sendError = (frame: ErrorFrame) => answerSender(deps, event, frame, log);
  const ctx = event.requestContext;
  const roomId = ctx.authorizer?.room_id;
  const userId = ctx.authorizer?.user_id;
  if (!roomId || !userId) return { statusCode: 403, body: 'Forbidden' };
  let body: { data?: unknown };
  try {
    body = JSON.parse(event.body ?? '');
  } catch {
    await sendError({ error: 'invalid_json', message: 'The message is not JSON. Send {"action":"sendMessage","data":...}.' });
    return { statusCode: 400, body: 'Bad Request' };
  }
  if (!body || typeof body !== 'object' || !('data' in body)) {
    await sendError({ error: 'missing_data', message: 'sendMessage needs a "data" field: {"action":"sendMessage","data":...}.' });
    return { statusCode: 400, body: 'Bad Request' };
  }
  try {
    const result = await deliverMessage(
      await deliveryDeps(deps, managementEndpointFor(deps.settings, ctx), log, context),
      { room_id: roomId, user_id: userId, data: body.data },
      randomUUID(),
    );
    log.info('broadcast', { room: roomId, connectionId: ctx.connectionId, seq: result.seq, delivered: result.delivered, pruned: result.pruned, failed: result.failed });
    return { statusCode: 200, body: 'OK' };
  } catch (err) {
    if (err instanceof HermesError) {
      await sendError({ error: 'rejected', message: err.message });
      return { statusCode: 400, body: 'Bad Request' };
    }
    throw err;
  }
}

export function createHandler(env: Env, overrides: HandlerOverrides = {}) {
  const deps = handlerDeps(handlerSettings(env), { ddb: createDocumentClient, sqs: createSqsClient, management: createManagementClient }, overrides);
  return async (event: SQSEvent | WebSocketEvent, context?: Context): Promise<SQSBatchResponse | APIGatewayProxyResult> => {
    if ('Records' in event) return handleQueue(deps, event, context);
    return handleRoute(deps, event, context);
  };
}

let cached: ReturnType<typeof createHandler> | undefined;
export const handler = (event: SQSEvent | WebSocketEvent, context: Context) => (cached ??= createHandler(process.env))(event, context);
