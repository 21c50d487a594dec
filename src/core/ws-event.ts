/**
 * The WebSocket proxy event as API Gateway really sends it. @types/aws-lambda's
 * APIGatewayProxyWebsocketEventV2 lacks `authorizer`, `identity` and the disconnect fields,
 * which AWS does send (docs/api-gateway-websocket.md §1.5), so the handlers use this type.
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
    /** Authorizer context: values are strings (docs/api-gateway-websocket.md §2.4). */
    authorizer?: { principalId?: string; user_id?: string; room_id?: string; token_id?: string; [k: string]: unknown };
    disconnectStatusCode?: number;
    disconnectReason?: string;
  };
  body?: string;
  isBase64Encoded: boolean;
  queryStringParameters?: Record<string, string>;
  headers?: Record<string, string>;
}

// The messages a connection sends and receives are the client's wire contract; the handlers
// import them from here with the event they arrive in.
export { KEEPALIVE_ACTION, type ErrorFrame } from '../../client/protocol.js';
