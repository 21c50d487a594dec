/**
 * How to reach a resolved stage: its AWS credentials, its DynamoDB, SQS and @connections clients
 * (built lazily, once, unless passed in), its queue and its signing keys. The CLI's context and
 * the backend library (src/library/) both get a stage this way, so a backend resolves `local`
 * or a deployed stage exactly as `hermes` does. No CLI dependencies.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { ClientOptions } from '../core/clients.js';
import { StackNotRunningError } from '../core/errors.js';
import type { HermesConfig } from './resolve.js';
import type { KeySource } from '../core/signing-keys.js';

/** Clients to use instead of building them (a backend's own, a test's). */
export interface StageClients {
  ddb?: DynamoDBDocumentClient;
  sqs?: SQSClient;
  management?: ApiGatewayManagementApiClient;
}

export interface StageAccess {
  /** undefined: the SDK's default chain (environment, AWS_PROFILE, SSO, instance role). */
  credentials(): Promise<AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined>;
  ddb(): Promise<DynamoDBDocumentClient>;
  sqs(): Promise<SQSClient>;
  management(): Promise<ApiGatewayManagementApiClient>;
  /** The stage's queue; explains how to start or deploy the stage when none is known. */
  queueUrl(): string;
  /** The stage's signing keys, from its SSM parameter (./signing-keys.ts). */
  signingKeys(): Promise<KeySource>;
  /** Destroy the clients built here (never those passed in). */
  close(): void;
}

export interface StageAccessOptions {
  clients?: StageClients;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

const memo = <T>(f: () => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
};

/**
 * The error for a stage with no `what` recorded (an endpoint, its queue URL): the local stack is
 * not running, or the stage was never deployed from this state dir. `deployedHint` replaces the
 * deployed stage's hint where the value can also be given another way.
 */
export function notRecorded(cfg: HermesConfig, what: string, deployedHint?: string): StackNotRunningError {
  const stage = cfg.stage.value;
  return stage === 'local'
    ? new StackNotRunningError(`No local stack is running (no ${what} recorded in ${cfg.stateDir.value}).`, {
        hint: 'Start the local stack in another terminal with `hermes dev`, or pass --stage for a deployed stage.',
      })
    : new StackNotRunningError(`Stage "${stage}" has no ${what} recorded: it was never deployed from here.`, {
        hint: deployedHint ?? `Deploy it with \`hermes deploy --stage ${stage}\`, or check --stage and --state-dir.`,
      });
}

/** `config` is a getter: resolving may fail, and a caller that never needs the stage never resolves it. */
export function stageAccess(config: () => HermesConfig, opts: StageAccessOptions = {}): StageAccess {
  const built: Array<{ destroy(): void }> = [];

  const credentials = memo(async () => {
    if (opts.credentials) return opts.credentials;
    const cfg = config();
    if (cfg.profile.source === 'flag' || cfg.profile.source === 'file') {
      const { fromIni } = await import('@aws-sdk/credential-providers');
      return fromIni({ profile: cfg.profile.value });
    }
    return undefined;
  });

  const need = (value: string | undefined, what: string): string => {
    if (value) return value;
    throw notRecorded(config(), what);
  };

  /**
   * A client for the stage's DynamoDB or SQS. The local stage must have its endpoint recorded
   * (else: "start hermes dev"); a deployed stage without one talks to AWS itself.
   */
  const awsClient = <T extends { destroy(): void }>(given: T | undefined, service: 'dynamodb' | 'sqs', what: string, create: (o: ClientOptions) => Promise<T>) =>
    memo(async () => {
      if (given) return given;
      const cfg = config();
      const endpoint = cfg.endpoints[service].value;
      if (cfg.stage.value === 'local') need(endpoint, what);
      const client = await create({ region: cfg.region.value, endpoint, credentials: await credentials() });
      built.push(client);
      return client;
    });

  return {
    credentials,
    ddb: awsClient(opts.clients?.ddb, 'dynamodb', 'DynamoDB endpoint', async (o) => (await import('../core/clients.js')).createDocumentClient(o)),
    sqs: awsClient(opts.clients?.sqs, 'sqs', 'SQS endpoint', async (o) => (await import('../core/clients.js')).createSqsClient(o)),
    management: memo(async () => {
      if (opts.clients?.management) return opts.clients.management;
      const { createManagementClient } = await import('../core/clients.js');
      const cfg = config();
      const endpoint = need(cfg.endpoints.management.value, '@connections endpoint');
      const client = await createManagementClient({ region: cfg.region.value, endpoint, credentials: await credentials() });
      built.push(client);
      return client;
    }),
    queueUrl: () => need(config().queueUrl.value, 'queue URL'),
    signingKeys: memo(async () => (await import('./signing-keys.js')).stageSigningKeys(config(), credentials)),
    close() {
      for (const c of built.splice(0)) c.destroy();
    },
  };
}
