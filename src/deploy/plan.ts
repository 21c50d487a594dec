/**
 * The plan: desired state against observed state, one item per resource, in the order deploy
 * applies them. Pure (no AWS), so every decision deploy makes is unit-tested on plain data.
 */
import type {
  Action, ApiSpec, LogGroupSpec, ObservedLogGroup, ObservedParameter, ParameterSpec, AuthorizerSpec, DesiredState, FunctionSpec, IntegrationSpec, MappingSpec, ObservedApi, ObservedFunction,
  ObservedMapping, ObservedQueue, ObservedRole, ObservedState, ObservedTable, PermissionSpec, PlanItem, QueueSpec, RoleSpec,
  RouteSpec, StageSpec, TableSpec, Tags,
} from './types.js';
/**
 * hermes puts no secret in a function's environment (the signing keys are in SSM), but a value
 * someone else set, or an older deploy's HERMES_JWT_SECRET, is never shown in a plan either.
 */
const SECRET_LIKE = /SECRET|PASSWORD|TOKEN|PRIVATE|CREDENTIAL|_KEY$/i;

function item(kind: PlanItem['kind'], resource: string, exists: boolean, changes: string[]): PlanItem {
  const action: Action = !exists ? 'create' : changes.length ? 'update' : 'unchanged';
  return { kind, resource, action, changes: exists ? changes : [] };
}

/** JSON with sorted keys, single values as one-element lists: how IAM documents compare. */
export function canonical(value: unknown): string {
  const norm = (v: unknown, key?: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => norm(x));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, norm((v as Record<string, unknown>)[k], k)]));
    }
    if (typeof v === 'string' && (key === 'Action' || key === 'Resource')) return [v];
    return v;
  };
  return JSON.stringify(norm(value));
}

export function tagChanges(desired: Tags, observed: Tags | undefined): string[] {
  // Only hermes's own keys are managed; tags someone else added are left alone.
  return Object.entries(desired)
    .filter(([k, v]) => observed?.[k] !== v)
    .map(([k, v]) => `tag ${k}=${v}`);
}

export function diffTable(d: TableSpec, o: ObservedTable | undefined): PlanItem {
  const c: string[] = [];
  if (o) {
    if (o.hashKey !== d.hashKey || o.rangeKey !== d.rangeKey) {
      c.push(`key schema ${o.hashKey}${o.rangeKey ? `+${o.rangeKey}` : ''} ≠ ${d.hashKey}${d.rangeKey ? `+${d.rangeKey}` : ''} (cannot change in place)`);
    }
    if (o.billingMode !== d.billingMode) c.push(`billing ${o.billingMode ?? 'PROVISIONED'} → ${d.billingMode}`);
    for (const [name, keySchema] of Object.entries(d.indexes)) {
      const idx = o.indexes[name];
      if (!idx) c.push(`add index ${name}`);
      else if (idx.keySchema !== keySchema || idx.projection !== 'ALL') c.push(`index ${name} differs (cannot change in place)`);
    }
    if (!o.ttlEnabled || o.ttlAttribute !== d.ttlAttribute) c.push(`ttl on ${d.ttlAttribute}`);
    c.push(...tagChanges(d.tags, o.tags));
  }
  return item('table', d.name, Boolean(o), c);
}

function sameRedrive(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return a === b;
  const pa = JSON.parse(a) as { deadLetterTargetArn?: string; maxReceiveCount?: unknown };
  const pb = JSON.parse(b) as typeof pa;
  return pa.deadLetterTargetArn === pb.deadLetterTargetArn && Number(pa.maxReceiveCount) === Number(pb.maxReceiveCount);
}

/** Keys of the managed attributes whose value differs (RedrivePolicy compared as JSON). */
export function changedQueueAttributes(d: QueueSpec, o: ObservedQueue): string[] {
  return Object.entries(d.attributes)
    .filter(([k, v]) => (k === 'RedrivePolicy' ? !sameRedrive(o.attributes[k], v) : o.attributes[k] !== v))
    .map(([k]) => k);
}

export function diffQueue(d: QueueSpec, o: ObservedQueue | undefined): PlanItem {
  const c: string[] = [];
  if (o) {
    for (const k of changedQueueAttributes(d, o)) {
      c.push(k === 'RedrivePolicy' ? 'redrive policy' : `${k} ${o.attributes[k] ?? '(unset)'} → ${d.attributes[k]}`);
    }
    c.push(...tagChanges(d.tags, o.tags));
  }
  return item('queue', d.name, Boolean(o), c);
}

export function diffParameter(d: ParameterSpec, o: ObservedParameter | undefined): PlanItem {
  const c: string[] = [];
  if (o) {
    if (!o.validKeyRing) c.push('its value is not a hermes key ring (cannot change in place)');
    if (o.type !== d.type) c.push(`type ${o.type} → ${d.type}`);
    c.push(...tagChanges(d.tags, o.tags));
  }
  return item('parameter', d.name, Boolean(o), c);
}

export function diffRole(d: RoleSpec, o: ObservedRole | undefined): PlanItem {
  const c: string[] = [];
  if (o) {
    if (canonical(o.trustPolicy) !== canonical(d.trustPolicy)) c.push('trust policy');
    if (canonical(o.policies[d.policyName]) !== canonical(d.policy)) c.push(`policy ${d.policyName}`);
    const stray = Object.keys(o.policies).filter((p) => p !== d.policyName);
    if (stray.length) c.push(`remove policies ${stray.join(', ')}`);
    c.push(...tagChanges(d.tags, o.tags));
  }
  return item('role', d.name, Boolean(o), c);
}

function envChanges(d: Record<string, string>, o: Record<string, string>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(d), ...Object.keys(o)])) {
    if (d[k] === o[k]) continue;
    if (SECRET_LIKE.test(k)) out.push(`env ${k} ${k in d ? 'set' : 'removed'}`);
    else if (!(k in d)) out.push(`env ${k} removed`);
    else out.push(`env ${k} ${o[k] ?? '(unset)'} → ${d[k]}`);
  }
  return out;
}

/** Configuration differences only (code and tags are separate calls). */
export function functionConfigChanges(d: FunctionSpec, o: ObservedFunction): string[] {
  const c: string[] = [];
  if (o.roleArn !== d.roleArn) c.push(`role → ${d.roleArn}`);
  if (o.runtime !== d.runtime) c.push(`runtime ${o.runtime} → ${d.runtime}`);
  if (o.entry !== d.entry) c.push(`handler ${o.entry} → ${d.entry}`);
  if (o.memory !== d.memory) c.push(`memory ${o.memory} → ${d.memory}`);
  if (o.timeout !== d.timeout) c.push(`timeout ${o.timeout} → ${d.timeout}`);
  return [...c, ...envChanges(d.env, o.env)];
}

/** Lambda changes a function's architecture with its code (UpdateFunctionCode), not its configuration. */
export function codeChanges(d: FunctionSpec, o: ObservedFunction): string[] {
  const c: string[] = [];
  if (o.codeSha256 !== d.codeSha256) c.push(`code ${(o.codeSha256 ?? '').slice(0, 8)} → ${d.codeSha256.slice(0, 8)}`);
  if ((o.architecture ?? 'x86_64') !== d.architecture) c.push(`architecture ${o.architecture ?? 'x86_64'} → ${d.architecture}`);
  return c;
}

export function diffLogGroup(d: LogGroupSpec, o: ObservedLogGroup | undefined): PlanItem {
  const c: string[] = [];
  if (o) {
    if (o.retentionDays !== d.retentionDays) c.push(`retention ${o.retentionDays ?? 'never expire'} → ${d.retentionDays} days`);
    c.push(...tagChanges(d.tags, o.tags));
  }
  return item('log-group', d.name, Boolean(o), c);
}

export function diffFunction(d: FunctionSpec, o: ObservedFunction | undefined): PlanItem {
  const c: string[] = [];
  if (o) {
    c.push(...codeChanges(d, o));
    c.push(...functionConfigChanges(d, o), ...tagChanges(d.tags, o.tags));
  }
  return item('function', d.name, Boolean(o), c);
}

export function diffApi(d: ApiSpec, o: ObservedApi | undefined): PlanItem {
  const c: string[] = [];
  if (o) {
    if (o.routeSelectionExpression !== d.routeSelectionExpression) c.push(`route selection → ${d.routeSelectionExpression}`);
    c.push(...tagChanges(d.tags, o.tags));
  }
  return item('api', d.name, Boolean(o), c);
}

export function diffAuthorizer(d: AuthorizerSpec, api: ObservedApi | undefined): PlanItem {
  const o = api?.authorizer;
  const c: string[] = [];
  if (o) {
    if (o.uri !== d.uri) c.push('function URI');
    if (canonical(o.identitySource) !== canonical(d.identitySource)) c.push(`identity source → ${d.identitySource.join(',')}`);
  }
  return item('authorizer', d.name, Boolean(o), c);
}

export function diffIntegration(d: IntegrationSpec, api: ObservedApi | undefined): PlanItem {
  const o = api?.integrations[d.handler];
  const c: string[] = [];
  if (o) {
    if (o.type !== 'AWS_PROXY') c.push(`type ${o.type} → AWS_PROXY`);
    if (o.uri !== d.uri) c.push('function URI');
  }
  return item('integration', d.handler, Boolean(o), c);
}

export function diffRoute(d: RouteSpec, api: ObservedApi | undefined): PlanItem {
  const o = api?.routes[d.routeKey];
  const c: string[] = [];
  if (o) {
    const integration = api?.integrations[d.handler];
    if (!integration || o.target !== `integrations/${integration.id}`) c.push(`target → ${d.handler}`);
    const wantType = d.authorizer ? 'CUSTOM' : 'NONE';
    if ((o.authorizationType ?? 'NONE') !== wantType) c.push(`authorization ${o.authorizationType ?? 'NONE'} → ${wantType}`);
    else if (d.authorizer && (!api?.authorizer || o.authorizerId !== api.authorizer.id)) c.push('authorizer');
  }
  return item('route', d.routeKey, Boolean(o), c);
}

export function diffPermission(d: PermissionSpec, fnName: string, fn: ObservedFunction | undefined): PlanItem {
  const exists = Boolean(fn && d.statementId in fn.permissions);
  const c = exists && fn!.permissions[d.statementId] !== d.sourceArn ? [`source → ${d.sourceArn}`] : [];
  return item('permission', `${fnName} ← apigateway`, exists, c);
}

/** Stage settings that need UpdateStage (everything but tags). */
export function stageSettingChanges(d: StageSpec, o: NonNullable<ObservedApi['stage']>): string[] {
  const c: string[] = [];
  if (o.autoDeploy !== d.autoDeploy) c.push('auto-deploy on');
  const t = o.throttling ?? {};
  if (t.burstLimit !== d.throttling.burstLimit || t.rateLimit !== d.throttling.rateLimit) {
    c.push(`throttling burst ${t.burstLimit ?? '-'} rate ${t.rateLimit ?? '-'} → burst ${d.throttling.burstLimit} rate ${d.throttling.rateLimit}`);
  }
  if ((o.accessLog?.destinationArn ?? undefined) !== d.accessLog?.destinationArn || (d.accessLog && o.accessLog?.format !== d.accessLog.format)) {
    c.push(d.accessLog ? 'access logging on' : 'access logging off');
  }
  return c;
}

export function diffStage(d: StageSpec, api: ObservedApi | undefined): PlanItem {
  const o = api?.stage;
  const c = o ? [...stageSettingChanges(d, o), ...tagChanges(d.tags, o.tags)] : [];
  return item('stage', d.name, Boolean(o), c);
}

export function diffMapping(d: MappingSpec, fnName: string, o: ObservedMapping | undefined): PlanItem {
  const c: string[] = [];
  if (o) {
    if (o.batchSize !== d.batchSize) c.push(`batch size ${o.batchSize} → ${d.batchSize}`);
    if (canonical(o.responseTypes) !== canonical(d.responseTypes)) c.push(`response types → ${d.responseTypes.join(',')}`);
    if (o.state === 'Disabled' || o.state === 'Disabling') c.push('enable');
  }
  return item('event-source-mapping', `queue → ${fnName}`, Boolean(o), c);
}

/**
 * In the order deploy applies them. The stage comes after every route, its authorizer and the
 * invoke permissions: it auto-deploys, so the moment it exists the API is live, and by then
 * `$connect` already runs its authorizer (docs/deploy.md, "Why the stage comes last").
 */
export function plan(d: DesiredState, o: ObservedState): PlanItem[] {
  const fnName = (h: string) => d.functions.find((f) => f.handler === h)!.name;
  return [
    ...d.tables.map((t) => diffTable(t, o.tables[t.name])),
    ...d.queues.map((q) => diffQueue(q, o.queues[q.name])),
    diffParameter(d.signingKeys, o.signingKeys),
    diffApi(d.api, o.api),
    ...d.logGroups.map((g) => diffLogGroup(g, o.logGroups?.[g.name])),
    ...d.roles.map((r) => diffRole(r, o.roles[r.name])),
    ...d.functions.map((f) => diffFunction(f, o.functions[f.name])),
    diffAuthorizer(d.authorizer, o.api),
    ...d.integrations.map((i) => diffIntegration(i, o.api)),
    ...d.routes.map((r) => diffRoute(r, o.api)),
    ...d.permissions.map((p) => diffPermission(p, fnName(p.handler), o.functions[fnName(p.handler)])),
    diffStage(d.stage, o.api),
    diffMapping(d.mapping, fnName(d.mapping.handler), o.mapping),
  ];
}

export function summarize(items: PlanItem[]): Record<Action, number> {
  const out: Record<Action, number> = { create: 0, update: 0, unchanged: 0, delete: 0 };
  for (const i of items) out[i.action]++;
  return out;
}
