/**
 * `$default`: an unknown action or a non-JSON frame gets an error frame, to the sender only.
 * The `keepalive` action gets no answer: a client sends it only to reset API Gateway's 10-minute
 * idle timer, which any inbound message does, and a reply would just be traffic to ignore.
 */
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { answerSender } from '../src/core/answer-sender.js';
import { handlerSettings, type Env } from '../src/core/handler-env.js';
import { handlerDeps, type HandlerOverrides } from '../src/core/handler-deps.js';
import { createManagementClient } from '../src/core/clients.js';
import { KEEPALIVE_ACTION, type ErrorFrame, type WebSocketEvent } from '../src/core/ws-event.js';
import { ROUTES } from '../src/stack/definition.js';

/** The actions a client may send: the routes that are not API Gateway's own `$…` ones. */
const ACTIONS = ROUTES.map((r) => r.routeKey).filter((k) => !k.startsWith('$'));

export function isKeepalive(body: string | undefined): boolean {
  try {
    return (JSON.parse(body ?? '') as { action?: unknown })?.action === KEEPALIVE_ACTION;
  } catch {
    return false;
  }
}

export function errorFrameFor(body: string | undefined): ErrorFrame {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? '');
  } catch {
    return { error: 'invalid_json', message: 'The message is not JSON. Send {"action":"sendMessage","data":...}.' };
  }
  const action = (parsed as { action?: unknown })?.action;
  if (action === undefined) return { error: 'missing_action', message: 'The message has no "action". Send {"action":"sendMessage","data":...}.' };
  const shown = typeof action === 'string' ? action.slice(0, 64) : JSON.stringify(action).slice(0, 64);
  return { error: 'unknown_action', message: `Unknown action "${shown}". The actions are ${ACTIONS.map((a) => `"${a}"`).join(', ')}.` };
}

export function createHandler(env: Env, overrides: HandlerOverrides = {}) {
  const deps = handlerDeps(handlerSettings(env), { management: createManagementClient }, overrides);
  return async (event: WebSocketEvent, context?: Context): Promise<APIGatewayProxyResult> => {
    if (isKeepalive(event.body)) return { statusCode: 200, body: '' };
    const frame = errorFrameFor(event.body);
    await answerSender(deps, event, frame, deps.invocationLogger(context));
    return { statusCode: 400, body: frame.error };
  };
}

let cached: ReturnType<typeof createHandler> | undefined;
export const handler = (event: WebSocketEvent, context: Context) => (cached ??= createHandler(process.env))(event, context);
