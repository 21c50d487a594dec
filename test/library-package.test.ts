/**
 * The backend library as a consumer gets it: `npm pack`, the tarball unpacked into a temporary
 * project's node_modules (its dependencies linked to this checkout's, so it stays offline and
 * fast), then used from plain ESM against the running local stack, and type-checked from
 * TypeScript. The consumer's files are in test/fixtures/consumer/.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startCliStack, type CliStack } from './helpers/cli.js';
import { connect, type TestClient } from './helpers/ws.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('..', import.meta.url));
const fixtures = path.join(repo, 'test', 'fixtures', 'consumer');
const ROOM = `lib-${process.pid}`;

let s: CliStack;
let consumer: string;
const timings: Record<string, number> = {};
const timed = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
  const started = Date.now();
  try {
    return await f();
  } finally {
    timings[what] = Date.now() - started;
  }
};

/** The consumer's script, as `node consumer.mjs <step> <room>` in its own project; its JSON line. */
async function step(name: string, extra: { trace?: string } = {}): Promise<any> {
  const args = [...(extra.trace ? ['--import', './trace.mjs'] : []), 'consumer.mjs', name, ROOM];
  const { stdout } = await run(process.execPath, args, {
    cwd: consumer,
    env: { PATH: process.env.PATH, STATE_DIR: s.stateDir, HERMES_BCRYPT_COST: '4', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...(extra.trace ? { TRACE_LOG: extra.trace } : {}) },
    timeout: 30_000,
  });
  return JSON.parse(stdout);
}

beforeAll(async () => {
  // `npm test` builds the declarations; a run of this file alone after `npm ci` may lack them.
  if (!existsSync(path.join(repo, 'dist', 'lib', 'hermes.d.mts'))) {
    await run(process.execPath, [path.join(repo, 'scripts', 'build.mjs'), '--types-only'], { cwd: repo });
  }
  s = await startCliStack();
  consumer = mkdtempSync(path.join(tmpdir(), 'hermes-consumer-'));
  const packed = await timed('npm pack', () =>
    run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', consumer], { cwd: repo, timeout: 60_000 }),
  );
  const tarball = path.join(consumer, JSON.parse(packed.stdout)[0].filename);
  // What `npm install <tarball>` does with the package itself; its dependencies are this
  // checkout's (the registry is not reachable from tests).
  const installed = path.join(consumer, 'node_modules', 'hermes');
  mkdirSync(installed, { recursive: true });
  await timed('unpack', () => run('tar', ['-xzf', tarball, '--strip-components=1', '-C', installed]));
  symlinkSync(path.join(repo, 'node_modules'), path.join(installed, 'node_modules'), 'dir');
  // TypeScript finds @types/node (and ws's types) in the consumer's own node_modules.
  symlinkSync(path.join(repo, 'node_modules', '@types'), path.join(consumer, 'node_modules', '@types'), 'dir');
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { hermes: `file:${path.basename(tarball)}` } }));
  cpSync(fixtures, consumer, { recursive: true });
});

afterAll(async () => {
  await s?.close();
  if (consumer) rmSync(consumer, { recursive: true, force: true });
  // How long a consumer's setup takes, for the record (not asserted).
  console.log(`library-package: ${Object.entries(timings).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
});

describe('the packed package in a consumer project', () => {
  it('ships the library, its types and the client, and no sources or tests', () => {
    const pkg = JSON.parse(readFileSync(path.join(consumer, 'node_modules', 'hermes', 'package.json'), 'utf8'));
    expect(pkg.exports['.']).toEqual({ types: './dist/lib/hermes.d.mts', default: './dist/lib/hermes.mjs' });
    for (const f of ['dist/lib/hermes.mjs', 'dist/lib/hermes.d.mts', 'dist/client/hermes-client.mjs', 'dist/cli.mjs', 'dist/lambdas/connect/index.mjs', 'bin/hermes']) {
      expect(existsSync(path.join(consumer, 'node_modules', 'hermes', f)), f).toBe(true);
    }
    for (const f of ['src', 'test', 'lambdas', 'scripts']) expect(existsSync(path.join(consumer, 'node_modules', 'hermes', f)), f).toBe(false);
  });

  it('from ESM: issues a token the gateway accepts, publishes to its room, revokes it; loads no CLI module', async () => {
    const trace = path.join(consumer, 'modules.log');
    const issued = await timed('issue', () => step('issue', { trace }));
    expect(issued).toMatchObject({ stage: 'local', local: true, websocketUrl: s.stack.endpoints.websocket, refusal: 'room-mismatch' });
    expect(issued.verified).toEqual({ tokenId: issued.tokenId, userId: 'backend-user', roomId: ROOM, issuedAt: expect.any(Number), expiresAt: expect.any(Number) });
    const loaded = readFileSync(trace, 'utf8');
    expect(loaded).toContain('/node_modules/hermes/dist/lib/hermes.mjs');
    for (const cliOnly of ['commander', '@inquirer', 'chalk', 'dist/cli.mjs', 'dist/chunks/']) expect(loaded, cliOnly).not.toContain(cliOnly);

    // A browser would connect with it: the real authorizer accepts it for its room.
    let client: TestClient | undefined;
    try {
      client = await connect(issued.websocketUrl, issued.token);
      const published = await timed('publish', () => step('publish'));
      expect(published.one).toMatchObject({ sent: [{ index: 0, messageId: expect.any(String) }], failed: [] });
      expect(published.many).toMatchObject({ sent: [{ index: 0, id: 'msg-two' }, { index: 1 }], failed: [] });
      expect(published.invalid).toMatchObject({ field: 'messages[0]', message: expect.stringMatching(/^Message 0 cannot be published: .*room_id/) });
      const frames = (await client.waitFor(3, 20_000)) as Array<{ id: string; room_id: string; user_id: string | null; data: { data: string } }>;
      expect(frames.map((f) => f.data.data).sort()).toEqual(['one', 'three', 'two']);
      expect(frames.every((f) => f.room_id === ROOM)).toBe(true);
      expect(frames.find((f) => f.data.data === 'two')?.id).toBe('msg-two');
      expect(frames.find((f) => f.data.data === 'one')?.user_id).toBe('backend');
    } finally {
      await client?.close();
    }

    const revoked = await step('revoke');
    expect(revoked.listed).toContain(issued.tokenId);
    expect(revoked.revoked).toEqual([issued.tokenId]);
    await expect(connect(issued.websocketUrl, issued.token)).rejects.toMatchObject({ statusCode: 403 });
  });

  // consumer.ts also holds wrong calls under @ts-expect-error: were the types missing or `any`,
  // each directive would be an error itself (TS2578), so a clean run shows the types refuse them.
  it('from TypeScript: the declarations type-check a consumer and reject wrong calls', async () => {
    const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await timed('tsc', () =>
      run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer, timeout: 60_000 }).then(
        () => ({ code: 0, out: '' }),
        (err) => ({ code: err.code as number, out: `${err.stdout}${err.stderr}` }),
      ),
    );
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  });
});
