/**
 * `resume`: a connection asks for what its streams had after the last numbers it saw,
 * `{"action":"resume","since":{"room":N,"user":M}}`, and gets those frames again, in order, then
 * a summary per stream (src/core/replay.ts). It is a route the client calls after the socket
 * opens because `$connect` cannot post to the connection it is still accepting
 * (docs/api-gateway-websocket.md §4.3). The room and the user are the connection's own, from the
 * authorizer context, never from the body: a token reads only its room's and its user's messages.
 */
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { answerSender } from '../src/core/answer-sender.js';
import { handlerSettings, type Env } from '../src/core/handler-env.js';
import { handlerDeps, managementEndpointFor, type HandlerOverrides } from '../src/core/handler-deps.js';
import { createDocumentClient, createManagementClient } from '../src/core/clients.js';
import { parseResume, replay, REPLAY_DEADLINE_MARGIN_MS } from '../src/core/replay.js';
import { stopTimeFor } from '../src/core/deadline.js';
import type { StreamRef } from '../src/core/history.js';
import type { StreamName } from '../client/protocol.js';
import type { WebSocketEvent } from '../src/core/ws-event.js';

export function createHandler(env: Env, overrides: HandlerOverrides = {}) {
  const deps = handlerDeps(handlerSettings(env), { ddb: createDocumentClient, management: createManagementClient }, overrides);
  return async (event: WebSocketEvent, context?: Context): Promise<APIGatewayProxyResult> => {
    const ctx = event.requestContext;
    const roomId = ctx.authorizer?.room_id;
    const userId = ctx.authorizer?.user_id;
    if (!roomId || !userId) return { statusCode: 403, body: 'Forbidden' };
    const management = await deps.management(managementEndpointFor(deps.settings, ctx));
    const log = deps.invocationLogger(context);
    const request = parseResume(event.body);
    if ('error' in request) {
      await answerSender(deps, event, request, log);
      return { statusCode: 400, body: request.error };
    }
    const { since, until } = request;
    const own: Record<StreamName, StreamRef> = { room: { kind: 'room', id: roomId }, user: { kind: 'user', id: userId } };
    const asked = (Object.keys(since) as StreamName[]).map((name) => ({ name, ref: own[name], since: since[name] as number | null, until: until?.[name] }));
    const result = await replay(
      {
        history: await deps.history(),
        management,
        connectionId: ctx.connectionId,
        ...(context ? { stopAt: stopTimeFor(context.getRemainingTimeInMillis(), Date.now(), REPLAY_DEADLINE_MARGIN_MS) } : {}),
      },
      asked,
    );
    log.info('resumed', { connectionId: ctx.connectionId, room: roomId, user: userId, streams: result });
    return { statusCode: 200, body: 'OK' };
  };
}

let cached: ReturnType<typeof createHandler> | undefined;
export const handler = (event: WebSocketEvent, context: Context) => (cached ??= createHandler(process.env))(event, context);
