/**
 * `hermes deploy` and `hermes destroy` against moto_server (IAM, Lambda, API Gateway v2, SQS,
 * DynamoDB): deploy, check every resource through describe/get calls, deploy again and see no
 * mutating call, change one handler and see only that function change, destroy and see
 * everything gone. Skipped, with a message, where moto_server is not installed.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, appendFileSync, writeFileSync } from 'node:fs';
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
import {
  CreateStageCommand, DeleteStageCommand, GetApisCommand, GetAuthorizerCommand, GetIntegrationsCommand, GetRoutesCommand, GetStageCommand,
} from '@aws-sdk/client-apigatewayv2';
import { DeployError } from '../src/deploy/errors.js';
import { DescribeParametersCommand, GetParameterCommand, ListTagsForResourceCommand } from '@aws-sdk/client-ssm';
import { currentKey, parseKeyRing } from '../src/core/signing-keys.js';
import { CreateLogStreamCommand, DescribeLogGroupsCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { motoAvailable, startMoto, callRecorder, type Moto } from './helpers/moto.js';
import { botocoreDataDir, violations } from './helpers/api-model.js';
import { runDestroy } from '../src/cli/commands/destroy.js';
import { cli } from './helpers/cli.js';
import { createAws, type Aws } from '../src/deploy/aws.js';
import { createContext } from '../src/cli/context.js';
import { runDeploy } from '../src/cli/commands/deploy.js';
import { loadArtifacts, defaultBundleDir, projectRoot } from '../src/deploy/bundle.js';
import { resourceNames } from '../src/stack/names.js';
import { HANDLER_NAMES, QUEUE_ORDER } from '../src/stack/definition.js';
import { TABLE_KEYS } from '../src/stack/tables.js';
import type { DeployResult } from '../src/deploy/deploy.js';
import { plan } from '../src/deploy/plan.js';
import { desiredState } from '../src/deploy/spec.js';

const STAGE = 'itest';
const REGION = 'us-east-1';
const names = resourceNames(STAGE);
const available = motoAvailable();
if (!available) console.warn('deploy-moto: moto_server is not on PATH; skipped the deploy/destroy integration tests (pip install "moto[server]").');

let moto: Moto;
let aws: Aws;
let bundleDir: string;
let stateDir: string;
const counter = callRecorder();
/** How many resources a stage has: whatever the definition declares (src/stack/definition.ts). */
const TOTAL = plan(
  desiredState({ names, ids: { region: REGION, partition: 'aws' }, codeSha256: Object.fromEntries(HANDLER_NAMES.map((h) => [h, ''])) as never }),
  { tables: {}, queues: {}, roles: {}, functions: {} },
).length;
const fast = { intervalMs: 50, timeoutMs: 20_000 };

function capture() {
  let text = '';
  const stream = new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) });
  return { stream, text: () => text };
}

function context(stage: string, err: ReturnType<typeof capture>, flags: { yes?: boolean } = {}) {
  return createContext(
    { stage, region: REGION, endpointUrl: moto.endpoint, stateDir, ...flags },
    { stdout: capture().stream, stderr: err.stream, stdin: Readable.from([]), env: {}, cwd: stateDir, isTTY: false },
    new AbortController().signal,
  );
}

/** Deploy in-process through the CLI's own run function, with the recorded clients. */
async function deploy(flags: { dryRun?: boolean; architecture?: string } = {}, opts: { stage?: string; aws?: Aws } = {}) {
  const err = capture();
  counter.reset();
  const result = await runDeploy(context(opts.stage ?? STAGE, err), { ...flags, build: false }, { aws: opts.aws ?? aws, bundleDir, wait: fast });
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
      configure: counter.configure,
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
    expect(data.plan).toHaveLength(TOTAL);
    expect(data.plan.every((i) => i.action === 'create')).toBe(true);
    expect((await aws.lambda.at('test')(new ListFunctionsCommand({}))).Functions ?? []).toEqual([]);
    expect((await aws.dynamodb.at('test')(new ListTablesCommand({}))).TableNames ?? []).toEqual([]);
    expect((await aws.apigateway.at('test')(new GetApisCommand({}))).Items ?? []).toEqual([]);
    expect(existsSync(path.join(stateDir, 'stages', `${STAGE}.json`))).toBe(false);
  });

  it('creates every resource, reports progress per resource, prints the URLs and records the stage', async () => {
    const r = await deploy();
    expect(r.data.summary).toEqual({ create: TOTAL, update: 0, unchanged: 0, delete: 0 });
    expect(r.stderr).toContain(`✓ table ${names.connectionsTable} created`);
    expect(r.stderr).toContain(`✓ function ${names.fn('authorizer')} created`);
    expect(r.stderr).toContain('✓ event source mapping');
    expect(r.stderr.split('\n').filter((l) => /^\[ *\d+\.\ds\] ✓/.test(l))).toHaveLength(TOTAL);
    const apiId = (await aws.apigateway.at('test')(new GetApisCommand({}))).Items![0].ApiId!;
    expect(r.text).toContain(`WebSocket URL:        wss://${apiId}.execute-api.${REGION}.amazonaws.com/${STAGE}`);
    expect(r.text).toContain(`Management endpoint:  https://${apiId}.execute-api.${REGION}.amazonaws.com/${STAGE}`);
    expect(r.text).toContain(`Queue URL:            ${moto.endpoint}/123456789012/${names.queue}`);
    expect(r.text).toContain(`Signing keys:         SSM parameter ${names.parameter('signingKeys')} (SecureString, ${REGION})`);
    const record = JSON.parse(readFileSync(r.data.stageRecord!, 'utf8'));
    expect(record).toMatchObject({
      stage: STAGE,
      region: REGION,
      endpoints: { websocket: `wss://${apiId}.execute-api.${REGION}.amazonaws.com/${STAGE}`, management: `https://${apiId}.execute-api.${REGION}.amazonaws.com/${STAGE}` },
      queueUrl: `${moto.endpoint}/123456789012/${names.queue}`,
      dlqUrl: `${moto.endpoint}/123456789012/${names.dlq}`,
      secretLocation: expect.stringContaining(names.parameter('signingKeys')),
    });
    // The key is in the parameter, and in no function's configuration, no output, not the record.
    const ring = (await aws.ssm.at('test')(new GetParameterCommand({ Name: names.parameter('signingKeys'), WithDecryption: true }))).Parameter!.Value!;
    const key = currentKey(parseKeyRing(ring, 'test')).secret;
    expect(key.length).toBeGreaterThanOrEqual(64);
    const configs = await Promise.all(HANDLER_NAMES.map((h) => aws.lambda.at('test')(new GetFunctionCommand({ FunctionName: names.fn(h) }))));
    for (const text of [r.text, r.stderr, JSON.stringify(r.data), readFileSync(r.data.stageRecord!, 'utf8'), JSON.stringify(configs)]) expect(text).not.toContain(key);
  });

  it('keeps the signing keys in an encrypted SSM parameter (SecureString, aws/ssm), tagged', async () => {
    const send = aws.ssm.at('test');
    const Name = names.parameter('signingKeys');
    const [described] = (await send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [Name] }] }))).Parameters!;
    expect(described).toMatchObject({ Name, Type: 'SecureString', KeyId: 'alias/aws/ssm', Tier: 'Standard' });
    const raw = (await send(new GetParameterCommand({ Name }))).Parameter!.Value!;
    const plain = (await send(new GetParameterCommand({ Name, WithDecryption: true }))).Parameter!.Value!;
    expect(raw).not.toBe(plain); // without decryption SSM hands out the ciphertext only
    expect((await send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: Name }))).TagList).toEqual(
      expect.arrayContaining([{ Key: 'hermes:stage', Value: STAGE }]),
    );
  });

  it('a token from `hermes token issue --stage` is valid for `token verify --stage`; after `secret rotate --grace 0` it is refused as signed by a retired key', async () => {
    const issued = await cli(['token', 'issue', '--user', 'u1', '--room', 'r1', ...cliArgs(), '--json'], { timeoutMs: 60_000 });
    expect(issued.code, issued.stderr).toBe(0);
    const { token } = JSON.parse(issued.stdout) as { token: string };
    const ok = await cli(['token', 'verify', token, ...cliArgs()], { timeoutMs: 60_000 });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^valid: /);
    // A HERMES_JWT_SECRET that disagrees with the stage's key is an error that says so.
    const wrong = await cli(['token', 'issue', '--user', 'u1', '--room', 'r1', ...cliArgs()], { env: { HERMES_JWT_SECRET: 'y'.repeat(86) }, timeoutMs: 60_000 });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/HERMES_JWT_SECRET does not match the signing key of stage "itest"/);
    const rotated = await cli(['secret', 'rotate', '--grace', '0', ...cliArgs(), '--json'], { timeoutMs: 60_000 });
    expect(rotated.code, rotated.stderr).toBe(0);
    const rotation = JSON.parse(rotated.stdout) as { current: string; retiring: { kid: string } };
    expect(rotation.current).not.toBe(rotation.retiring.kid);
    const refused = await cli(['token', 'verify', token, ...cliArgs()], { timeoutMs: 60_000 });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(new RegExp(`^refused \\(retired-key\\): retired key: the token was signed with key ${rotation.retiring.kid}`));
    const fresh = JSON.parse((await cli(['token', 'issue', '--user', 'u1', '--room', 'r1', ...cliArgs(), '--json'], { timeoutMs: 60_000 })).stdout) as { token: string };
    expect((await cli(['token', 'verify', fresh.token, ...cliArgs()], { timeoutMs: 60_000 })).code).toBe(0);
    const shown = await cli(['secret', 'show', ...cliArgs()], { timeoutMs: 60_000 });
    expect(shown.stdout).toContain(`${rotation.current}  current`);
    expect(shown.stdout).toContain(`${rotation.retiring.kid}  retired`);
    expect(shown.stdout + rotated.stdout).not.toMatch(/[A-Za-z0-9_-]{86}/); // never a key
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

  it('configured the queues: redrive to the DLQ after 5 receives, visibility 180 s, the DLQ keeps 14 days, tags', async () => {
    const send = aws.sqs.at('test');
    const url = (n: string) => send(new GetQueueUrlCommand({ QueueName: n })).then((r) => r.QueueUrl!);
    const q = (await send(new GetQueueAttributesCommand({ QueueUrl: await url(names.queue), AttributeNames: ['All'] }))).Attributes!;
    const dlq = (await send(new GetQueueAttributesCommand({ QueueUrl: await url(names.dlq), AttributeNames: ['All'] }))).Attributes!;
    expect(q.VisibilityTimeout).toBe('180');
    // A dead letter outlives the time it takes someone to look at it: SQS's maximum, 14 days.
    expect(dlq.MessageRetentionPeriod).toBe(String(14 * 24 * 3600));
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
      expect(c).toMatchObject({ Runtime: 'nodejs22.x', Handler: 'index.handler', MemorySize: memory[h], State: 'Active', Architectures: ['arm64'] });
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
    const auth = (await send(new GetFunctionCommand({ FunctionName: names.fn('authorizer') }))).Configuration!.Environment!.Variables!;
    expect(auth.HERMES_SIGNING_KEYS_PARAMETER).toBe(names.parameter('signingKeys'));
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
    // No deployment call: the stage deploys every change to routes, integrations and authorizer.
    expect(stage.AutoDeploy).toBe(true);
    expect(stage.DefaultRouteSettings).toMatchObject({ ThrottlingBurstLimit: 2000, ThrottlingRateLimit: 1000 });
    expect(api.Tags).toMatchObject({ 'hermes:authorizer': connectRoute.AuthorizerId });
  });

  it("made each function's log group with a 14-day retention, and `hermes logs --stage` reads them", async () => {
    const send = aws.logs.at('test');
    const groups = (await send(new DescribeLogGroupsCommand({ logGroupNamePrefix: `/aws/lambda/hermes-${STAGE}-` }))).logGroups!;
    expect(groups.map((g) => [g.logGroupName, g.retentionInDays]).sort()).toEqual(HANDLER_NAMES.map((h) => [names.logGroup(h), 14]).sort());
    // A line as the connect function would have written it, with its request id.
    const requestId = '0f0e3c1a-1111-4222-8333-944455556666';
    const line = JSON.stringify({ level: 'INFO', message: 'connected', timestamp: new Date().toISOString(), function_name: names.fn('connect'), function_request_id: requestId, room: 'r1' });
    await send(new CreateLogStreamCommand({ logGroupName: names.logGroup('connect'), logStreamName: 's1' }));
    await send(new PutLogEventsCommand({ logGroupName: names.logGroup('connect'), logStreamName: 's1', logEvents: [{ timestamp: Date.now(), message: `${line}\n` }] }));
    const r = await cli(['logs', ...cliArgs(), '--since', '5m', '--json'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ function: 'connect', level: 'INFO', requestId, message: 'connected', line: expect.objectContaining({ room: 'r1' }) }),
    ]);
    const text = await cli(['logs', ...cliArgs(), '--function', 'send-message'], { timeoutMs: 60_000 });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toMatch(/No handler log lines for stage itest/);
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
    const keys = () => aws.ssm.at('test')(new GetParameterCommand({ Name: names.parameter('signingKeys'), WithDecryption: true })).then((p) => p.Parameter!.Value);
    const before = await keys();
    const r = await deploy();
    expect(r.mutations).toEqual([]);
    expect(r.data.changed).toBe(false);
    expect(r.data.summary).toEqual({ create: 0, update: 0, unchanged: TOTAL, delete: 0 });
    expect(r.text).toMatch(/is up to date: nothing changed/);
    expect(r.stderr).toContain(`· function ${names.fn('connect')} unchanged`);
    expect(await keys()).toBe(before); // the keys are kept, so issued tokens stay valid
  });

  it('--dry-run with nothing changed plans all unchanged and makes no mutating call', async () => {
    const r = await deploy({ dryRun: true });
    expect(r.mutations).toEqual([]);
    expect(r.data.plan.every((i) => i.action === 'unchanged')).toBe(true);
    expect(r.text).toContain(`0 to create, 0 to update, ${TOTAL} unchanged`);
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

  it('a deploy that fails part-way keeps what it made, and the next one reuses it (nothing made twice)', async () => {
    const stage = 'itest3';
    let failing = true;
    const broken = await createAws({
      region: REGION,
      endpoint: moto.endpoint,
      configure: (client, service) => {
        counter.configure(client, service);
        (client.middlewareStack as { add(mw: unknown, o: object): void }).add(
          (next: (a: unknown) => Promise<unknown>, c: { commandName?: string }) => async (a: unknown) => {
            if (failing && c.commandName === 'CreateRouteCommand') {
              throw Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } });
            }
            return next(a);
          },
          { step: 'initialize', priority: 'low', name: 'failFirstRoute' },
        );
      },
    });
    try {
      const before = counter.requests.length;
      await expect(deploy({}, { stage, aws: broken })).rejects.toThrow(/Deploy failed at route \$connect \(apigatewayv2 CreateRoute\): .*TooManyRequestsException/);
      const firstRun = counter.requests.slice(before).filter((q) => q.operation.startsWith('Create')).map((q) => q.operation);
      expect(firstRun).toContain('CreateAuthorizer'); // the authorizer exists, but no route names it yet
      failing = false;
      const again = await deploy({}, { stage, aws: broken });
      const secondRun = again.mutations.filter((m) => m.startsWith('Create'));
      // Everything made before the failure is found and reused: nothing is created twice.
      for (const op of new Set(firstRun)) {
        if (op !== 'CreateRoute') expect(secondRun.filter((x) => x === op), op).toEqual([]);
      }
      expect(secondRun.filter((x) => x === 'CreateAuthorizer')).toEqual([]);
      expect(again.data.summary.create).toBe(TOTAL - again.data.summary.unchanged - again.data.summary.update);
      const apis = (await aws.apigateway.at('test')(new GetApisCommand({}))).Items!.filter((a) => a.Name === resourceNames(stage).api);
      expect(apis).toHaveLength(1);
      const routes = (await aws.apigateway.at('test')(new GetRoutesCommand({ ApiId: apis[0].ApiId }))).Items!;
      expect(routes.find((x) => x.RouteKey === '$connect')!.AuthorizerId).toBe(apis[0].Tags!['hermes:authorizer']);
      expect((await deploy({}, { stage, aws: broken })).mutations).toEqual([]);
    } finally {
      broken.destroy();
    }
  });

  it('a call moto does not implement (UpdateStage, to turn auto-deploy back on) fails with one clear line', async () => {
    const stage = 'itest3';
    const send = aws.apigateway.at('test');
    const api = (await send(new GetApisCommand({}))).Items!.find((a) => a.Name === resourceNames(stage).api)!;
    // A stage someone made by hand without auto-deploy: only UpdateStage can fix it in place.
    await send(new DeleteStageCommand({ ApiId: api.ApiId, StageName: stage }));
    await send(new CreateStageCommand({ ApiId: api.ApiId, StageName: stage, AutoDeploy: false, Tags: { 'hermes:stage': stage, 'hermes:managed': 'true' } }));
    const failure = await deploy({}, { stage }).then(() => undefined, (e: unknown) => e as DeployError);
    expect(failure).toBeInstanceOf(DeployError);
    expect(failure!.message).toBe(`Deploy failed at stage ${stage} (apigatewayv2 UpdateStage): ${moto.endpoint} answered HTTP 500 with an HTML page, not an AWS API response`);
    expect(failure!.hint).toMatch(/does not implement apigatewayv2 UpdateStage/);
    expect({ ...failure }).toMatchObject({ service: 'apigatewayv2', operation: 'UpdateStage', httpStatus: 500, endpoint: moto.endpoint, notAws: true });
    const destroyed = await runDestroy(context(stage, capture(), { yes: true }), { aws }, { keepLogs: true });
    expect(destroyed.text).toMatch(/resources deleted/);
    expect(destroyed.text).toMatch(/log groups \/aws\/lambda\/hermes-itest3-\* are kept \(--keep-logs\)/);
    const logGroups = async () => (await aws.logs.at('test')(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/aws/lambda/hermes-itest3-' }))).logGroups ?? [];
    expect(await logGroups()).toHaveLength(HANDLER_NAMES.length);
    const again = await runDestroy(context(stage, capture(), { yes: true }), { aws });
    expect(again.text).toContain(`${HANDLER_NAMES.length} resources deleted`);
    expect(await logGroups()).toEqual([]);
  });

  it('settings changed in hermes.config.json are applied, and only they; --architecture x86_64 moves every function', async () => {
    const file = path.join(stateDir, 'hermes.config.json');
    writeFileSync(file, JSON.stringify({ stages: { [STAGE]: { functions: { connect: { memoryMb: 512 } }, logRetentionDays: 30, batchSize: 5, deadLetterRetention: '7d' } } }));
    try {
      const r = await deploy();
      expect(r.mutations.sort()).toEqual([...HANDLER_NAMES.map(() => 'PutRetentionPolicy'), 'SetQueueAttributes', 'UpdateEventSourceMapping', 'UpdateFunctionConfiguration']);
      expect(r.stderr).toContain(`✓ function ${names.fn('connect')} updated (memory 256 → 512)`);
      expect(r.stderr).toContain(`✓ log group ${names.logGroup('connect')} updated (retention 14 → 30 days)`);
      expect(r.stderr).toContain(`✓ queue ${names.dlq} updated (MessageRetentionPeriod 1209600 → 604800)`);
      const [mapping] = (await aws.lambda.at('test')(new ListEventSourceMappingsCommand({ FunctionName: names.fn('send-message') }))).EventSourceMappings!;
      expect(mapping.BatchSize).toBe(5);
      expect((await deploy()).mutations).toEqual([]);
    } finally {
      rmSync(file);
    }
    expect((await deploy()).data.summary.update).toBe(HANDLER_NAMES.length + 3); // back to the defaults
    const before = counter.requests.length;
    const x86 = await deploy({ architecture: 'x86_64' });
    expect(x86.mutations).toEqual(HANDLER_NAMES.map(() => 'UpdateFunctionCode'));
    expect(x86.stderr).toContain(`✓ function ${names.fn('connect')} updated (architecture arm64 → x86_64)`);
    const sent = counter.requests.slice(before).filter((q) => q.operation === 'UpdateFunctionCode');
    expect(sent.map((q) => (q.input as { Architectures?: string[] }).Architectures)).toEqual(HANDLER_NAMES.map(() => ['x86_64']));
    // moto keeps a function's first architecture (its UpdateFunctionCode ignores Architectures); AWS changes it.
    expect((await aws.lambda.at('test')(new GetFunctionCommand({ FunctionName: names.fn('connect') }))).Configuration!.Architectures).toEqual(['arm64']);
  });

  it('a stage with access logging and its own throttling: the access log group is made with the retention, the stage writes to it', async () => {
    const stage = 'itest4';
    const file = path.join(stateDir, 'hermes.config.json');
    writeFileSync(file, JSON.stringify({ stages: { [stage]: { accessLogging: true, logRetentionDays: 7, throttling: { burstLimit: 50, rateLimit: 20 } } } }));
    try {
      await deploy({}, { stage });
      const other = resourceNames(stage);
      const api = (await aws.apigateway.at('test')(new GetApisCommand({}))).Items!.find((a) => a.Name === other.api)!;
      const s = await aws.apigateway.at('test')(new GetStageCommand({ ApiId: api.ApiId, StageName: stage }));
      expect(s.DefaultRouteSettings).toMatchObject({ ThrottlingBurstLimit: 50, ThrottlingRateLimit: 20 });
      expect(s.AccessLogSettings).toEqual({ DestinationArn: `arn:aws:logs:${REGION}:123456789012:log-group:${other.accessLogGroup}`, Format: expect.stringContaining('$context.requestId') });
      const [group] = (await aws.logs.at('test')(new DescribeLogGroupsCommand({ logGroupNamePrefix: other.accessLogGroup }))).logGroups!;
      expect(group).toMatchObject({ logGroupName: other.accessLogGroup, retentionInDays: 7 });
      expect((await deploy({}, { stage })).mutations).toEqual([]);
      const gone = await runDestroy(context(stage, capture(), { yes: true }), { aws });
      expect(gone.text).toMatch(/resources deleted/);
      expect((await aws.logs.at('test')(new DescribeLogGroupsCommand({ logGroupNamePrefix: other.accessLogGroup }))).logGroups).toEqual([]);
    } finally {
      rmSync(file);
    }
  });

  it('destroy refuses without --yes when no one can confirm, and deletes nothing', async () => {
    const r = await cli(['destroy', ...cliArgs()], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Refusing to destroy stage "itest" .*including the tables and their data/);
    expect((await aws.lambda.at('test')(new ListFunctionsCommand({}))).Functions).toHaveLength(HANDLER_NAMES.length);
  });

  it('destroy --yes removes everything deploy created, in reverse order, and the stage record', async () => {
    const err = capture();
    counter.reset();
    const r = await runDestroy(context(STAGE, err, { yes: true }), { aws });
    expect(r.text).toContain(`Destroyed stage ${STAGE} in ${REGION}: ${2 + 3 * HANDLER_NAMES.length + QUEUE_ORDER.length + 1 + TABLE_KEYS.length} resources deleted.`);
    const order = err.text().split('\n').filter((l) => / ✓ /.test(l)).map((l) => l.split('✓ ')[1].split(' ')[0]);
    expect(order).toEqual(['event', 'api', ...HANDLER_NAMES.map(() => 'function'), ...HANDLER_NAMES.map(() => 'role'), 'queue', 'queue', ...HANDLER_NAMES.map(() => 'log'), 'parameter', ...TABLE_KEYS.map(() => 'table')]);
    const prefix = `hermes-${STAGE}-`;
    expect(((await aws.lambda.at('test')(new ListFunctionsCommand({}))).Functions ?? []).filter((f) => f.FunctionName?.startsWith(prefix))).toEqual([]);
    expect(((await aws.dynamodb.at('test')(new ListTablesCommand({}))).TableNames ?? []).filter((t) => t.startsWith(prefix))).toEqual([]);
    expect((await aws.sqs.at('test')(new ListQueuesCommand({ QueueNamePrefix: prefix }))).QueueUrls ?? []).toEqual([]);
    expect(((await aws.iam.at('test')(new ListRolesCommand({}))).Roles ?? []).filter((x) => x.RoleName?.startsWith(prefix))).toEqual([]);
    expect(((await aws.apigateway.at('test')(new GetApisCommand({}))).Items ?? []).filter((a) => a.Name === names.api)).toEqual([]);
    expect((await aws.lambda.at('test')(new ListEventSourceMappingsCommand({}))).EventSourceMappings ?? []).toEqual([]);
    expect((await aws.ssm.at('test')(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [names.parameter('signingKeys')] }] }))).Parameters).toEqual([]);
    expect((await aws.logs.at('test')(new DescribeLogGroupsCommand({ logGroupNamePrefix: `/aws/lambda/hermes-${STAGE}-` }))).logGroups).toEqual([]);
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

  it.skipIf(!botocoreDataDir())('sent only requests that the published AWS API models accept', () => {
    const ops = new Set(counter.requests.map((q) => `${q.service} ${q.operation}`));
    // deploy, redeploys, a partial failure and destroy went through the recorder
    for (const op of ['lambda CreateFunction', 'apigatewayv2 CreateStage', 'lambda UpdateFunctionCode', 'apigatewayv2 DeleteApi', 'dynamodb DeleteTable']) expect(ops).toContain(op);
    const found = counter.requests.flatMap(violations);
    expect([...new Set(found)]).toEqual([]);
    console.info(`deploy-moto: ${counter.requests.length} requests (${ops.size} operations) checked against botocore's models: ${found.length} violations`);
  });
});
