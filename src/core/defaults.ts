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
