/**
 * The running system of a deployed stage, built from what the control plane (moto) holds and
 * nothing else: starting from the stage record (its WebSocket URL and queue URL), the API's
 * stage, routes, integrations and authorizer; each function its integration, authorizer or
 * event-source mapping names, with the handler string, runtime, memory, timeout, role and
 * environment Lambda reports, and the zip whose SHA-256 equals the CodeSha256 Lambda reports;
 * the queue's mapping (batch size, ReportBatchItemFailures) and its dead-letter queue.
 *
 * `describeDeployedStage` only reads. `runDeployedStage` starts it: each function in its own
 * worker with only its configured environment plus what Lambda sets (region, name, its role's
 * credentials) and the emulator's endpoint; the local gateway (src/local/gateway.ts) wired
 * from the routes read back; the local poller (src/local/poller.ts) with the mapping's own
 * settings and the credentials of the mapped function's role, after the mapping is disabled in
 * moto (moto would otherwise hand each message to a Docker container there is none of).
 * Nothing here may reach a host other than loopback: a configured URL on the API's AWS host
 * is pointed at the local gateway, and any other non-loopback URL in a function's environment
 * is an error.
 */
import { ApiGatewayV2Client, GetApiCommand, GetAuthorizerCommand, GetIntegrationsCommand, GetRoutesCommand, GetStageCommand } from '@aws-sdk/client-apigatewayv2';
import { GetFunctionCommand, GetPolicyCommand, LambdaClient, ListEventSourceMappingsCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { AwsCredentialIdentity } from '@smithy/types';
import { startGateway, type Gateway, type Invoke } from '../../src/local/gateway.js';
import { startPoller, type Poller } from '../../src/local/poller.js';
import { sha256 } from '../../src/deploy/bundle.js';
import { runFunction, type RunningFunction } from './lambda-zip.js';

export interface DeployedFunctionConfig {
  name: string;
  arn: string;
  handler: string;
  runtime: string;
  role: string;
  timeout: number;
  memory: number;
  env: Record<string, string>;
  zip: Buffer;
  /** Source ARN patterns that may invoke it through API Gateway (its resource policy). */
  apiGatewaySources: string[];
}

export interface DeployedStageDescription {
  region: string;
  account: string;
  apiId: string;
  /** Host of the API's own endpoint, e.g. abc.execute-api.us-east-1.amazonaws.com. */
  apiHost: string;
  stage: string;
  routeSelectionExpression: string;
  /** Route key → function name; `authorized` says whether it runs the authorizer. */
  routes: Record<string, { fn: string; authorized: boolean }>;
  authorizer?: { fn: string; identitySource: string[] };
  functions: Record<string, DeployedFunctionConfig>;
  queue: { url: string; arn: string };
  dlq: { url: string; arn: string };
  mapping: { uuid: string; fn: string; batchSize: number; reportBatchItemFailures: boolean; enabled: boolean };
}

export interface ControlPlane {
  endpoint: string;
  region: string;
  credentials: AwsCredentialIdentity;
}

/** A control-plane read whose failure says what was being read. */
async function read<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    throw Object.assign(new Error(`reading ${what} from the control plane failed (HTTP ${status}): ${(err as Error).message.split('\n')[0]}`), { cause: err });
  }
}

const fnNameOf = (uri: string | undefined) => /:function:([A-Za-z0-9_-]+)/.exec(uri ?? '')?.[1];

/** The WebSocket gateway the local stack emulates selects routes this way only (docs/api-gateway-websocket.md §3). */
const SUPPORTED_SELECTION = '$request.body.action';

export async function describeDeployedStage(
  cp: ControlPlane,
  record: { stage: string; websocketUrl: string; queueUrl: string },
  /** The zips this test uploaded, by base64 SHA-256: the only code it is willing to run. */
  uploaded: Buffer[],
): Promise<DeployedStageDescription> {
  const config = { region: cp.region, endpoint: cp.endpoint, credentials: cp.credentials };
  const apigw = new ApiGatewayV2Client(config);
  const lambda = new LambdaClient(config);
  const sqs = new SQSClient(config);
  try {
    const wss = new URL(record.websocketUrl);
    const apiId = wss.hostname.split('.')[0];
    const stageName = wss.pathname.replace(/^\//, '');
    const api = await read(`API ${apiId}`, apigw.send(new GetApiCommand({ ApiId: apiId })));
    const stage = await read(`stage ${stageName}`, apigw.send(new GetStageCommand({ ApiId: apiId, StageName: stageName })));
    // Without auto-deploy, what the API holds is not what its stage serves (there is no deployment here to look at).
    if (stage.AutoDeploy !== true) throw new Error(`stage ${stageName} does not auto-deploy`);
    if (api.RouteSelectionExpression !== SUPPORTED_SELECTION) throw new Error(`route selection ${api.RouteSelectionExpression} is not ${SUPPORTED_SELECTION}`);
    const integrations = new Map(((await read('integrations', apigw.send(new GetIntegrationsCommand({ ApiId: apiId })))).Items ?? []).map((i) => [`integrations/${i.IntegrationId}`, i]));
    const routes: DeployedStageDescription['routes'] = {};
    let authorizerId: string | undefined;
    for (const r of (await read('routes', apigw.send(new GetRoutesCommand({ ApiId: apiId })))).Items ?? []) {
      const integration = integrations.get(r.Target ?? '');
      if (!integration) throw new Error(`route ${r.RouteKey} targets ${r.Target}, which is no integration of the API`);
      if (integration.IntegrationType !== 'AWS_PROXY') throw new Error(`route ${r.RouteKey}: integration type ${integration.IntegrationType}, not AWS_PROXY`);
      const fn = fnNameOf(integration.IntegrationUri);
      if (!fn) throw new Error(`route ${r.RouteKey}: integration URI ${integration.IntegrationUri} names no function`);
      const authorized = r.AuthorizationType === 'CUSTOM';
      if (authorized) {
        if (r.RouteKey !== '$connect') throw new Error(`route ${r.RouteKey} has an authorizer; WebSocket APIs run one only on $connect`);
        authorizerId = r.AuthorizerId;
      }
      routes[r.RouteKey!] = { fn, authorized };
    }
    let authorizer: DeployedStageDescription['authorizer'];
    if (authorizerId) {
      const a = await read(`authorizer ${authorizerId}`, apigw.send(new GetAuthorizerCommand({ ApiId: apiId, AuthorizerId: authorizerId })));
      if (a.AuthorizerType !== 'REQUEST') throw new Error(`authorizer ${a.Name} is ${a.AuthorizerType}, not REQUEST`);
      const fn = fnNameOf(a.AuthorizerUri);
      if (!fn) throw new Error(`authorizer URI ${a.AuthorizerUri} names no function`);
      authorizer = { fn, identitySource: a.IdentitySource ?? [] };
    }

    const attrs = (await read('queue attributes', sqs.send(new GetQueueAttributesCommand({ QueueUrl: record.queueUrl, AttributeNames: ['QueueArn', 'RedrivePolicy'] })))).Attributes ?? {};
    const dlqArn = (JSON.parse(attrs.RedrivePolicy ?? '{}') as { deadLetterTargetArn?: string }).deadLetterTargetArn;
    if (!dlqArn) throw new Error(`queue ${record.queueUrl} has no dead-letter queue`);
    const dlqUrl = (await read('dead-letter queue URL', sqs.send(new GetQueueUrlCommand({ QueueName: dlqArn.split(':').pop() })))).QueueUrl!;
    // Listed unfiltered: moto's signature check fails on an ARN in the query string (EventSourceArn=arn%3A…).
    const all = (await read('event-source mappings', lambda.send(new ListEventSourceMappingsCommand({})))).EventSourceMappings ?? [];
    const mappings = all.filter((x) => x.EventSourceArn === attrs.QueueArn);
    if (mappings.length !== 1) throw new Error(`${mappings.length} event-source mappings on ${attrs.QueueArn}, expected one`);
    const m = mappings[0];
    const mappedFn = fnNameOf(m.FunctionArn);
    if (!mappedFn) throw new Error(`mapping ${m.UUID} names no function`);

    const byCode = new Map(uploaded.map((zip) => [sha256(zip), zip]));
    const functions: DeployedStageDescription['functions'] = {};
    const names = new Set([...Object.values(routes).map((r) => r.fn), ...(authorizer ? [authorizer.fn] : []), mappedFn]);
    let account = '';
    for (const name of names) {
      const c = (await read(`function ${name}`, lambda.send(new GetFunctionCommand({ FunctionName: name })))).Configuration!;
      const zip = byCode.get(c.CodeSha256 ?? '');
      if (!zip) throw new Error(`function ${name}: its CodeSha256 ${c.CodeSha256} is no zip this test uploaded`);
      if (!/^nodejs(2\d|[3-9]\d)\.x$/.test(c.Runtime ?? '')) throw new Error(`function ${name}: runtime ${c.Runtime} is not a Node.js 20+ runtime the bundles target`);
      let policy: { Statement?: Array<{ Principal?: { Service?: string }; Action?: string; Condition?: { ArnLike?: Record<string, string> } }> } = {};
      try {
        policy = JSON.parse((await lambda.send(new GetPolicyCommand({ FunctionName: name }))).Policy ?? '{}');
      } catch (err) {
        if ((err as Error).name !== 'ResourceNotFoundException') throw err;
      }
      account = c.FunctionArn!.split(':')[4];
      functions[name] = {
        name,
        arn: c.FunctionArn!,
        handler: c.Handler!,
        runtime: c.Runtime!,
        role: c.Role!,
        timeout: c.Timeout!,
        memory: c.MemorySize!,
        env: c.Environment?.Variables ?? {},
        zip,
        apiGatewaySources: (policy.Statement ?? [])
          .filter((s) => s.Principal?.Service === 'apigateway.amazonaws.com' && s.Action === 'lambda:InvokeFunction')
          .map((s) => s.Condition?.ArnLike?.['AWS:SourceArn'] ?? '*'),
      };
    }
    return {
      region: cp.region,
      account,
      apiId,
      apiHost: new URL(api.ApiEndpoint!).host,
      stage: stageName,
      routeSelectionExpression: api.RouteSelectionExpression!,
      routes,
      authorizer,
      functions,
      queue: { url: record.queueUrl, arn: attrs.QueueArn! },
      dlq: { url: dlqUrl, arn: dlqArn },
      mapping: {
        uuid: m.UUID!,
        fn: mappedFn,
        batchSize: m.BatchSize!,
        reportBatchItemFailures: (m.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
        enabled: m.State === 'Enabled' || m.State === 'Enabling',
      },
    };
  } finally {
    for (const c of [apigw, lambda, sqs]) c.destroy();
  }
}

/** IAM ARN matching for a SourceArn condition: `*` and `?` wildcards. */
function arnLike(pattern: string, arn: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.split('?').map((q) => q.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('.')).join('.*')}$`);
  return re.test(arn);
}

export interface RunningStage {
  gateway: Gateway;
  poller: Poller;
  functions: Record<string, RunningFunction>;
  /** Every handler's log lines, for a failure message. */
  logs(): string;
  close(): Promise<void>;
}

export async function runDeployedStage(
  cp: ControlPlane,
  d: DeployedStageDescription,
  /** The credentials a function runs with: those of its role (AssumeRole), as on Lambda. */
  roleCredentials: (roleArn: string) => AwsCredentialIdentity,
): Promise<RunningStage> {
  const running: Record<string, RunningFunction> = {};
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    if (d.mapping.enabled) {
      const lambda = new LambdaClient({ region: cp.region, endpoint: cp.endpoint, credentials: cp.credentials });
      await lambda.send(new UpdateEventSourceMappingCommand({ UUID: d.mapping.uuid, Enabled: false })).finally(() => lambda.destroy());
    }
    // API Gateway invokes a function only if its resource policy lets this API's route do so.
    const viaApi = (fn: string, routeKey: string): Invoke => async (event) => {
      const sourceArn = `arn:aws:execute-api:${d.region}:${d.account}:${d.apiId}/${d.stage}/${routeKey}`;
      if (!d.functions[fn].apiGatewaySources.some((p) => arnLike(p, sourceArn))) {
        throw new Error(`API Gateway may not invoke ${fn} for ${sourceArn} (no lambda:InvokeFunction permission for it)`);
      }
      return running[fn].invoke(event);
    };
    const gateway = await startGateway({
      host: '127.0.0.1',
      port: 0,
      stage: d.stage,
      apiId: d.apiId,
      region: d.region,
      accountId: d.account,
      ...(d.routes.$connect?.authorized && d.authorizer
        ? { authorizer: viaApi(d.authorizer.fn, '$connect'), identitySources: d.authorizer.identitySource }
        : {}),
      routes: Object.fromEntries(Object.entries(d.routes).map(([key, r]) => [key, viaApi(r.fn, key)])),
    });
    closers.push(() => gateway.close());
    const local = new URL(gateway.managementEndpoint);
    // Cold starts in parallel, as Lambda's are; all settle before a failure is reported, so none is left running.
    const started = await Promise.allSettled(Object.values(d.functions).map(async (f) => {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(f.env)) {
        // The API's own endpoint is served by the local gateway; nothing else may leave loopback.
        const value = v.startsWith(`https://${d.apiHost}/`) ? `${local.origin}/${v.slice(`https://${d.apiHost}/`.length)}` : v;
        const host = /^\w+:\/\/([^/:]+)/.exec(value)?.[1];
        if (host && host !== '127.0.0.1' && host !== 'localhost') throw new Error(`function ${f.name}: ${k} points at ${host}, which this test may not reach`);
        env[k] = value;
      }
      const creds = roleCredentials(f.role);
      running[f.name] = await runFunction({
        name: f.name,
        zip: f.zip,
        handler: f.handler,
        timeoutSeconds: f.timeout,
        memoryMb: f.memory,
        region: d.region,
        account: d.account,
        env: {
          ...env,
          // What Lambda sets for every function, and the emulator's endpoint for every service.
          AWS_REGION: d.region,
          AWS_DEFAULT_REGION: d.region,
          AWS_LAMBDA_FUNCTION_NAME: f.name,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(f.memory),
          AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
          AWS_EXECUTION_ENV: `AWS_Lambda_${f.runtime}`,
          _HANDLER: f.handler,
          AWS_ACCESS_KEY_ID: creds.accessKeyId,
          AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
          ...(creds.sessionToken ? { AWS_SESSION_TOKEN: creds.sessionToken } : {}),
          AWS_ENDPOINT_URL: cp.endpoint,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
      });
      closers.push(() => running[f.name].close());
    }));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    // Lambda polls the queue with the mapped function's role.
    const pollerSqs = new SQSClient({ region: d.region, endpoint: cp.endpoint, credentials: roleCredentials(d.functions[d.mapping.fn].role) });
    closers.push(async () => pollerSqs.destroy());
    const pollerLog: string[] = [];
    const poller = startPoller({
      sqs: pollerSqs,
      queueUrl: d.queue.url,
      queueArn: d.queue.arn,
      region: d.region,
      fn: running[d.mapping.fn],
      batchSize: d.mapping.batchSize,
      reportBatchItemFailures: d.mapping.reportBatchItemFailures,
      concurrency: 1,
      waitTimeSeconds: 1,
      logger: { info: (l) => pollerLog.push(String(l)), warn: (l) => pollerLog.push(String(l)), error: (l) => pollerLog.push(String(l)) },
    });
    closers.push(() => poller.stop());
    return {
      gateway,
      poller,
      functions: running,
      logs: () => [...pollerLog.map((l) => `poller: ${l}`), ...Object.values(running).flatMap((f) => f.logs.map((l) => `${f.name}: ${l}`))].join('\n'),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
