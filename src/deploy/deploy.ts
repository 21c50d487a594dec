/**
 * Deploy = observe → plan → apply. The plan is computed once with what is known up front (a
 * dry run prints it), then again after the tables, queues and API exist, when the ids every
 * other resource refers to (account, API id, queue URLs) are known. Resources whose plan item
 * is `unchanged` get no call at all, so a second deploy of the same code mutates nothing.
 */
import type { ResourceNames } from '../stack/names.js';
import type { EnvSetting, HandlerName } from '../stack/definition.js';
import { ENV } from '../stack/definition.js';
import { generateJwtSecret } from '../core/tokens.js';
import type { Aws } from './aws.js';
import { arnsFor, parseArn, type KnownIds } from './arns.js';
import { buildBundles, defaultBundleDir, loadArtifacts } from './bundle.js';
import { observe } from './observe.js';
import { plan, summarize } from './plan.js';
import { desiredState } from './spec.js';
import { applyQueue, applyTable, type ApplyContext } from './apply-data.js';
import { applyFunction, applyMapping, applyPermission, applyRole } from './apply-compute.js';
import { applyApi, applyAuthorizer, applyDeployment, applyIntegration, applyRoute, applyStage } from './apply-api.js';
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
  /** The stage's tunable settings that are set (e.g. history retention); the rest keep the handlers' defaults. */
  tunables?: Partial<Record<EnvSetting, string>>;
}

export interface DeployOutputs {
  websocketUrl: string;
  managementEndpoint: string;
  queueUrl: string;
  dlqUrl: string;
  /** Where the JWT secret lives; never the secret. */
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
  return `in the environment of function ${names.fn('authorizer')} (${region})`;
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
  if (opts.build !== false) await buildBundles();
  const artifacts = await loadArtifacts(opts.bundleDir ?? defaultBundleDir());
  const codeSha256 = Object.fromEntries(Object.entries(artifacts).map(([h, a]) => [h, a.sha256])) as Record<HandlerName, string>;

  const observed = await observe(aws, names);
  // Keep the deployed signing key: replacing it would invalidate every token already issued.
  const jwtSecret = observed.functions[names.fn('authorizer')]?.env[ENV.jwtSecret] || generateJwtSecret();
  const ids = knownIds(observed, names, aws.region);
  const first = plan(desiredState({ names, ids, codeSha256, jwtSecret, tunables: opts.tunables }), observed);
  const result = (items: PlanItem[], outputs?: DeployOutputs): DeployResult => {
    const summary = summarize(items);
    return { stage: names.stage, region: aws.region, dryRun: Boolean(opts.dryRun), changed: summary.create + summary.update > 0, summary, plan: items, outputs };
  };
  if (opts.dryRun) return result(first);

  const ctx: ApplyContext = { aws, wait: opts.wait ?? DEFAULT_WAIT };
  const done = (item: PlanItem) => opts.onProgress?.(item);
  const at = (items: PlanItem[], kind: PlanItem['kind'], resource: string) => items.find((i) => i.kind === kind && i.resource === resource)!;
  let desired = desiredState({ names, ids, codeSha256, jwtSecret, tunables: opts.tunables });

  // Foundation: what the other resources' ARNs, URLs and policies are made of.
  for (const t of desired.tables) {
    const item = at(first, 'table', t.name);
    const arn = await applyTable(ctx, t, observed.tables[t.name], item);
    const parsed = parseArn(arn);
    if (parsed && !ids.account) Object.assign(ids, parsed);
    done(item);
  }
  desired = desiredState({ names, ids, codeSha256, jwtSecret, tunables: opts.tunables }); // the DLQ ARN needs the account
  for (const q of desired.queues) {
    const item = at(first, 'queue', q.name);
    const { url } = await applyQueue(ctx, q, observed.queues[q.name], item);
    if (q.name === names.queue) ids.queueUrl = url;
    else ids.dlqUrl = url;
    done(item);
  }
  const apiItem = at(first, 'api', names.api);
  const live = await applyApi(ctx, desired.api, observed.api, apiItem, ids.partition);
  ids.apiId = live.id;
  ids.apiHost = live.endpoint ? new URL(live.endpoint).host : undefined;
  done(apiItem);

  desired = desiredState({ names, ids, codeSha256, jwtSecret, tunables: opts.tunables });
  const items = plan(desired, observed);
  const fnName = (h: HandlerName) => names.fn(h);
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
  const authItem = at(items, 'authorizer', desired.authorizer.name);
  await applyAuthorizer(ctx, live, desired.authorizer, authItem);
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
  const stageItem = at(items, 'stage', names.stage);
  await applyStage(ctx, live, desired.stage, stageItem, ids.partition);
  done(stageItem);
  for (const p of desired.permissions) {
    const item = at(items, 'permission', `${fnName(p.handler)} ← apigateway`);
    await applyPermission(ctx, p, fnName(p.handler), item);
    done(item);
  }
  const deployment = at(items, 'deployment', names.stage);
  await applyDeployment(ctx, live, names.stage, deployment);
  done(deployment);
  const mappingItem = items.find((i) => i.kind === 'event-source-mapping')!;
  await applyMapping(ctx, desired.mapping, fnName(desired.mapping.handler), observed.mapping, mappingItem);
  done(mappingItem);

  const arns = arnsFor(names, ids);
  // The foundation items come from the first plan: they were applied from it.
  const final = [...first.filter((i) => ['table', 'queue', 'api'].includes(i.kind)), ...items.filter((i) => !['table', 'queue', 'api'].includes(i.kind))];
  return result(final, {
    websocketUrl: arns.websocketUrl,
    managementEndpoint: arns.managementEndpoint,
    queueUrl: arns.queueUrl,
    dlqUrl: arns.dlqUrl,
    secretLocation: secretLocation(names, aws.region),
  });
}
