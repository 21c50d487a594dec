/**
 * The wire contract between a hermes stage and its WebSocket clients: what a connection
 * receives and the messages it may send besides `sendMessage`. The server (src/core, lambdas)
 * and the client library (hermes-client.ts) both import it, so a field added to the frame
 * exists once. It lives next to the client, imports nothing and holds no Node or browser code,
 * because the client's bundle and its published types must stand alone.
 */

/** What every connection of a room receives for each message: `{id, room_id, user_id, data, sent_at}`. */
export interface Frame<T = unknown> {
  /** The message's own id, or the SQS message id: a redelivery keeps it, so clients deduplicate by it. */
  id: string;
  room_id: string;
  /** Who sent it; null when a backend published without one. */
  user_id: string | null;
  data: T;
  /** ISO 8601, when the frame was built for delivery. */
  sent_at: string;
}

/** The answer to a message the one connection sent that the server cannot act on. */
export interface ErrorFrame {
  error: string;
  message: string;
}

/**
 * The action a client sends only to reset API Gateway's 10-minute idle timer (docs/api-gateway-websocket.md §5);
 * `$default` answers it with nothing.
 */
export const KEEPALIVE_ACTION = 'keepalive';
export const KEEPALIVE_MESSAGE = `{"action":"${KEEPALIVE_ACTION}"}`;
