/**
 * The wire contract between a hermes stage and its WebSocket clients: what a connection
 * receives and the messages it may send besides `sendMessage`. The server (src/core, lambdas)
 * and the client library (hermes-client.ts) both import it, so a field added to the frame
 * exists once. It lives next to the client, imports nothing and holds no Node or browser code,
 * because the client's bundle and its published types must stand alone.
 */

/**
 * What a connection receives for each message: `{id, room_id, user_id, data, sent_at, seq}`, to
 * every connection of a room; or, for a message to one user, `room_id` null and `to_user_id`,
 * to every connection of that user.
 */
export interface Frame<T = unknown> {
  /** The message's own id, or the SQS message id: a redelivery keeps it, so clients deduplicate by it. */
  id: string;
  /** The room it was sent to; null on a message to one user. */
  room_id: string | null;
  /** On a message to one user: that user (whatever room the connection is in). */
  to_user_id?: string;
  /** Who sent it; null when a backend published without one. */
  user_id: string | null;
  data: T;
  /** ISO 8601, when the frame was built for delivery. */
  sent_at: string;
  /**
   * Its number in its stream (the room's, or the user's messages): 1, 2, 3… with no gaps, the
   * same on every connection and on a redelivery. Absent when the stage keeps no history.
   */
  seq?: number;
  /** True on a frame sent again by `resume` rather than live. */
  replay?: true;
}

/** A connection has two streams: its room's messages, and the messages to its user. */
export type StreamName = 'room' | 'user';

/** Which stream a frame belongs to. */
export function streamOf(frame: Pick<Frame, 'to_user_id'>): StreamName {
  return typeof frame.to_user_id === 'string' ? 'user' : 'room';
}

/**
 * Ask for what a stream had after `since` (the last `seq` seen; null: nothing seen yet, just
 * say where the stream is), up to `until` when only a hole is wanted. Room and user are the
 * connection's own, from its token.
 */
export const RESUME_ACTION = 'resume';
export interface ResumeRequest {
  action: typeof RESUME_ACTION;
  since: Partial<Record<StreamName, number | null>>;
  until?: Partial<Record<StreamName, number>>;
}

/** Numbers a stream no longer has: expired (older than the retention) or beyond the cap. */
export interface LostRange {
  from: number;
  to: number;
}

/**
 * The answer to `resume`, once per stream asked for, after the replayed frames (which carry
 * `replay: true`): where the stream is (`head`), what the answer covered (`through`), what is
 * gone, and whether to ask again from `through` (`more`).
 */
export interface ResumedFrame {
  resumed: {
    stream: StreamName;
    /** False when the stage keeps no history: its frames carry no `seq`, and nothing is replayed. */
    history: boolean;
    since: number | null;
    head: number;
    through: number;
    more: boolean;
    lost: LostRange[];
  };
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
