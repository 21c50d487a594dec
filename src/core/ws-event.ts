/**
 * The WebSocket proxy event as API Gateway really sends it. @types/aws-lambda's
 * APIGatewayProxyWebsocketEventV2 lacks `authorizer`, `identity` and the disconnect fields,
 * which AWS does send (spec §1.5), so the handlers use this type.
 */
export interface WebSocketEvent {
  requestContext: {
    routeKey: string;
    eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT';
    connectionId: string;
    connectedAt: number;
    requestTimeEpoch: number;
    requestId: string;
    messageId?: string;
    domainName: string;
    stage: string;
    apiId: string;
    identity?: { sourceIp?: string; userAgent?: string };
    /** Authorizer context: values are strings (spec §2.4). */
    authorizer?: { principalId?: string; user_id?: string; room_id?: string; token_id?: string; [k: string]: unknown };
    disconnectStatusCode?: number;
    disconnectReason?: string;
  };
  body?: string;
  isBase64Encoded: boolean;
  queryStringParameters?: Record<string, string>;
  headers?: Record<string, string>;
}

/** An error frame sent to the one connection whose request was wrong. */
export interface ErrorFrame {
  error: string;
  message: string;
}

/**
 * The action a client sends only to reset API Gateway's 10-minute idle timer (spec §5);
 * `$default` answers it with nothing.
 */
export const KEEPALIVE_ACTION = 'keepalive';
export const KEEPALIVE_MESSAGE = `{"action":"${KEEPALIVE_ACTION}"}`;
