/**
 * REQUEST authorizer on `$connect`. The token comes from `?token=`. A valid token gives Allow
 * with context {user_id, room_id, token_id}; a refused one gives Deny (403); anything
 * unexpected throws "Unauthorized" (401). Responses never carry error details or stack traces;
 * the reason is logged instead.
 */
import type { APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult, Context } from 'aws-lambda';
import { handlerSettings, type Env } from '../src/core/handler-env.js';
import { handlerDeps, type HandlerOverrides } from '../src/core/handler-deps.js';
import { createDocumentClient } from '../src/core/clients.js';
import { verifyToken } from '../src/core/tokens.js';
import { createVerifiedSecrets } from '../src/core/token-cache.js';
import { TokenRefusedError } from '../src/core/errors.js';

function policy(principalId: string, effect: 'Allow' | 'Deny', resource: string, context?: Record<string, string>): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
    ...(context ? { context } : {}),
  };
}

export function createHandler(env: Env, overrides: HandlerOverrides = {}) {
  const deps = handlerDeps(handlerSettings(env), { ddb: createDocumentClient }, overrides);
  // Per container: a reconnect of a token verified here skips bcrypt, never the row read.
  const secrets = createVerifiedSecrets();
  return async (event: APIGatewayRequestAuthorizerEvent, context?: Context): Promise<APIGatewayAuthorizerResult> => {
    const token = event.queryStringParameters?.token;
    if (!token) throw new Error('Unauthorized');
    const { jwtSecret, tokensTable } = deps.settings;
    if (!jwtSecret) {
      deps.invocationLogger(context).error('HERMES_JWT_SECRET is not configured; refusing every connection');
      throw new Error('Unauthorized');
    }
    try {
      const claims = await verifyToken({ ddb: await deps.ddb(), table: tokensTable, secret: jwtSecret, checkSecret: secrets.check }, token);
      return policy(claims.user_id, 'Allow', event.methodArn, { user_id: claims.user_id, room_id: claims.room_id, token_id: claims.jti });
    } catch (err) {
      if (err instanceof TokenRefusedError) {
        deps.invocationLogger(context).info('token refused', { reason: err.reason, connectionId: event.requestContext?.connectionId });
        return policy('anonymous', 'Deny', event.methodArn);
      }
      deps.invocationLogger(context).error('authorizer failed', { error: (err as Error).message });
      throw new Error('Unauthorized');
    }
  };
}

let cached: ReturnType<typeof createHandler> | undefined;
export const handler = (event: APIGatewayRequestAuthorizerEvent, context: Context) => (cached ??= createHandler(process.env))(event, context);
