/**
 * Apply: the WebSocket API and what hangs off it (authorizer, integrations, routes, stage).
 * `live` starts as the observed API and records each id as it is created, so routes can point
 * at integrations and the authorizer made moments earlier. The stage auto-deploys: there is no
 * deployment call, and every change below goes live as it is made (docs/deploy.md).
 */
import {
  CreateApiCommand, CreateAuthorizerCommand, CreateIntegrationCommand, CreateRouteCommand, CreateStageCommand,
  GetStageCommand, TagResourceCommand, UpdateApiCommand, UpdateAuthorizerCommand, UpdateIntegrationCommand,
  UpdateRouteCommand, UpdateStageCommand,
} from '@aws-sdk/client-apigatewayv2';
import type { ApplyContext } from './apply-data.js';
import { AUTHORIZER_TAG } from './spec.js';
import { stageSettingChanges } from './plan.js';
import type { ApiSpec, AuthorizerSpec, IntegrationSpec, ObservedApi, PlanItem, RouteSpec, StageSpec } from './types.js';

const hasTagChange = (item: PlanItem) => item.changes.some((c) => c.startsWith('tag '));

export function apiArn(region: string, partition: string, apiId: string, stage?: string): string {
  return `arn:${partition}:apigateway:${region}::/apis/${apiId}${stage ? `/stages/${stage}` : ''}`;
}

export async function applyApi(ctx: ApplyContext, d: ApiSpec, o: ObservedApi | undefined, item: PlanItem, partition: string): Promise<ObservedApi> {
  const send = ctx.aws.apigateway.at(`api ${d.name}`);
  if (item.action === 'create') {
    const api = await send(
      new CreateApiCommand({ Name: d.name, ProtocolType: 'WEBSOCKET', RouteSelectionExpression: d.routeSelectionExpression, Tags: d.tags }),
    );
    return { id: api.ApiId!, endpoint: api.ApiEndpoint, routeSelectionExpression: api.RouteSelectionExpression, tags: d.tags, integrations: {}, routes: {} };
  }
  const live: ObservedApi = { ...o!, integrations: { ...o!.integrations }, routes: { ...o!.routes } };
  if (item.action === 'update') {
    if (o!.routeSelectionExpression !== d.routeSelectionExpression) {
      await send(new UpdateApiCommand({ ApiId: live.id, RouteSelectionExpression: d.routeSelectionExpression }));
    }
    if (hasTagChange(item)) await send(new TagResourceCommand({ ResourceArn: apiArn(ctx.aws.region, partition, live.id), Tags: d.tags }));
  }
  return live;
}

export async function applyAuthorizer(ctx: ApplyContext, live: ObservedApi, d: AuthorizerSpec, item: PlanItem, partition: string): Promise<void> {
  const send = ctx.aws.apigateway.at(`authorizer ${d.name}`);
  const fields = { AuthorizerUri: d.uri, IdentitySource: d.identitySource };
  if (item.action === 'create') {
    const a = await send(new CreateAuthorizerCommand({ ApiId: live.id, Name: d.name, AuthorizerType: 'REQUEST', ...fields }));
    live.authorizer = { id: a.AuthorizerId!, name: d.name, uri: d.uri, identitySource: d.identitySource };
    // Until $connect names it, this tag is the only way to find it again (observe.ts).
    await send(new TagResourceCommand({ ResourceArn: apiArn(ctx.aws.region, partition, live.id), Tags: { [AUTHORIZER_TAG]: a.AuthorizerId! } }));
  } else if (item.action === 'update') {
    await send(new UpdateAuthorizerCommand({ ApiId: live.id, AuthorizerId: live.authorizer!.id, AuthorizerType: 'REQUEST', ...fields }));
  }
}

export async function applyIntegration(ctx: ApplyContext, live: ObservedApi, d: IntegrationSpec, item: PlanItem): Promise<void> {
  const send = ctx.aws.apigateway.at(`integration ${d.handler}`);
  // WebSocket Lambda proxy integrations are always POSTed to Lambda's invoke API.
  const fields = { IntegrationType: 'AWS_PROXY' as const, IntegrationUri: d.uri, IntegrationMethod: 'POST' };
  if (item.action === 'create') {
    const i = await send(new CreateIntegrationCommand({ ApiId: live.id, Description: `hermes ${d.handler}`, ...fields }));
    live.integrations[d.handler] = { id: i.IntegrationId!, uri: d.uri, type: 'AWS_PROXY' };
  } else if (item.action === 'update') {
    await send(new UpdateIntegrationCommand({ ApiId: live.id, IntegrationId: live.integrations[d.handler]!.id, ...fields }));
  }
}

/**
 * A route that runs the authorizer is created, and updated, with its AuthorizationType and
 * AuthorizerId in the same call: on a live auto-deploying stage there is no moment at which
 * `$connect` runs without its authorizer.
 */
export async function applyRoute(ctx: ApplyContext, live: ObservedApi, d: RouteSpec, item: PlanItem): Promise<void> {
  const send = ctx.aws.apigateway.at(`route ${d.routeKey}`);
  const fields = {
    Target: `integrations/${live.integrations[d.handler]!.id}`,
    AuthorizationType: d.authorizer ? ('CUSTOM' as const) : ('NONE' as const),
    ...(d.authorizer ? { AuthorizerId: live.authorizer!.id } : {}),
  };
  if (item.action === 'create') {
    const r = await send(new CreateRouteCommand({ ApiId: live.id, RouteKey: d.routeKey, ...fields }));
    live.routes[d.routeKey] = { id: r.RouteId!, target: fields.Target, authorizationType: fields.AuthorizationType };
  } else if (item.action === 'update') {
    await send(new UpdateRouteCommand({ ApiId: live.id, RouteId: live.routes[d.routeKey].id, ...fields }));
  }
}

/** Created last among the API's parts (plan.ts): an auto-deploying stage is live at once. */
export async function applyStage(ctx: ApplyContext, live: ObservedApi, d: StageSpec, item: PlanItem, partition: string): Promise<void> {
  const send = ctx.aws.apigateway.at(`stage ${d.name}`);
  const settings = {
    AutoDeploy: d.autoDeploy,
    DefaultRouteSettings: { ThrottlingBurstLimit: d.throttling.burstLimit, ThrottlingRateLimit: d.throttling.rateLimit },
    ...(d.accessLog ? { AccessLogSettings: { DestinationArn: d.accessLog.destinationArn, Format: d.accessLog.format } } : {}),
  };
  if (item.action === 'create') {
    await send(new CreateStageCommand({ ApiId: live.id, StageName: d.name, ...settings, Tags: d.tags, Description: `hermes stage ${d.name}` }));
    return;
  }
  if (item.action !== 'update') return;
  // Turning access logging off is DeleteAccessLogSettings on AWS; hermes leaves it to the console.
  if (live.stage && stageSettingChanges(d, live.stage).length) await send(new UpdateStageCommand({ ApiId: live.id, StageName: d.name, ...settings }));
  if (hasTagChange(item)) await send(new TagResourceCommand({ ResourceArn: apiArn(ctx.aws.region, partition, live.id, d.name), Tags: d.tags }));
}

/**
 * What API Gateway says about the stage's last automatic deployment (AWS fills
 * LastDeploymentStatusMessage for auto-deploying stages; moto does not), to show after a
 * deploy that changed the API.
 */
export async function lastDeploymentStatus(ctx: ApplyContext, live: ObservedApi, stage: string): Promise<string | undefined> {
  const s = await ctx.aws.apigateway.at(`stage ${stage}`)(new GetStageCommand({ ApiId: live.id, StageName: stage }));
  return s.LastDeploymentStatusMessage || undefined;
}
