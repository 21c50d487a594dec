/**
 * The authorizer's signing keys: the key ring in the stage's SSM parameter
 * (HERMES_SIGNING_KEYS_PARAMETER), read with the function's own credentials through the lean
 * GetParameter (./ssm-parameter.ts) and cached per container (./signing-keys.ts). Only the
 * authorizer's bundle includes this module (it passes it to handlerDeps).
 */
import type { HandlerSettings } from './handler-env.js';
import { cachedKeySource, parseKeyRing, type KeySource } from './signing-keys.js';
import { getParameter } from './ssm-parameter.js';
import { defaultCredentials } from './clients.js';

export function ssmKeySource(settings: HandlerSettings): KeySource | undefined {
  const name = settings.signingKeysParameter;
  if (!name) return undefined;
  const credentials = settings.credentials ?? defaultCredentials(settings.ssmEndpoint, {});
  // Missing credentials fail the read, not the source: the authorizer reads keys inside its
  // try, so the failure is logged and the connect answered "Unauthorized" like any other.
  const read = async () => {
    if (!credentials) throw new Error('No AWS credentials in the environment to read the signing keys with.');
    return getParameter({ name, region: settings.region, endpoint: settings.ssmEndpoint, credentials });
  };
  return cachedKeySource(async () => parseKeyRing((await read()).value, `SSM parameter ${name}`), { maxAgeMs: settings.keyCacheSeconds * 1000 });
}
