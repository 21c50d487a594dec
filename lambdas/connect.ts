/** `$connect`: record the connection under the room and user the authorizer vouched for. */
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { handlerSettings, type Env } from '../src/core/handler-env.js';
import { handlerDeps, type HandlerOverrides } from '../src/core/handler-deps.js';
import { createDocumentClient } from '../src/core/clients.js';
import { connectionRow, putConnection } from '../src/core/connections.js';
import type { WebSocketEvent } from '../src/core/ws-event.js';

export function createHandler(env: Env, overrides: HandlerOverrides = {}) {
  const deps = handlerDeps(handlerSettings(env), { ddb: createDocumentClient }, overrides);
  return async (event: WebSocketEvent, context?: Context): Promise<APIGatewayProxyResult> => {
    const ctx = event.requestContext;
    const roomId = ctx.authorizer?.room_id;
    const userId = ctx.authorizer?.user_id;
    if (!roomId || !userId) {
      // Only reachable when the API was deployed without the authorizer: refuse rather than
      // record a connection that belongs to no room.
      deps.invocationLogger(context).error('connect without authorizer context', { connectionId: ctx.connectionId });
      return { statusCode: 401, body: 'Unauthorized' };
    }
    const tokenId = ctx.authorizer?.token_id;
    const row = connectionRow({ connectionId: ctx.connectionId, roomId, userId, connectedAt: ctx.connectedAt ?? Date.now(), tokenId });
    await putConnection({ ddb: await deps.ddb(), table: deps.settings.connectionsTable }, row);
    return { statusCode: 200, body: 'Connected' };
  };
}

let cached: ReturnType<typeof createHandler> | undefined;
export const handler = (event: WebSocketEvent, context: Context) => (cached ??= createHandler(process.env))(event, context);
