/**
 * Defaults that the Lambda handlers (through handler-env.ts) and the config resolver
 * (src/config/) must agree on. They live here, in core, because core may not import the
 * resolver; everything else that needs one of these values imports it from this file.
 */

/** The stage `hermes dev` serves, and what a handler without HERMES_STAGE belongs to. */
export const DEFAULT_STAGE = 'local';

/** The region when neither a flag, AWS_REGION, AWS_DEFAULT_REGION nor the config file names one. */
export const DEFAULT_REGION = 'us-east-1';

/** bcrypt cost for a token's secret: about 50-100 ms per check; each step doubles it. */
export const DEFAULT_BCRYPT_COST = 10;

/**
 * API Gateway answers 410 to @connections calls for a connection whose `$connect` is still
 * running (docs/api-gateway-websocket.md §4.3), and the connect handler writes the row during `$connect`. So a 410 for a
 * row younger than the longest handshake is no proof that the client is gone: deleting it would
 * cut a live client off every message for up to 2 hours. `connected_at` is taken when the
 * handshake starts, and the authorizer and `$connect` may each take up to the 29 s integration
 * timeout (docs/api-gateway-websocket.md §5): hence a minute.
 */
export const CONNECT_GRACE_SECONDS = 60;

/** How long a stage keeps messages for replay (`hermes history`, resume); 0 keeps none. */
export const DEFAULT_HISTORY_RETENTION_SECONDS = 24 * 3600;

/** Messages kept per stream (a room, or one user's messages); older ones are trimmed. */
export const DEFAULT_HISTORY_MAX_PER_STREAM = 10_000;
