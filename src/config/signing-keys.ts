/**
 * A stage's signing keys, as every hermes command (and the backend library) reads them: from the stage's
 * SSM parameter (`/hermes/<stage>/signing-keys`, docs/tokens.md), through the same reader the
 * authorizer uses (core/ssm-parameter.ts), against AWS for a deployed stage and against the
 * local stack's parameter store for `hermes dev`. One source of truth, so a token hermes mints
 * for a stage is one that stage accepts. HERMES_JWT_SECRET, when set, must be the stage's
 * current key: a value that disagrees is an error, never a silently refused token. Keys are
 * never printed. No CLI dependencies: the CLI's context and the library reach it through
 * stage-access.ts.
 */

type Credentials = StageAccess['credentials'];
import { HermesError, UsageError } from '../core/errors.js';
import type { HermesConfig } from './resolve.js';
import { notRecorded, type StageAccess } from './stage-access.js';
import { currentKey, parseKeyRing, rotateKeyRing, serializeKeyRing, staticKeySource, type KeyRing, type KeySource, type SigningKey } from '../core/signing-keys.js';

/** Credentials for the stage's parameter store: the user's, else loopback placeholders, else the SDK's chain. */
async function readCredentials(credentials: Credentials, endpoint: string | undefined) {
  const { defaultCredentials } = await import('../core/clients.js');
  const explicit = await credentials();
  if (explicit) return explicit;
  const placeholder = defaultCredentials(endpoint);
  if (placeholder) return placeholder;
  const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
  return fromNodeProviderChain();
}

function where(cfg: HermesConfig): { name: string; endpoint?: string; region: string } {
  const endpoint = cfg.endpoints.ssm.value;
  if (cfg.stage.value === 'local' && !endpoint) throw notRecorded(cfg, 'SSM endpoint');
  return { name: cfg.names.parameter('signingKeys'), endpoint, region: cfg.region.value };
}

/** The stage's key ring, freshly read. */
export async function readStageKeyRing(cfg: HermesConfig, credentials: Credentials): Promise<KeyRing> {
  const { getParameter } = await import('../core/ssm-parameter.js');
  const w = where(cfg);
  try {
    const p = await getParameter({ ...w, credentials: await readCredentials(credentials, w.endpoint) });
    return parseKeyRing(p.value, `SSM parameter ${w.name}`);
  } catch (err) {
    if ((err as Error).name === 'ParameterNotFound') {
      const stage = cfg.stage.value;
      throw new HermesError(`Stage "${stage}" has no signing keys: SSM parameter ${w.name} does not exist in ${w.region}.`, {
        hint: stage === 'local' ? 'Restart `hermes dev`; it makes the local keys on start.' : `Deploy the stage first: \`hermes deploy --stage ${stage}\`.`,
        cause: err,
      });
    }
    throw err;
  }
}

/** The keys, checked against HERMES_JWT_SECRET when that is set. */
export async function stageSigningKeys(cfg: HermesConfig, credentials: Credentials): Promise<KeySource> {
  const ring = await readStageKeyRing(cfg, credentials);
  const fromEnv = cfg.jwtSecret.value;
  if (fromEnv !== undefined && fromEnv !== currentKey(ring).secret) {
    throw new UsageError(
      `HERMES_JWT_SECRET does not match the signing key of stage "${cfg.stage.value}" (key ${ring.current} in SSM parameter ${cfg.names.parameter('signingKeys')}): tokens signed with it would be refused.`,
      { hint: 'Unset HERMES_JWT_SECRET: hermes reads the stage\'s key itself. A backend that mints tokens must use the key from that parameter (docs/tokens.md).' },
    );
  }
  return staticKeySource(ring);
}

export interface Rotation {
  stage: string;
  parameter: string;
  current: string;
  retiring: { kid: string; verifiesUntil: string };
  /** Ids of every key that still verifies. */
  verifying: string[];
}

/**
 * A new current key; the previous one keeps verifying for `graceSeconds`. The whole ring is
 * written back with one PutParameter (two rotations at the same moment: the later one wins).
 */
export async function rotateStageKeys(cfg: HermesConfig, credentials: Credentials, graceSeconds: number): Promise<Rotation> {
  const ring = await readStageKeyRing(cfg, credentials);
  const w = where(cfg);
  let next: ReturnType<typeof rotateKeyRing>;
  try {
    next = rotateKeyRing(ring, graceSeconds);
  } catch (err) {
    throw new UsageError((err as Error).message, { hint: 'Wait until older keys are past their grace, or rotate with --grace 0.' });
  }
  const [{ SSMClient, PutParameterCommand }, { recordFailedCalls }] = await Promise.all([import('@aws-sdk/client-ssm'), import('../core/aws-failure.js')]);
  const ssm = new SSMClient({ region: w.region, ...(w.endpoint ? { endpoint: w.endpoint } : {}), credentials: await readCredentials(credentials, w.endpoint) });
  // A refused PutParameter is reported as that call (service, operation, status), like every other.
  recordFailedCalls(ssm, 'ssm');
  try {
    await ssm.send(new PutParameterCommand({ Name: w.name, Value: serializeKeyRing(next.ring), Type: 'SecureString', Overwrite: true }));
  } finally {
    ssm.destroy();
  }
  return {
    stage: cfg.stage.value,
    parameter: w.name,
    current: next.added.kid,
    retiring: { kid: next.retiring.kid, verifiesUntil: next.retiring.retiresAt! },
    verifying: next.ring.keys.filter((k: SigningKey) => !k.retiresAt || Date.parse(k.retiresAt) > Date.now()).map((k) => k.kid),
  };
}
