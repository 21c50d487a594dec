/**
 * `hermes logs` on the local stage: `hermes dev` keeps every raw handler line in the state dir
 * (mode 0600), and `hermes logs` reads them merged in time order, as it reads CloudWatch Logs for
 * a deployed stage (deploy-moto.test.ts). The dev console shows each queue delivery.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, startCli, type RunningCli } from './helpers/cli.js';
import { connect, eventually } from './helpers/ws.js';
import { handlerLogFile } from '../src/local/log-file.js';

let dir: string;
let dev: RunningCli;
const env = { HERMES_BCRYPT_COST: '4' };
const at = () => ['--state-dir', dir];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'hermes-logs-'));
  dev = startCli(['dev', '--port', '0', '--dynamodb-port', '0', '--sqs-port', '0', '--ephemeral', '--no-watch', ...at()], { env, timeoutMs: 120_000 });
  await dev.waitFor('stdout', /is ready/, 60_000);
  await eventually(async () => (await cli(['status', ...at()], { env })).code === 0, 30_000, 'the local stack');
});
afterAll(async () => {
  dev?.interrupt();
  await dev?.done.catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('hermes logs (local stage)', () => {
  it('shows the delivery of a message just published, with its request id; the dev console prints the delivery', async () => {
    const issued = JSON.parse((await cli(['token', 'issue', '--user', 'u1', '--room', 'logroom', '--json', ...at()], { env })).stdout) as { url: string };
    const client = await connect(issued.url);
    const published = await cli(['publish', '--room', 'logroom', 'hello logs', ...at()], { env });
    expect(published.code, published.stderr).toBe(0);
    await client.waitForFrame((f) => f?.data?.data === 'hello logs');
    await client.close();

    await dev.waitFor('stderr', /delivery room=logroom delivered=1 pruned=0 failed=0 \d+ ms \(request [0-9a-f]{8}\)/, 15_000);
    const file = handlerLogFile(dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const text = await eventually(async () => {
      const r = await cli(['logs', '--since', '1m', ...at()], { env });
      return r.code === 0 && /\[send-message\] delivered /.test(r.stdout) ? r.stdout : undefined;
    }, 15_000, 'the delivery in hermes logs');
    expect(text).toMatch(/\[send-message\] delivered messageId=\S+ room=logroom .*delivered=1 pruned=0 failed=0 .*\(request [0-9a-f]{8}\)/);
    const times = text.trim().split('\n').map((l) => Date.parse(l.slice(0, 23).replace(' ', 'T') + 'Z'));
    expect(times).toEqual([...times].sort((a, b) => a - b));

    const json = await cli(['logs', '--since', '1m', '--function', 'send-message', '--json', ...at()], { env });
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { function: string; requestId?: string; message: string; line: Record<string, unknown> });
    const delivered = lines.find((l) => l.message === 'delivered')!;
    expect(delivered).toMatchObject({ function: 'send-message', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), line: { room: 'logroom', delivered: 1 } });
    expect(lines.every((l) => l.function === 'send-message')).toBe(true);
  });

  it('--follow prints new lines as they come, until interrupted', async () => {
    const follow = startCli(['logs', '--follow', '--since', '1s', '--function', 'send-message', ...at()], { env, timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 700));
    expect((await cli(['publish', '--room', 'nobody-here', 'followed', ...at()], { env })).code).toBe(0);
    await follow.waitFor('stdout', /delivered .*room=nobody-here .*delivered=0/, 15_000);
    follow.interrupt();
    expect((await follow.done).code).toBe(0);
  });

  it('refuses an unknown --function, naming the valid ones', async () => {
    const r = await cli(['logs', '--function', 'sender', ...at()], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid --function value: "sender"/);
    expect(r.stderr).toMatch(/authorizer, connect, disconnect, send-message, resume, default/);
  });
});
