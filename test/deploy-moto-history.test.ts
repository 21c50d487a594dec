/**
 * What history adds to a deployed stage, against moto_server: the history table (stream_id +
 * seq, the frame-id local index, TTL), the resume route and its function, the permissions of
 * resume and send-message on that table, and the stage's retention and cap in the functions'
 * environment. Skipped, with a message, where moto_server is not installed. (The deploy and
 * destroy flow as a whole is test/deploy-moto.test.ts.)
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetRolePolicyCommand } from '@aws-sdk/client-iam';
import { GetFunctionCommand } from '@aws-sdk/client-lambda';
import { GetApisCommand, GetIntegrationsCommand, GetRoutesCommand } from '@aws-sdk/client-apigatewayv2';
import { motoAvailable, startMoto, motoApiGatewayShim, type Moto } from './helpers/moto.js';
import { PassThrough, Readable } from 'node:stream';
import { createAws, type Aws } from '../src/deploy/aws.js';
import { createContext } from '../src/cli/context.js';
import { runDeploy } from '../src/cli/commands/deploy.js';
import { defaultBundleDir, projectRoot } from '../src/deploy/bundle.js';
import { resourceNames } from '../src/stack/names.js';
import type { HandlerName } from '../src/stack/definition.js';

const STAGE = 'histest';
const REGION = 'us-east-1';
const names = resourceNames(STAGE);
const available = motoAvailable();
if (!available) console.warn('deploy-moto-history: moto_server is not on PATH; skipped (pip install "moto[server]").');

type Statement = { Sid: string; Action: string[]; Resource: string[] };

describe.skipIf(!available)('a deployed stage keeps history', () => {
  let moto: Moto;
  let aws: Aws;
  let bundleDir: string;
  let stateDir: string;
  const policy = async (h: 'send-message' | 'resume'): Promise<Statement[]> =>
    JSON.parse(decodeURIComponent((await aws.iam.at('test')(new GetRolePolicyCommand({ RoleName: names.role(h), PolicyName: `hermes-${h}` }))).PolicyDocument!)).Statement;

  beforeAll(async () => {
    moto = await startMoto();
    if (!existsSync(path.join(defaultBundleDir(), 'resume', 'index.mjs'))) {
      execFileSync(process.execPath, [path.join(projectRoot(), 'scripts', 'build.mjs'), '--quiet']);
    }
    bundleDir = mkdtempSync(path.join(tmpdir(), 'hermes-bundles-'));
    cpSync(defaultBundleDir(), bundleDir, { recursive: true });
    stateDir = mkdtempSync(path.join(tmpdir(), 'hermes-deploy-state-'));
    const shim = motoApiGatewayShim();
    aws = await createAws({ region: REGION, endpoint: moto.endpoint, configure: (client, service) => shim.configure(client, service) });
    // Through the CLI's deploy, with the stage's history settings from the environment.
    const ctx = createContext(
      { stage: STAGE, region: REGION, endpointUrl: moto.endpoint, stateDir },
      { stdout: new PassThrough(), stderr: new PassThrough(), stdin: Readable.from([]), env: { HERMES_HISTORY_RETENTION: '2h', HERMES_HISTORY_MAX_PER_STREAM: '500' }, cwd: stateDir, isTTY: false },
      new AbortController().signal,
    );
    const result = await runDeploy(ctx, { build: false }, { aws, bundleDir, wait: { intervalMs: 50, timeoutMs: 20_000 } });
    expect(result.exitCode ?? 0).toBe(0);
  }, 150_000);

  afterAll(async () => {
    aws?.destroy();
    await moto?.stop();
    for (const d of [bundleDir, stateDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('has the history table: stream_id + seq, the frame-id local index (keys only), TTL on expires_at', async () => {
    const t = (await aws.dynamodb.at('test')(new DescribeTableCommand({ TableName: names.historyTable }))).Table!;
    expect(t.KeySchema).toEqual([
      { AttributeName: 'stream_id', KeyType: 'HASH' },
      { AttributeName: 'seq', KeyType: 'RANGE' },
    ]);
    expect(t.LocalSecondaryIndexes?.map((i) => ({ name: i.IndexName, keys: i.KeySchema, projection: i.Projection?.ProjectionType }))).toEqual([
      { name: 'frame_id-index', keys: [{ AttributeName: 'stream_id', KeyType: 'HASH' }, { AttributeName: 'frame_id', KeyType: 'RANGE' }], projection: 'KEYS_ONLY' },
    ]);
    expect(t.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const ttl = await aws.dynamodb.at('test')(new DescribeTimeToLiveCommand({ TableName: names.historyTable }));
    expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: 'expires_at', TimeToLiveStatus: 'ENABLED' });
  });

  it('routes resume to the resume function', async () => {
    const send = aws.apigateway.at('test');
    const apiId = (await send(new GetApisCommand({}))).Items!.find((a) => a.Name === names.api)!.ApiId!;
    const routes = (await send(new GetRoutesCommand({ ApiId: apiId }))).Items!;
    const integrations = (await send(new GetIntegrationsCommand({ ApiId: apiId }))).Items!;
    const route = routes.find((r) => r.RouteKey === 'resume')!;
    expect(route).toBeDefined();
    expect(route.AuthorizationType ?? 'NONE').toBe('NONE'); // the authorizer runs on $connect only
    const integration = integrations.find((i) => route.Target === `integrations/${i.IntegrationId}`)!;
    expect(integration.IntegrationUri).toContain(`:function:${names.fn('resume')}/invocations`);
  });

  it('lets resume read only the history table and post to connections; send-message write it', async () => {
    const arn = `arn:aws:dynamodb:${REGION}:123456789012:table/${names.historyTable}`;
    const resume = await policy('resume');
    expect(resume.find((s) => s.Sid === 'ReadHistory')).toMatchObject({ Action: ['dynamodb:Query', 'dynamodb:GetItem'], Resource: [arn] });
    expect(resume.find((s) => s.Sid === 'Replay')?.Action).toEqual(['execute-api:ManageConnections']);
    expect(resume.flatMap((s) => s.Action).filter((a) => a.startsWith('dynamodb:')).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    const sm = await policy('send-message');
    expect(sm.find((s) => s.Sid === 'WriteHistory')).toMatchObject({ Resource: [arn] });
    expect(sm.find((s) => s.Sid === 'WriteHistory')!.Action).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:GetItem']));
    expect(sm.find((s) => s.Sid === 'FindFrame')).toMatchObject({ Action: ['dynamodb:Query'], Resource: [`${arn}/index/frame_id-index`] });
    expect(sm.find((s) => s.Sid === 'QueryUser')).toMatchObject({ Resource: [`arn:aws:dynamodb:${REGION}:123456789012:table/${names.connectionsTable}/index/user_id-index`] });
  });

  it('gives send-message and resume the history table and the stage’s retention and cap, and no other function', async () => {
    const env = async (h: HandlerName) => (await aws.lambda.at('test')(new GetFunctionCommand({ FunctionName: names.fn(h) }))).Configuration!.Environment!.Variables!;
    for (const h of ['send-message', 'resume'] as const) {
      expect(await env(h)).toMatchObject({ HERMES_HISTORY_TABLE: names.historyTable, HERMES_HISTORY_RETENTION_SECONDS: '7200', HERMES_HISTORY_MAX_PER_STREAM: '500' });
    }
    for (const h of ['authorizer', 'connect', 'disconnect', 'default'] as const) {
      expect(Object.keys(await env(h)).filter((k) => k.startsWith('HERMES_HISTORY'))).toEqual([]);
    }
  });
});
