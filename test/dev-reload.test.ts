/**
 * `hermes dev` serves the code you just wrote, in a temporary copy of the project (its own
 * sources and dist/, the real node_modules linked in): a handler edited before dev starts is
 * rebuilt at start; one edited while dev runs is rebuilt and swapped in with the WebSocket kept
 * open; a syntax error prints esbuild's message and the previous code keeps serving.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type TestClient } from './helpers/ws.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const SOURCES = ['bin', 'client', 'lambdas', 'scripts', 'src', 'package.json'];
const ORIGINAL = 'The actions are ';

let project: string;
const defaultTs = () => path.join(project, 'lambdas', 'default.ts');
const edit = (from: string, to: string) => {
  const text = readFileSync(defaultTs(), 'utf8');
  expect(text, `lambdas/default.ts holds ${from}`).toContain(from);
  writeFileSync(defaultTs(), text.replace(from, to));
};

/** `hermes dev` of the copy, in a child process, as a user runs it, with bounded waits on its output. */
function startDev(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [path.join(project, 'bin', 'hermes'), '--json', 'dev', '--port', '0', '--dynamodb-port', '0', '--sqs-port', '0', '--ephemeral', '--state-dir', path.join(project, '.hermes'), ...args], {
    cwd: project,
    env: { PATH: process.env.PATH, HOME: project, HERMES_BCRYPT_COST: '4', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout!.on('data', (d) => ((stdout += d), watchers.forEach((w) => w())));
  child.stderr!.on('data', (d) => ((stderr += d), watchers.forEach((w) => w())));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  /** NDJSON events on stdout so far. */
  const events = () => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  const until = <T>(check: () => T | undefined, what: string, ms = 30_000) =>
    new Promise<T>((resolve, reject) => {
      const done = () => {
        const v = check();
        if (v === undefined) return false;
        clearTimeout(timer);
        watchers.delete(poll);
        resolve(v);
        return true;
      };
      const poll = () => void done();
      const timer = setTimeout(() => {
        watchers.delete(poll);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, ms);
      if (!done()) watchers.add(poll);
    });
  return {
    events,
    stderr: () => stderr,
    event: (status: string, after = 0) => until(() => events().slice(after).find((e) => e.status === status), `a "${status}" event`),
    stderrMatch: (re: RegExp) => until(() => (re.test(stderr) ? stderr : undefined), String(re)),
    async stop() {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A socket in a room, through the demo page's token endpoint, as a browser gets one. */
async function socket(demo: string): Promise<TestClient> {
  const res = await fetch(`${demo}_hermes/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'dev', room: 'reload' }) });
  const { url, token } = (await res.json()) as { url: string; token: string };
  return connect(url, token);
}

/** What $default answers an unknown action, over the socket. */
async function answer(client: TestClient): Promise<string> {
  const before = client.frames.length;
  client.ws.send(JSON.stringify({ action: 'nope' }));
  const frames = await client.waitFor(before + 1, 15_000);
  return (frames[before] as { message: string }).message;
}

beforeAll(() => {
  project = mkdtempSync(path.join(tmpdir(), 'hermes-dev-reload-'));
  for (const entry of SOURCES) cpSync(path.join(repo, entry), path.join(project, entry), { recursive: true });
  symlinkSync(path.join(repo, 'node_modules'), path.join(project, 'node_modules'), 'dir');
  execFileSync(process.execPath, [path.join(project, 'scripts', 'build.mjs'), '--no-types', '--quiet'], { cwd: project, stdio: 'inherit' });
});

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('hermes dev serves the code you just wrote', () => {
  it('rebuilds at start what changed since the build, then reloads on save and keeps the old code on a syntax error', async () => {
    edit(ORIGINAL, 'Edited before start: the actions are ');
    const dev = startDev([]);
    try {
      const ready = await dev.event('ready');
      expect(ready).toMatchObject({ watching: true, rebuilt: ['lambdas/default.ts'], bundles: path.join(project, 'dist', 'lambdas') });
      expect(dev.stderr()).toMatch(/lambdas\/default\.ts changed since the last build: rebuilding the handlers/);
      const client = await socket(ready.demo);
      expect(await answer(client)).toMatch(/^Unknown action "nope"\. Edited before start/);

      // A save while it runs: the next message runs the new code, on the same connection.
      const seen = dev.events().length;
      edit('Edited before start', 'Reloaded');
      const reloaded = await dev.event('reloaded', seen);
      expect(reloaded.handlers).toEqual(['default']);
      expect(await answer(client)).toMatch(/^Unknown action "nope"\. Reloaded: the actions are/);
      expect(client.ws.readyState).toBe(client.ws.OPEN);

      // A syntax error: esbuild's message (file and line) is printed, the last good code serves.
      const before = dev.events().length;
      edit('export function createHandler(', 'export function createHandler((');
      const failed = await dev.event('build-failed', before);
      expect(failed.errors).toMatch(/lambdas\/default\.ts:\d+:\d+/);
      await dev.stderrMatch(/build failed.*previous code keeps serving[\s\S]*lambdas\/default\.ts:\d+/);
      expect(await answer(client)).toMatch(/Reloaded: the actions are/);
      expect(client.ws.readyState).toBe(client.ws.OPEN);
      await client.close();
    } finally {
      expect(await dev.stop()).toBe(0);
    }
    expect(dev.events().at(-1)).toEqual({ status: 'stopped' });
  });

  it('--no-watch serves the bundles as built and does not rebuild on save', async () => {
    edit('export function createHandler((', 'export function createHandler(');
    edit('Reloaded', 'Built');
    const dev = startDev(['--no-watch']);
    try {
      const ready = await dev.event('ready');
      // Not watching, but the start still brings the bundles up to date.
      expect(ready).toMatchObject({ watching: false, rebuilt: ['lambdas/default.ts'] });
      const client = await socket(ready.demo);
      expect(await answer(client)).toMatch(/Built: the actions are/);
      edit('Built', 'Never served');
      await new Promise((r) => setTimeout(r, 1500));
      expect(await answer(client)).toMatch(/Built: the actions are/);
      expect(dev.events().map((e) => e.status)).toEqual(['ready']);
      await client.close();
    } finally {
      expect(await dev.stop()).toBe(0);
    }
  });
});
