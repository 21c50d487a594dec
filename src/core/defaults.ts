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

/** How long a stage keeps messages for replay (`hermes history`, resume); 0 keeps none. */
export const DEFAULT_HISTORY_RETENTION_SECONDS = 24 * 3600;

/** Messages kept per stream (a room, or one user's messages); older ones are trimmed. */
export const DEFAULT_HISTORY_MAX_PER_STREAM = 10_000;
