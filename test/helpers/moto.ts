/**
 * moto_server for the deploy integration tests: start it on a free loopback port, wait until
 * it answers (bounded), stop it. Plus two client hooks for src/deploy/aws.ts `configure`:
 * a counter of mutating calls, and a shim for the API Gateway v2 operations moto 5 lacks.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { GetAuthorizerCommand } from '@aws-sdk/client-apigatewayv2';
import type { AwsOptions } from '../../src/deploy/aws.js';

export interface Moto {
  endpoint: string;
  stop(): Promise<void>;
}

export function motoAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v moto_server'], { stdio: 'ignore' }).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startMoto(timeoutMs = 30_000): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not start on port ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

type Configure = NonNullable<AwsOptions['configure']>;
type Handler = (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown>; response?: unknown }>;
type Stack = { add(mw: (next: Handler, context: { commandName?: string }) => Handler, opts: object): void };

const READ = /^(Get|List|Describe)/;

/** Counts commands that change something (anything not Get/List/Describe), by name. */
export function mutationCounter() {
  const calls: string[] = [];
  const configure: Configure = (client) => {
    (client.middlewareStack as Stack).add(
      (next, context) => async (args) => {
        const name = (context.commandName ?? '').replace(/Command$/, '');
        if (!READ.test(name)) calls.push(name);
        return next(args);
      },
      { step: 'initialize', priority: 'high', name: 'hermesTestMutationCounter' },
    );
  };
  return { calls, configure, reset: () => void calls.splice(0) };
}

/**
 * moto 5.x gaps in API Gateway v2 (each answers with an HTML 404/500 page):
 * - GetAuthorizers (the list call) is not implemented: served here from the authorizer ids
 *   seen in CreateAuthorizer responses, each read back with moto's GetAuthorizer;
 * - CreateDeployment / GetDeployments are not implemented, and stages carry no DeploymentId:
 *   deployments are recorded here and patched into GetStage(s).
 * Everything else goes to moto unchanged.
 */
export function motoApiGatewayShim() {
  const authorizers = new Map<string, Set<string>>();
  const deployments = new Map<string, Array<{ DeploymentId: string; StageName?: string }>>();
  const stageDeployment = new Map<string, string>();
  const configure: Configure = (client, service) => {
    if (service !== 'apigateway') return;
    (client.middlewareStack as Stack).add(
      (next, context) => async (args) => {
        const input = args.input;
        const apiId = String(input.ApiId ?? '');
        const meta = { $metadata: {} };
        switch (context.commandName) {
          case 'CreateAuthorizerCommand': {
            const res = await next(args);
            authorizers.set(apiId, (authorizers.get(apiId) ?? new Set()).add(String(res.output.AuthorizerId)));
            return res;
          }
          case 'GetAuthorizersCommand': {
            const items = [];
            for (const id of authorizers.get(apiId) ?? []) {
              try {
                const a = await (client.send as (c: object) => Promise<Record<string, unknown>>)(new GetAuthorizerCommand({ ApiId: apiId, AuthorizerId: id }));
                items.push(a);
              } catch {
                authorizers.get(apiId)?.delete(id); // deleted since
              }
            }
            return { output: { Items: items, ...meta }, response: {} };
          }
          case 'CreateDeploymentCommand': {
            const DeploymentId = randomBytes(4).toString('hex');
            deployments.set(apiId, [...(deployments.get(apiId) ?? []), { DeploymentId, StageName: input.StageName as string }]);
            if (input.StageName) stageDeployment.set(`${apiId}/${input.StageName}`, DeploymentId);
            return { output: { DeploymentId, DeploymentStatus: 'DEPLOYED', ...meta }, response: {} };
          }
          case 'GetDeploymentsCommand':
            return { output: { Items: deployments.get(apiId) ?? [], ...meta }, response: {} };
          case 'GetStageCommand': {
            const res = await next(args);
            const id = stageDeployment.get(`${apiId}/${input.StageName}`);
            return id ? { ...res, output: { ...res.output, DeploymentId: id } } : res;
          }
          case 'DeleteApiCommand':
            authorizers.delete(apiId);
            deployments.delete(apiId);
            return next(args);
          default:
            return next(args);
        }
      },
      { step: 'initialize', priority: 'low', name: 'hermesTestMotoApiGatewayShim' },
    );
  };
  return { configure, deployments };
}
