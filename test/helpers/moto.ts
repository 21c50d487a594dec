/**
 * moto_server for the deploy integration tests: start it on a free loopback port, wait until
 * it answers (bounded), stop it. Plus a client hook for src/deploy/aws.ts `configure` that
 * records every request and the mutating ones.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AwsOptions } from '../../src/deploy/aws.js';
import type { RecordedRequest } from './api-model.js';

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

/**
 * Records every request the clients send (service, operation, input as given to the SDK), for
 * the API-model check, and the names of the commands that change something (anything not
 * Get/List/Describe) since the last `reset`.
 */
export function callRecorder() {
  const requests: RecordedRequest[] = [];
  const calls: string[] = [];
  const configure: Configure = (client, service) => {
    (client.middlewareStack as Stack).add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? '').replace(/Command$/, '');
        requests.push({ service, operation, input: structuredClone(args.input) });
        if (!READ.test(operation)) calls.push(operation);
        return next(args);
      },
      { step: 'initialize', priority: 'high', name: 'hermesTestCallRecorder' },
    );
  };
  return { requests, calls, configure, reset: () => void calls.splice(0) };
}
