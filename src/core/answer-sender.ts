/**
 * Answering the one connection whose request a route handler is serving (an error frame, a bad
 * resume): a PostToConnection to the sender only. The sender may have gone already; that is no
 * failure of the request, so it is logged when a logger is given and never thrown.
 */
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { Logger } from '@aws-lambda-powertools/logger';
import { managementEndpointFor, type HandlerDeps } from './handler-deps.js';
import type { WebSocketEvent } from './ws-event.js';

export async function answerSender(deps: HandlerDeps, event: WebSocketEvent, frame: unknown, log?: Pick<Logger, 'warn'>): Promise<boolean> {
  const ctx = event.requestContext;
  try {
    const management = await deps.management(managementEndpointFor(deps.settings, ctx));
    await management.send(new PostToConnectionCommand({ ConnectionId: ctx.connectionId, Data: Buffer.from(JSON.stringify(frame)) }));
    return true;
  } catch (err) {
    log?.warn('could not answer the sender', { connectionId: ctx.connectionId, error: (err as Error).name });
    return false;
  }
}
