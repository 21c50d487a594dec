/**
 * The local Lambda runtime (src/local/lambda-runtime.ts) with a stand-in bundle
 * (test/fixtures/lambdas/probe): instances are worker threads running one invocation at a time,
 * a bounded pool queues the rest, the timeout counts from the start of the invocation, and a
 * timed-out invocation is cut off for good.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, existsSync, rmSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFunction, LambdaClosedError, type LocalFunction } from '../src/local/lambda-runtime.js';
import type { HandlerName } from '../src/stack/definition.js';

const bundleDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/lambdas');
const lines: Array<{ level: string; line: string }> = [];
const logger = {
  info: (l: unknown) => lines.push({ level: 'info', line: String(l) }),
  warn: (l: unknown) => lines.push({ level: 'warn', line: String(l) }),
  error: (l: unknown) => lines.push({ level: 'error', line: String(l) }),
};
const opened: LocalFunction[] = [];

async function probe(timeoutMs: number, concurrency = 2): Promise<LocalFunction> {
  const fn = await loadFunction('probe' as HandlerName, {
    functionName: 'hermes-test-probe', bundleDir, env: { PROBE: 'from-env' }, logger, timeoutMs, region: 'us-east-1', concurrency,
  });
  opened.push(fn);
  return fn;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((f) => f.close(0)));
  lines.length = 0;
});

describe('local Lambda runtime', () => {
  it('runs the bundle in a worker thread with the environment and context it was given, logs included', async () => {
    const fn = await probe(5000);
    const out = (await fn.invoke({ op: 'echo', n: 1 })) as Record<string, unknown>;
    expect(out).toMatchObject({ event: { op: 'echo', n: 1 }, env: 'from-env', invocations: 1 });
    expect(out.thread).not.toBe(0); // 0 is the main thread
    expect(out.remaining).toBeGreaterThan(0);
    expect(out.remaining).toBeLessThanOrEqual(5000);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0].line)).toMatchObject({ message: 'echo' });
  });

  it('warm() starts one instance ahead of the first invocation, which then runs on it', async () => {
    const fn = await probe(5000, 2);
    fn.warm();
    fn.warm(); // one is enough
    expect(fn.stats().instances).toBe(1);
    await fn.invoke({ op: 'echo' });
    expect(fn.stats()).toMatchObject({ instances: 1, running: 0 });
  });

  it('keeps at most `concurrency` instances and queues the rest, each timed from its own start', async () => {
    // Six invocations of 600 ms on two instances take three rounds (about 1.8 s), longer than
    // the 1 s timeout: they all succeed because the queue wait does not count.
    const fn = await probe(1000, 2);
    const results = (await Promise.all(Array.from({ length: 6 }, () => fn.invoke({ op: 'sleep', ms: 600 })))) as Array<{ thread: number; at: number }>;
    expect(new Set(results.map((r) => r.thread)).size).toBe(2);
    expect(fn.stats()).toMatchObject({ instances: 2, running: 0, queued: 0, timedOut: 0 });
    const spread = Math.max(...results.map((r) => r.at)) - Math.min(...results.map((r) => r.at));
    expect(spread).toBeGreaterThanOrEqual(1000); // the last round ran after the first two
  });

  it('runs CPU-bound invocations on separate instances at the same time', async () => {
    const fn = await probe(5000, 2);
    const [a, b] = (await Promise.all([fn.invoke({ op: 'spin', ms: 300 }), fn.invoke({ op: 'spin', ms: 300 })])) as Array<{ thread: number }>;
    expect(a.thread).not.toBe(b.thread);
  });

  it('abandons a timed-out invocation for good: its later write never lands and a fresh instance takes over', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hermes-runtime-'));
    try {
      const file = path.join(dir, 'late.txt');
      const fn = await probe(300, 1);
      await expect(fn.invoke({ op: 'write-later', ms: 800, file })).rejects.toMatchObject({
        name: 'Sandbox.Timedout',
        message: 'Task timed out after 0.30 seconds',
      });
      // The next invocation gets a new instance (a reset sandbox), not the cut-off one.
      const after = (await fn.invoke({ op: 'echo' })) as { invocations: number };
      expect(after.invocations).toBe(1);
      await new Promise((r) => setTimeout(r, 1000));
      expect(existsSync(file)).toBe(false);
      expect(fn.stats().timedOut).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes a throw through with its name, and survives an instance that crashes or returns what cannot be cloned', async () => {
    const fn = await probe(5000, 1);
    await expect(fn.invoke({ op: 'throw', message: 'boom' })).rejects.toMatchObject({ name: 'ProbeError', message: 'boom' });
    await expect(fn.invoke({ op: 'unclonable' })).rejects.toMatchObject({ name: 'Runtime.MarshalError' });
    await expect(fn.invoke({ op: 'crash' })).rejects.toMatchObject({ name: 'Runtime.ExitError' });
    expect(await fn.invoke({ op: 'echo' })).toMatchObject({ env: 'from-env' });
  });

  it('drops an invocation still queued when its caller aborts, and one still running goes on', async () => {
    const fn = await probe(5000, 1);
    const abort = new AbortController();
    const running = fn.invoke({ op: 'sleep', ms: 300 }, { signal: abort.signal });
    const queued = fn.invoke({ op: 'echo' }, { signal: abort.signal });
    abort.abort();
    await expect(queued).rejects.toThrow();
    await expect(running).resolves.toMatchObject({ slept: 300 });
    expect(fn.stats().queued).toBe(0);
  });

  it('close() refuses new work, lets running invocations finish within the grace and fails the queued ones', async () => {
    const fn = await probe(5000, 1);
    const running = fn.invoke({ op: 'sleep', ms: 200 });
    const queued = fn.invoke({ op: 'echo' }).catch((err: unknown) => err);
    await fn.close(2000);
    await expect(running).resolves.toMatchObject({ slept: 200 });
    expect(await queued).toBeInstanceOf(LambdaClosedError);
    await expect(fn.invoke({ op: 'echo' })).rejects.toBeInstanceOf(LambdaClosedError);
  });

  it('reload() serves the new bundle to the next invocations, lets a running one finish on the old, and keeps the old when the new does not load', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hermes-reload-'));
    try {
      cpSync(bundleDir, dir, { recursive: true });
      const file = path.join(dir, 'probe', 'index.mjs');
      const original = readFileSync(file, 'utf8');
      const fn = await loadFunction('probe' as HandlerName, { functionName: 'hermes-test-reload', bundleDir: dir, env: { PROBE: 'v1' }, logger, timeoutMs: 5000, region: 'us-east-1', concurrency: 2 });
      opened.push(fn);
      expect(await fn.invoke({ op: 'echo' })).toMatchObject({ env: 'v1' });
      const running = fn.invoke({ op: 'sleep', ms: 400 });
      writeFileSync(file, original.replace('env: env.PROBE', "env: 'v2'"));
      await fn.reload('2');
      expect(await fn.invoke({ op: 'echo' })).toMatchObject({ env: 'v2' });
      await expect(running).resolves.toMatchObject({ slept: 400 });
      writeFileSync(file, 'export function createHandler( {');
      await expect(fn.reload('3')).rejects.toThrow(/version 3 of hermes-test-reload did not load/);
      expect(await fn.invoke({ op: 'echo' })).toMatchObject({ env: 'v2' });
      expect(fn.stats().instances).toBeLessThanOrEqual(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
