/**
 * The shapes deploy reasons about: what a stage should look like (desired), what AWS has
 * (observed), and the plan between them. Observed values are normalised by observe.ts so the
 * plan compares like with like (parsed JSON, not URL-encoded strings; tag maps, not lists).
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { HandlerName } from '../stack/definition.js';

export type Tags = Record<string, string>;

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Principal?: unknown;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface TableSpec {
  name: string;
  hashKey: string;
  rangeKey?: string;
  /** Index name → hash key; every index projects ALL. */
  indexes: Record<string, string>;
  billingMode: 'PAY_PER_REQUEST';
  ttlAttribute: string;
  tags: Tags;
  /** What CreateTable gets (shared with the local stack). */
  definition: CreateTableCommandInput;
}

export interface QueueSpec {
  name: string;
  /** Only the attributes hermes manages; others keep whatever value they have. */
  attributes: Record<string, string>;
  tags: Tags;
}

/** The SSM SecureString parameter holding the stage's signing keys (core/signing-keys.ts). */
export interface ParameterSpec {
  name: string;
  type: 'SecureString';
  tags: Tags;
}

export interface RoleSpec {
  handler: HandlerName;
  name: string;
  trustPolicy: unknown;
  policyName: string;
  policy: PolicyDocument;
  tags: Tags;
}

export interface FunctionSpec {
  handler: HandlerName;
  name: string;
  roleArn: string;
  runtime: string;
  entry: string;
  memory: number;
  timeout: number;
  architecture: 'arm64' | 'x86_64';
  env: Record<string, string>;
  codeSha256: string;
  tags: Tags;
}

/** A CloudWatch Logs group deploy makes so it has a retention (Lambda would make it without one). */
export interface LogGroupSpec {
  name: string;
  retentionDays: number;
  tags: Tags;
}

export interface ApiSpec {
  name: string;
  routeSelectionExpression: string;
  tags: Tags;
}

export interface AuthorizerSpec {
  name: string;
  uri: string;
  identitySource: string[];
}

export interface IntegrationSpec {
  handler: HandlerName;
  uri: string;
}

export interface RouteSpec {
  routeKey: string;
  handler: HandlerName;
  authorizer: boolean;
}

export interface PermissionSpec {
  handler: HandlerName;
  statementId: string;
  sourceArn: string;
}

export interface StageSpec {
  name: string;
  /** Every change to routes, integrations or the authorizer goes live without a deployment call. */
  autoDeploy: true;
  throttling: { burstLimit: number; rateLimit: number };
  accessLog?: { destinationArn: string; format: string };
  tags: Tags;
}

export interface MappingSpec {
  handler: HandlerName;
  queueArn: string;
  batchSize: number;
  responseTypes: string[];
  tags: Tags;
}

export interface DesiredState {
  tables: TableSpec[];
  queues: QueueSpec[];
  signingKeys: ParameterSpec;
  logGroups: LogGroupSpec[];
  api: ApiSpec;
  roles: RoleSpec[];
  functions: FunctionSpec[];
  authorizer: AuthorizerSpec;
  integrations: IntegrationSpec[];
  routes: RouteSpec[];
  permissions: PermissionSpec[];
  stage: StageSpec;
  mapping: MappingSpec;
}

export interface ObservedTable {
  arn: string;
  status: string;
  hashKey?: string;
  rangeKey?: string;
  indexes: Record<string, { keySchema: string; projection?: string; status?: string }>;
  billingMode?: string;
  ttlAttribute?: string;
  ttlEnabled: boolean;
  tags: Tags;
}

export interface ObservedQueue {
  url: string;
  arn: string;
  attributes: Record<string, string>;
  tags: Tags;
}

export interface ObservedParameter {
  arn?: string;
  type?: string;
  /** The AWS KMS key that encrypts it (alias/aws/ssm when SSM's own). */
  keyId?: string;
  /** Whether its value is a hermes key ring (it is read, never shown). */
  validKeyRing: boolean;
  tags: Tags;
}

export interface ObservedRole {
  arn: string;
  trustPolicy?: unknown;
  policies: Record<string, unknown>;
  tags: Tags;
}

export interface ObservedFunction {
  arn: string;
  roleArn?: string;
  runtime?: string;
  entry?: string;
  memory?: number;
  timeout?: number;
  architecture?: string;
  env: Record<string, string>;
  codeSha256?: string;
  state?: string;
  tags: Tags;
  /** Statement id → source ARN of the statements that let a service invoke it. */
  permissions: Record<string, string | undefined>;
}

export interface ObservedApi {
  id: string;
  endpoint?: string;
  routeSelectionExpression?: string;
  tags: Tags;
  authorizer?: { id: string; name?: string; uri?: string; identitySource: string[] };
  /** By handler, recognised from the function name in the integration URI. */
  integrations: Partial<Record<HandlerName, { id: string; uri?: string; type?: string }>>;
  routes: Record<string, { id: string; target?: string; authorizationType?: string; authorizerId?: string }>;
  stage?: {
    autoDeploy: boolean;
    throttling?: { burstLimit?: number; rateLimit?: number };
    accessLog?: { destinationArn?: string; format?: string };
    tags: Tags;
  };
}

export interface ObservedMapping {
  uuid: string;
  arn?: string;
  functionArn?: string;
  batchSize?: number;
  responseTypes: string[];
  state?: string;
}

export interface ObservedLogGroup {
  arn: string;
  retentionDays?: number;
  tags: Tags;
}

export interface ObservedState {
  tables: Record<string, ObservedTable>;
  queues: Record<string, ObservedQueue>;
  signingKeys?: ObservedParameter;
  logGroups?: Record<string, ObservedLogGroup>;
  roles: Record<string, ObservedRole>;
  functions: Record<string, ObservedFunction>;
  api?: ObservedApi;
  /** The mapping from the stage's queue to send-message, if any. */
  mapping?: ObservedMapping;
}

export type ResourceKind =
  | 'table'
  | 'queue'
  | 'parameter'
  | 'log-group'
  | 'role'
  | 'function'
  | 'api'
  | 'authorizer'
  | 'integration'
  | 'route'
  | 'permission'
  | 'stage'
  | 'event-source-mapping';

export type Action = 'create' | 'update' | 'unchanged' | 'delete';

export interface PlanItem {
  kind: ResourceKind;
  /** What a person recognises it by: a resource name, a route key, `<function> ← apigateway`. */
  resource: string;
  action: Action;
  /** One short line per difference, e.g. `memory 256 → 512`. Never contains a secret. */
  changes: string[];
}
