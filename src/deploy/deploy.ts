/**
 * Deploy = observe → plan → apply. The plan is computed once with what is known up front (a
 * dry run prints it), then again after the tables, queues and API exist, when the ids every
 * other resource refers to (account, API id, queue URLs) are known. Resources whose plan item
 * is `unchanged` get no call at all, so a second deploy of the same code mutates nothing.
 */
import type { ResourceNames } from '../stack/names.js';
import type { EnvSetting, HandlerName, StageSettings } from '../stack/definition.js';
import type { Aws } from './aws.js';
import { arnsFor, parseArn, type KnownIds } from './arns.js';
import { buildBundles, defaultBundleDir, loadArtifacts } from './bundle.js';
import { observe } from './observe.js';
import { plan, summarize } from './plan.js';
import { desiredState } from './spec.js';
import { applyParameter, applyQueue, applyTable, type ApplyContext } from './apply-data.js';
import { applyFunction, applyLogGroup, applyMapping, applyPermission, applyRole } from './apply-compute.js';
import { applyApi, applyAuthorizer, applyIntegration, applyRoute, applyStage, lastDeploymentStatus } from './apply-api.js';
import { DEFAULT_WAIT, type WaitOptions } from './wait.js';
import type { Action, ObservedState, PlanItem } from './types.js';

export interface DeployOptions {
  names: ResourceNames;
  dryRun?: boolean;
  /** Run the project's build first (default true). */
  build?: boolean;
  bundleDir?: string;
  wait?: WaitOptions;
  /** Called once per resource as it is applied (or found unchanged). */
  onProgress?: (item: PlanItem) => void;
  /** The stage's settings (src/config/stage-settings.ts); the definition's defaults otherwise. */
  settings?: StageSettings;
  /** The stage's tunable settings that are set (e.g. history retention); the rest keep the handlers' defaults. */
  tunables?: Partial<Record<EnvSetting, string>>;
  /** Called as each phase starts or ends (bundling, observing, …): one line for a person. */
  onPhase?: (line: string) => void;
}

export interface DeployOutputs {
  websocketUrl: string;
  managementEndpoint: string;
  queueUrl: string;
  dlqUrl: string;
  /** Where the signing keys live; never a key. */
  secretLocation: string;
}

export interface DeployResult {
  stage: string;
  region: string;
  dryRun: boolean;
  changed: boolean;
  summary: Record<Action, number>;
  plan: PlanItem[];
  outputs?: DeployOutputs;
}

export function secretLocation(names: ResourceNames, region: string): string {
  return `SSM parameter ${names.parameter('signingKeys')} (SecureString, ${region})`;
}

/** What the observed resources already tell: account and partition (from any ARN), API and queues. */
export function knownIds(o: ObservedState, names: ResourceNames, region: string): KnownIds {
  const arns = [...Object.values(o.tables), ...Object.values(o.queues), ...Object.values(o.roles), ...Object.values(o.functions)].map((r) => r.arn);
  const parsed = arns.map(parseArn).find(Boolean);
  return {
    region,
    partition: parsed?.partition ?? 'aws',
    account: parsed?.account,
    apiId: o.api?.id,
    apiHost: o.api?.endpoint ? new URL(o.api.endpoint).host : undefined,
    queueUrl: o.queues[names.queue]?.url,
    dlqUrl: o.queues[names.dlq]?.url,
  };
}

export async function deploy(aws: Aws, opts: DeployOptions): Promise<DeployResult> {
  const { names } = opts;
  const phase = (line: string) => opts.onPhase?.(line);
  if (opts.build !== false) {
    phase('bundling the handlers (scripts/build.mjs --lambdas-only)…');
    if (await buildBundles()) phase('bundled');
  }
  const artifacts = await loadArtifacts(opts.bundleDir ?? defaultBundleDir());
  const kb = Math.round(Object.values(artifacts).reduce((n, a) => n + a.zip.length, 0) / 1024);
  phase(`${Object.keys(artifacts).length} handler zips ready (${kb} KB); reading what exists in ${aws.region}…`);
  const codeSha256 = Object.fromEntries(Object.entries(artifacts).map(([h, a]) => [h, a.sha256])) as Record<HandlerName, string>;

  const observed = await observe(aws, names);
  const ids = knownIds(observed, names, aws.region);
  const first = plan(desiredState({ names, ids, codeSha256, settings: opts.settings, tunables: opts.tunables }), observed);
  const result = (items: PlanItem[], outputs?: DeployOutputs): DeployResult => {
    const summary = summarize(items);
    return { stage: names.stage, region: aws.region, dryRun: Boolean(opts.dryRun), changed: summary.create + summary.update > 0, summary, plan: items, outputs };
  };
  if (opts.dryRun) return result(first);

  const ctx: ApplyContext = { aws, wait: opts.wait ?? DEFAULT_WAIT };
  const done = (item: PlanItem) => opts.onProgress?.(item);
  const at = (items: PlanItem[], kind: PlanItem['kind'], resource: string) => items.find((i) => i.kind === kind && i.resource === resource)!;
  let desired = desiredState({ names, ids, codeSha256, settings: opts.settings, tunables: opts.tunables });

  // Foundation: what the other resources' ARNs, URLs and policies are made of.
  for (const t of desired.tables) {
    const item = at(first, 'table', t.name);
    const arn = await applyTable(ctx, t, observed.tables[t.name], item);
    const parsed = parseArn(arn);
    if (parsed && !ids.account) Object.assign(ids, parsed);
    done(item);
  }
  desired = desiredState({ names, ids, codeSha256, settings: opts.settings, tunables: opts.tunables }); // the DLQ ARN needs the account
  for (const q of desired.queues) {
    const item = at(first, 'queue', q.name);
    const { url } = await applyQueue(ctx, q, observed.queues[q.name], item);
    if (q.name === names.queue) ids.queueUrl = url;
    else ids.dlqUrl = url;
    done(item);
  }
  const keysItem = at(first, 'parameter', desired.signingKeys.name);
  await applyParameter(ctx, desired.signingKeys, observed.signingKeys, keysItem);
  done(keysItem);
  const apiItem = at(first, 'api', names.api);
  const live = await applyApi(ctx, desired.api, observed.api, apiItem, ids.partition);
  ids.apiId = live.id;
  ids.apiHost = live.endpoint ? new URL(live.endpoint).host : undefined;
  done(apiItem);

  desired = desiredState({ names, ids, codeSha256, settings: opts.settings, tunables: opts.tunables });
  const items = plan(desired, observed);
  const fnName = (h: HandlerName) => names.fn(h);
  for (const g of desired.logGroups) {
    const item = at(items, 'log-group', g.name);
    await applyLogGroup(ctx, g, observed.logGroups?.[g.name], item);
    done(item);
  }
  for (const r of desired.roles) {
    const item = at(items, 'role', r.name);
    await applyRole(ctx, r, observed.roles[r.name], item);
    done(item);
  }
  for (const f of desired.functions) {
    const item = at(items, 'function', f.name);
    await applyFunction(ctx, f, observed.functions[f.name], item, artifacts[f.handler]);
    done(item);
  }
  // The API's parts in plan order: authorizer, integrations, routes, permissions, then the
  // stage, which makes them live (plan.ts says why in that order).
  const authItem = at(items, 'authorizer', desired.authorizer.name);
  await applyAuthorizer(ctx, live, desired.authorizer, authItem, ids.partition);
  done(authItem);
  for (const i of desired.integrations) {
    const item = at(items, 'integration', i.handler);
    await applyIntegration(ctx, live, i, item);
    done(item);
  }
  for (const r of desired.routes) {
    const item = at(items, 'route', r.routeKey);
    await applyRoute(ctx, live, r, item);
    done(item);
  }
  for (const p of desired.permissions) {
    const item = at(items, 'permission', `${fnName(p.handler)} ← apigateway`);
    await applyPermission(ctx, p, fnName(p.handler), item);
    done(item);
  }
  const stageItem = at(items, 'stage', names.stage);
  await applyStage(ctx, live, desired.stage, stageItem, ids.partition);
  done(stageItem);
  const apiKinds = new Set<PlanItem['kind']>(['authorizer', 'integration', 'route', 'stage']);
  if (items.some((i) => apiKinds.has(i.kind) && i.action !== 'unchanged')) {
    const status = await lastDeploymentStatus(ctx, live, names.stage);
    if (status) phase(`stage ${names.stage}: ${status}`);
  }
  const mappingItem = items.find((i) => i.kind === 'event-source-mapping')!;
  await applyMapping(ctx, desired.mapping, fnName(desired.mapping.handler), observed.mapping, mappingItem);
  done(mappingItem);

  const arns = arnsFor(names, ids);
  // The foundation items come from the first plan: they were applied from it.
  const foundation = new Set<PlanItem['kind']>(['table', 'queue', 'parameter', 'api']);
  const final = [...first.filter((i) => foundation.has(i.kind)), ...items.filter((i) => !foundation.has(i.kind))];
  return result(final, {
    websocketUrl: arns.websocketUrl,
    managementEndpoint: arns.managementEndpoint,
    queueUrl: arns.queueUrl,
    dlqUrl: arns.dlqUrl,
    secretLocation: secretLocation(names, aws.region),
  });
}
