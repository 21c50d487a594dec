/** `$disconnect`: forget the connection. Best effort on AWS's side too; prune-stale catches misses. */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { handlerSettings, type Env } from '../src/core/handler-env.js';
import { handlerDeps, type HandlerOverrides } from '../src/core/handler-deps.js';
import { createDocumentClient } from '../src/core/clients.js';
import { deleteConnection } from '../src/core/connections.js';
import type { WebSocketEvent } from '../src/core/ws-event.js';

export function createHandler(env: Env, overrides: HandlerOverrides = {}) {
  const deps = handlerDeps(handlerSettings(env), { ddb: createDocumentClient }, overrides);
  return async (event: WebSocketEvent): Promise<APIGatewayProxyResult> => {
    await deleteConnection({ ddb: await deps.ddb(), table: deps.settings.connectionsTable }, event.requestContext.connectionId);
    return { statusCode: 200, body: 'Disconnected' };
  };
}

let cached: ReturnType<typeof createHandler> | undefined;
export const handler = (event: WebSocketEvent) => (cached ??= createHandler(process.env))(event);
