/**
 * `hermes deploy` and `hermes destroy` against moto_server (IAM, Lambda, API Gateway v2, SQS,
 * DynamoDB): deploy, check every resource through describe/get calls, deploy again and see no
 * mutating call, change one handler and see only that function change, destroy and see
 * everything gone. Skipped, with a message, where moto_server is not installed.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable, Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { DescribeTableCommand, DescribeTimeToLiveCommand, ListTablesCommand, ListTagsOfResourceCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListQueuesCommand, ListQueueTagsCommand } from '@aws-sdk/client-sqs';
import { GetRoleCommand, GetRolePolicyCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import {
  GetFunctionCommand, GetPolicyCommand, ListEventSourceMappingsCommand, ListFunctionsCommand, UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { GetApisCommand, GetAuthorizerCommand, GetIntegrationsCommand, GetRoutesCommand, GetStageCommand } from '@aws-sdk/client-apigatewayv2';
import { motoAvailable, startMoto, mutationCounter, motoApiGatewayShim, type Moto } from './helpers/moto.js';
import { cli } from './helpers/cli.js';
import { createAws, type Aws } from '../src/deploy/aws.js';
import { createContext } from '../src/cli/context.js';
import { runDeploy } from '../src/cli/commands/deploy.js';
import { loadArtifacts, defaultBundleDir, projectRoot } from '../src/deploy/bundle.js';
import { resourceNames } from '../src/stack/names.js';
import { HANDLER_NAMES } from '../src/stack/definition.js';
import type { DeployResult } from '../src/deploy/deploy.js';

const STAGE = 'itest';
const REGION = 'us-east-1';
const names = resourceNames(STAGE);
const available = motoAvailable();
if (!available) console.warn('deploy-moto: moto_server is not on PATH; skipped the deploy/destroy integration tests (pip install "moto[server]").');

let moto: Moto;
let aws: Aws;
let bundleDir: string;
let stateDir: string;
const counter = mutationCounter();
const shim = motoApiGatewayShim();
const fast = { intervalMs: 50, timeoutMs: 20_000 };

function capture() {
  let text = '';
  const stream = new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) });
  return { stream, text: () => text };
}

/** Deploy in-process through the CLI's own run function, with the counted, shimmed clients. */
async function deploy(flags: { dryRun?: boolean } = {}) {
  const out = capture();
  const err = capture();
  const ctx = createContext(
    { stage: STAGE, region: REGION, endpointUrl: moto.endpoint, stateDir },
    { stdout: out.stream, stderr: err.stream, stdin: Readable.from([]), env: {}, cwd: stateDir, isTTY: false },
    new AbortController().signal,
  );
  counter.reset();
  const result = await runDeploy(ctx, { ...flags, build: false }, { aws, bundleDir, wait: fast });
  return { data: result.data as DeployResult & { stageRecord?: string }, text: result.text ?? '', stderr: err.text(), mutations: [...counter.calls] };
}

const cliArgs = () => ['--stage', STAGE, '--region', REGION, '--endpoint-url', moto.endpoint, '--state-dir', stateDir];

describe.skipIf(!available)('deploy and destroy against moto', () => {
  beforeAll(async () => {
    moto = await startMoto();
    // A private copy of the bundles: concurrent rebuilds of dist/ must not change the code
    // between deploys, and one test edits a bundle.
    if (!existsSync(path.join(defaultBundleDir(), 'connect', 'index.mjs'))) {
      execFileSync(process.execPath, [path.join(projectRoot(), 'scripts', 'build.mjs'), '--quiet']);
    }
    bundleDir = mkdtempSync(path.join(tmpdir(), 'hermes-bundles-'));
    cpSync(defaultBundleDir(), bundleDir, { recursive: true });
    stateDir = mkdtempSync(path.join(tmpdir(), 'hermes-deploy-state-'));
    aws = await createAws({
      region: REGION,
      endpoint: moto.endpoint,
      configure: (client, service) => {
        counter.configure(client, service);
        shim.configure(client, service);
      },
    });
  }, 60_000);

  afterAll(async () => {
    aws?.destroy();
    await moto?.stop();
    for (const d of [bundleDir, stateDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('--dry-run on an empty account plans every resource as create and changes nothing', async () => {
    const r = await cli(['deploy', ...cliArgs(), '--dry-run', '--no-build', '--json'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const data = JSON.parse(r.stdout) as DeployResult;
    expect(data.dryRun).toBe(true);
    expect(data.plan).toHaveLength(38);
    expect(data.plan.every((i) => i.action === 'create')).toBe(true);
    expect((await aws.lambda.at('test')(new ListFunctionsCommand({}))).Functions ?? []).toEqual([]);
    expect((await aws.dynamodb.at('test')(new ListTablesCommand({}))).TableNames ?? []).toEqual([]);
    expect((await aws.apigateway.at('test')(new GetApisCommand({}))).Items ?? []).toEqual([]);
    expect(existsSync(path.join(stateDir, 'stages', `${STAGE}.json`))).toBe(false);
  });

  it('creates every resource, reports progress per resource, prints the URLs and records the stage', async () => {
    const r = await deploy();
    expect(r.data.summary).toEqual({ create: 38, update: 0, unchanged: 0, delete: 0 });
    expect(r.stderr).toContain(`✓ table ${names.connectionsTable} created`);
    expect(r.stderr).toContain(`✓ function ${names.fn('authorizer')} created`);
    expect(r.stderr).toContain('✓ event source mapping');
    expect(r.stderr.split('\n').filter((l) => l.startsWith('✓'))).toHaveLength(38);
    const apiId = (await aws.apigateway.at('test')(new GetApisCommand({}))).Items![0].ApiId!;
    expect(r.text).toContain(`WebSocket URL:        wss://${apiId}.execute-api.${REGION}.amazonaws.com/${STAGE}`);
    expect(r.text).toContain(`Management endpoint:  https://${apiId}.execute-api.${REGION}.amazonaws.com/${STAGE}`);
    expect(r.text).toContain(`Queue URL:            ${moto.endpoint}/123456789012/${names.queue}`);
    expect(r.text).toContain(`JWT secret:           in the environment of function ${names.fn('authorizer')}`);
    const record = JSON.parse(readFileSync(r.data.stageRecord!, 'utf8'));
    expect(record).toMatchObject({
      stage: STAGE,
      region: REGION,
      endpoints: { websocket: `wss://${apiId}.execute-api.${REGION}.amazonaws.com/${STAGE}`, management: `https://${apiId}.execute-api.${REGION}.amazonaws.com/${STAGE}` },
      queueUrl: `${moto.endpoint}/123456789012/${names.queue}`,
      dlqUrl: `${moto.endpoint}/123456789012/${names.dlq}`,
      secretLocation: expect.stringContaining(names.fn('authorizer')),
    });
    // The secret is in the authorizer's environment and nowhere in the output or the record.
    const secret = (await aws.lambda.at('test')(new GetFunctionCommand({ FunctionName: names.fn('authorizer') }))).Configuration!.Environment!.Variables!.HERMES_JWT_SECRET!;
    expect(secret.length).toBeGreaterThanOrEqual(64);
    for (const text of [r.text, r.stderr, JSON.stringify(r.data), readFileSync(r.data.stageRecord!, 'utf8')]) expect(text).not.toContain(secret);
  });

  it('configured the tables: keys, indexes, on-demand billing, TTL, tags', async () => {
    const send = aws.dynamodb.at('test');
    const conn = (await send(new DescribeTableCommand({ TableName: names.connectionsTable }))).Table!;
    expect(conn.KeySchema).toEqual([{ AttributeName: 'connection_id', KeyType: 'HASH' }]);
    expect(conn.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(conn.GlobalSecondaryIndexes!.map((i) => [i.IndexName, i.KeySchema, i.Projection?.ProjectionType]).sort()).toEqual([
      ['room_id-index', [{ AttributeName: 'room_id', KeyType: 'HASH' }, { AttributeName: 'connection_id', KeyType: 'RANGE' }], 'ALL'],
      ['user_id-index', [{ AttributeName: 'user_id', KeyType: 'HASH' }, { AttributeName: 'connection_id', KeyType: 'RANGE' }], 'ALL'],
    ]);
    const tokens = (await send(new DescribeTableCommand({ TableName: names.tokensTable }))).Table!;
    expect(tokens.KeySchema).toEqual([
      { AttributeName: 'user_id', KeyType: 'HASH' },
      { AttributeName: 'token_id', KeyType: 'RANGE' },
    ]);
    expect(tokens.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    for (const t of [conn, tokens]) {
      expect((await send(new DescribeTimeToLiveCommand({ TableName: t.TableName }))).TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expires_at' });
      expect((await send(new ListTagsOfResourceCommand({ ResourceArn: t.TableArn }))).Tags).toEqual(
        expect.arrayContaining([{ Key: 'hermes:stage', Value: STAGE }, { Key: 'hermes:managed', Value: 'true' }]),
      );
    }
  });

  it('configured the queues: redrive to the DLQ after 5 receives, visibility 180 s, tags', async () => {
    const send = aws.sqs.at('test');
    const url = (n: string) => send(new GetQueueUrlCommand({ QueueName: n })).then((r) => r.QueueUrl!);
    const q = (await send(new GetQueueAttributesCommand({ QueueUrl: await url(names.queue), AttributeNames: ['All'] }))).Attributes!;
    const dlq = (await send(new GetQueueAttributesCommand({ QueueUrl: await url(names.dlq), AttributeNames: ['All'] }))).Attributes!;
    expect(q.VisibilityTimeout).toBe('180');
    expect(JSON.parse(q.RedrivePolicy!)).toEqual({ deadLetterTargetArn: dlq.QueueArn, maxReceiveCount: 5 });
    for (const n of [names.queue, names.dlq]) {
      expect((await send(new ListQueueTagsCommand({ QueueUrl: await url(n) }))).Tags).toMatchObject({ 'hermes:stage': STAGE, 'hermes:managed': 'true' });
    }
  });

  it('configured one role per function with its own inline policy and the trust policy for Lambda', async () => {
    const send = aws.iam.at('test');
    for (const h of HANDLER_NAMES) {
      const role = (await send(new GetRoleCommand({ RoleName: names.role(h) }))).Role!;
      expect(JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!)).Statement[0].Principal).toEqual({ Service: 'lambda.amazonaws.com' });
      expect(role.Tags).toEqual(expect.arrayContaining([{ Key: 'hermes:stage', Value: STAGE }]));
      const doc = JSON.parse(decodeURIComponent((await send(new GetRolePolicyCommand({ RoleName: names.role(h), PolicyName: `hermes-${h}` }))).PolicyDocument!));
      for (const s of doc.Statement) for (const res of s.Resource) expect(res).not.toBe('*');
    }
    const sm = JSON.parse(decodeURIComponent((await send(new GetRolePolicyCommand({ RoleName: names.role('send-message'), PolicyName: 'hermes-send-message' }))).PolicyDocument!));
    const apiId = (await aws.apigateway.at('test')(new GetApisCommand({}))).Items![0].ApiId!;
    expect(sm.Statement.find((s: { Sid: string }) => s.Sid === 'FanOut').Resource).toEqual([`arn:aws:execute-api:${REGION}:123456789012:${apiId}/${STAGE}/POST/@connections/*`]);
  });

  it('configured every function: runtime, handler, memory, timeout, role, environment, code, tags, invoke permission', async () => {
    const send = aws.lambda.at('test');
    const artifacts = await loadArtifacts(bundleDir);
    const apiId = (await aws.apigateway.at('test')(new GetApisCommand({}))).Items![0].ApiId!;
    const memory = { authorizer: 1024, connect: 256, disconnect: 256, 'send-message': 512, resume: 256, default: 256 };
    for (const h of HANDLER_NAMES) {
      const fn = await send(new GetFunctionCommand({ FunctionName: names.fn(h) }));
      const c = fn.Configuration!;
      expect(c).toMatchObject({ Runtime: 'nodejs22.x', Handler: 'index.handler', MemorySize: memory[h], State: 'Active' });
      expect(c.Timeout).toBe(h === 'send-message' || h === 'resume' ? 30 : 10);
      expect(c.Role).toBe(`arn:aws:iam::123456789012:role/${names.role(h)}`);
      expect(c.CodeSha256).toBe(artifacts[h].sha256);
      expect(c.Environment!.Variables).toMatchObject({ HERMES_STAGE: STAGE, HERMES_CONNECTIONS_TABLE: names.connectionsTable, HERMES_TOKENS_TABLE: names.tokensTable });
      expect(fn.Tags).toMatchObject({ 'hermes:stage': STAGE, 'hermes:managed': 'true' });
      const policy = JSON.parse((await send(new GetPolicyCommand({ FunctionName: names.fn(h) }))).Policy!);
      expect(policy.Statement).toEqual([
        expect.objectContaining({
          Sid: 'hermes-apigateway',
          Principal: { Service: 'apigateway.amazonaws.com' },
          Action: 'lambda:InvokeFunction',
          Condition: { ArnLike: { 'AWS:SourceArn': `arn:aws:execute-api:${REGION}:123456789012:${apiId}/*` } },
        }),
      ]);
    }
    const sm = (await send(new GetFunctionCommand({ FunctionName: names.fn('send-message') }))).Configuration!.Environment!.Variables!;
    expect(sm).toMatchObject({
      HERMES_QUEUE_URL: `${moto.endpoint}/123456789012/${names.queue}`,
      HERMES_DLQ_URL: `${moto.endpoint}/123456789012/${names.dlq}`,
      HERMES_MANAGEMENT_ENDPOINT: `https://${apiId}.execute-api.${REGION}.amazonaws.com/${STAGE}`,
    });
    const connect = (await send(new GetFunctionCommand({ FunctionName: names.fn('connect') }))).Configuration!.Environment!.Variables!;
    expect(connect.HERMES_JWT_SECRET).toBeUndefined();
  });

  it('configured the WebSocket API: route selection, REQUEST authorizer on $connect, five AWS_PROXY routes, stage', async () => {
    const send = aws.apigateway.at('test');
    const api = (await send(new GetApisCommand({}))).Items!.find((a) => a.Name === names.api)!;
    expect(api).toMatchObject({ ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' });
    expect(api.Tags).toMatchObject({ 'hermes:stage': STAGE });
    const fnArn = (h: string) => `arn:aws:lambda:${REGION}:123456789012:function:hermes-${STAGE}-${h}`;
    const uri = (h: string) => `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${fnArn(h)}/invocations`;
    const integrations = (await send(new GetIntegrationsCommand({ ApiId: api.ApiId }))).Items!;
    expect(integrations.map((i) => [i.IntegrationType, i.IntegrationUri]).sort()).toEqual(
      ['connect', 'default', 'disconnect', 'resume', 'send-message'].map((h) => ['AWS_PROXY', uri(h)]),
    );
    const routes = (await send(new GetRoutesCommand({ ApiId: api.ApiId }))).Items!;
    const target = (key: string) => {
      const r = routes.find((x) => x.RouteKey === key)!;
      return integrations.find((i) => `integrations/${i.IntegrationId}` === r.Target)!.IntegrationUri;
    };
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(['$connect', '$default', '$disconnect', 'resume', 'sendMessage']);
    expect(target('$connect')).toBe(uri('connect'));
    expect(target('$disconnect')).toBe(uri('disconnect'));
    expect(target('sendMessage')).toBe(uri('send-message'));
    expect(target('resume')).toBe(uri('resume'));
    expect(target('$default')).toBe(uri('default'));
    const connectRoute = routes.find((r) => r.RouteKey === '$connect')!;
    expect(connectRoute.AuthorizationType).toBe('CUSTOM');
    for (const r of routes.filter((x) => x.RouteKey !== '$connect')) expect(r.AuthorizationType ?? 'NONE').toBe('NONE');
    const auth = await send(new GetAuthorizerCommand({ ApiId: api.ApiId, AuthorizerId: connectRoute.AuthorizerId }));
    expect(auth).toMatchObject({ AuthorizerType: 'REQUEST', IdentitySource: ['route.request.querystring.token'], AuthorizerUri: uri('authorizer') });
    const stage = await send(new GetStageCommand({ ApiId: api.ApiId, StageName: STAGE }));
    expect(stage.Tags).toMatchObject({ 'hermes:stage': STAGE });
    // moto gap: CreateDeployment is not implemented, so the deployment exists only in the
    // test shim (test/helpers/moto.ts); this checks deploy made exactly one, for this stage.
    expect(shim.deployments.get(api.ApiId!)).toEqual([{ DeploymentId: expect.any(String), StageName: STAGE }]);
  });

  it('configured the SQS → send-message mapping with partial batch failures', async () => {
    const maps = (await aws.lambda.at('test')(new ListEventSourceMappingsCommand({ FunctionName: names.fn('send-message') }))).EventSourceMappings!;
    expect(maps).toHaveLength(1);
    expect(maps[0]).toMatchObject({
      EventSourceArn: `arn:aws:sqs:${REGION}:123456789012:${names.queue}`,
      FunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:${names.fn('send-message')}`,
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      State: 'Enabled',
    });
  });

  it('a second deploy with nothing changed makes no mutating call and says so', async () => {
    const before = (await aws.lambda.at('test')(new GetFunctionCommand({ FunctionName: names.fn('authorizer') }))).Configuration!.Environment!.Variables!.HERMES_JWT_SECRET;
    const r = await deploy();
    expect(r.mutations).toEqual([]);
    expect(r.data.changed).toBe(false);
    expect(r.data.summary).toEqual({ create: 0, update: 0, unchanged: 38, delete: 0 });
    expect(r.text).toMatch(/is up to date: nothing changed/);
    expect(r.stderr).toContain(`· function ${names.fn('connect')} unchanged`);
    const after = (await aws.lambda.at('test')(new GetFunctionCommand({ FunctionName: names.fn('authorizer') }))).Configuration!.Environment!.Variables!.HERMES_JWT_SECRET;
    expect(after).toBe(before); // the secret is kept, so issued tokens stay valid
  });

  it('--dry-run with nothing changed plans all unchanged and makes no mutating call', async () => {
    const r = await deploy({ dryRun: true });
    expect(r.mutations).toEqual([]);
    expect(r.data.plan.every((i) => i.action === 'unchanged')).toBe(true);
    expect(r.text).toMatch(/0 to create, 0 to update, 38 unchanged/);
  });

  it('a changed handler updates only that function, with one UpdateFunctionCode', async () => {
    const send = aws.lambda.at('test');
    const shaOf = async (h: string) => (await send(new GetFunctionCommand({ FunctionName: `hermes-${STAGE}-${h}` }))).Configuration!.CodeSha256;
    const before = Object.fromEntries(await Promise.all(HANDLER_NAMES.map(async (h) => [h, await shaOf(h)])));
    appendFileSync(path.join(bundleDir, 'connect', 'index.mjs'), '\n// changed\n');
    const r = await deploy();
    expect(r.mutations).toEqual(['UpdateFunctionCode']);
    expect(r.data.plan.filter((i) => i.action !== 'unchanged')).toEqual([
      { kind: 'function', resource: names.fn('connect'), action: 'update', changes: [expect.stringMatching(/^code /)] },
    ]);
    expect(r.stderr).toContain(`✓ function ${names.fn('connect')} updated`);
    const after = Object.fromEntries(await Promise.all(HANDLER_NAMES.map(async (h) => [h, await shaOf(h)])));
    expect(after.connect).not.toBe(before.connect);
    expect(after.connect).toBe((await loadArtifacts(bundleDir)).connect.sha256);
    for (const h of HANDLER_NAMES.filter((x) => x !== 'connect')) expect(after[h]).toBe(before[h]);
  });

  it('puts back configuration changed outside hermes', async () => {
    await aws.lambda.at('test')(new UpdateFunctionConfigurationCommand({ FunctionName: names.fn('authorizer'), MemorySize: 128 }));
    const r = await deploy();
    expect(r.mutations).toEqual(['UpdateFunctionConfiguration']);
    expect(r.stderr).toContain(`✓ function ${names.fn('authorizer')} updated (memory 128 → 1024)`);
    expect((await aws.lambda.at('test')(new GetFunctionCommand({ FunctionName: names.fn('authorizer') }))).Configuration!.MemorySize).toBe(1024);
  });

  it('destroy refuses without --yes when no one can confirm, and deletes nothing', async () => {
    const r = await cli(['destroy', ...cliArgs()], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Refusing to destroy stage "itest" .*including the tables and their data/);
    expect((await aws.lambda.at('test')(new ListFunctionsCommand({}))).Functions).toHaveLength(HANDLER_NAMES.length);
  });

  it('destroy --yes removes everything deploy created, in reverse order, and the stage record', async () => {
    const r = await cli(['destroy', ...cliArgs(), '--yes'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Destroyed stage ${STAGE} in ${REGION}: 19 resources deleted.`);
    const order = r.stderr.split('\n').filter((l) => l.startsWith('✓')).map((l) => l.split(' ')[1]);
    expect(order).toEqual(['event', 'api', ...HANDLER_NAMES.map(() => 'function'), ...HANDLER_NAMES.map(() => 'role'), 'queue', 'queue', 'table', 'table', 'table']);
    const prefix = `hermes-${STAGE}-`;
    expect(((await aws.lambda.at('test')(new ListFunctionsCommand({}))).Functions ?? []).filter((f) => f.FunctionName?.startsWith(prefix))).toEqual([]);
    expect(((await aws.dynamodb.at('test')(new ListTablesCommand({}))).TableNames ?? []).filter((t) => t.startsWith(prefix))).toEqual([]);
    expect((await aws.sqs.at('test')(new ListQueuesCommand({ QueueNamePrefix: prefix }))).QueueUrls ?? []).toEqual([]);
    expect(((await aws.iam.at('test')(new ListRolesCommand({}))).Roles ?? []).filter((x) => x.RoleName?.startsWith(prefix))).toEqual([]);
    expect(((await aws.apigateway.at('test')(new GetApisCommand({}))).Items ?? []).filter((a) => a.Name === names.api)).toEqual([]);
    expect((await aws.lambda.at('test')(new ListEventSourceMappingsCommand({}))).EventSourceMappings ?? []).toEqual([]);
    expect(existsSync(path.join(stateDir, 'stages', `${STAGE}.json`))).toBe(false);
  });

  it('destroy leaves alone a same-named resource that does not carry the stage tag', async () => {
    const other = resourceNames('itest2');
    await aws.sqs.at('test')(new CreateQueueCommand({ QueueName: other.queue }));
    const r = await cli(['destroy', '--stage', 'itest2', '--region', REGION, '--endpoint-url', moto.endpoint, '--state-dir', stateDir, '--yes'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`not deleting queue ${other.queue}: no hermes:stage=itest2 tag`);
    expect(r.stdout).toContain('Nothing to destroy');
    expect((await aws.sqs.at('test')(new GetQueueUrlCommand({ QueueName: other.queue }))).QueueUrl).toBeTruthy();
  });
});
