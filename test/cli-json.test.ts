/**
 * `--json` for every verb: stdout holds only JSON (one document, or NDJSON for the verbs that
 * stream), a failure is `{"error": {"code", "message", "hint"}}` with the exit code unchanged,
 * and human text goes to stderr. The verbs are read from the program itself, so a new verb is
 * run here without editing this file; the tables below only add arguments for cheap successes.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.js';
import { cli, startCli, startCliStack, type CliOptions, type CliResult, type CliStack, type RunningCli } from './helpers/cli.js';
import { publish } from '../src/core/publish.js';

/** Every runnable command path below `hermes` (leaves of the tree): ['token', 'issue'], ['dev']… */
function verbs(): string[][] {
  const noop = { writeOut: () => {}, writeErr: () => {} };
  const program = buildProgram({ io: {} as never, signal: new AbortController().signal, exitCode: 0 }, noop);
  const paths: string[][] = [];
  const walk = (cmd: Command, at: string[]) => {
    if (cmd.commands.length === 0) paths.push(at);
    for (const c of cmd.commands) walk(c, [...at, c.name()]);
  };
  program.commands.forEach((c) => walk(c, [c.name()]));
  return paths;
}

/**
 * stdout as JSON documents: the whole of it as one (pretty-printed) document, or one compact
 * document per line. Anything else fails, naming the line.
 */
function jsonDocs(stdout: string): unknown[] {
  if (stdout.trim() === '') return [];
  try {
    return [JSON.parse(stdout)];
  } catch {
    return stdout.trimEnd().split('\n').map((line, i) => {
      try {
        return JSON.parse(line);
      } catch {
        throw new Error(`stdout line ${i + 1} is not JSON: ${line}\n--- stdout:\n${stdout}`);
      }
    });
  }
}

interface ErrorDoc {
  error: { code: string; message: string; hint?: string; [field: string]: unknown };
}
const isError = (d: unknown): d is ErrorDoc => typeof d === 'object' && d !== null && 'error' in d;

/** The rules every --json run obeys, whatever the verb and outcome. */
function checkJson(label: string, r: CliResult): unknown[] {
  const docs = jsonDocs(r.stdout);
  expect(r.stderr, `${label}: no stack trace without --debug`).not.toMatch(/^\s+at .+\(.*:\d+:\d+\)$/m);
  if (r.code === 0 || r.code === 130) {
    expect(docs.filter(isError), `${label}: exit ${r.code} but an error on stdout`).toEqual([]);
    return docs;
  }
  // A failing run says why on stdout: an error object, or the data that explains the exit code
  // (a refused token's reason, the messages the queue rejected).
  expect(docs.length, `${label}: exit ${r.code} with nothing on stdout\n${r.stderr}`).toBeGreaterThan(0);
  const errors = docs.filter(isError);
  if (errors.length) {
    expect(errors, `${label}: one error, last`).toEqual([docs[docs.length - 1]]);
    const lines = r.stdout.trimEnd().split('\n');
    expect(JSON.parse(lines[lines.length - 1]), `${label}: the error is one compact line`).toEqual(errors[0]);
    expect(errors[0].error, label).toMatchObject({ code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) });
    expect(errors[0].error.message, label).not.toBe('');
    // The same failure, for a person, on stderr (an error line, or the help of a command group).
    expect(r.stderr, label).toMatch(/^(error: |Usage: )/m);
  }
  return docs;
}

/** Run, and interrupt it (like Ctrl-C) after `ms` if it is still running: streams never end by themselves. */
async function runBounded(start: () => RunningCli, ms: number, during?: (run: RunningCli) => Promise<void>): Promise<CliResult> {
  const run = start();
  const timer = setTimeout(() => run.interrupt(), ms);
  try {
    if (during) await during(run);
    return await run.done;
  } finally {
    clearTimeout(timer);
  }
}

const freePorts = ['--port', '0', '--dynamodb-port', '0', '--sqs-port', '0', '--ephemeral', '--no-watch'];
const tmp = (prefix: string) => mkdtempSync(path.join(tmpdir(), prefix));

/** A loopback port with nothing listening: AWS calls to it fail at once (ECONNREFUSED). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Case {
  args: string[];
  /** The exit code this case must end with (default: whatever the rules allow). */
  code?: number;
  /** Interrupt after this long (the streams). Default: the run must end by itself. */
  stopAfterMs?: number;
  /** Runs alongside, e.g. publishes what a listener waits for. */
  during?: (run: RunningCli) => Promise<void>;
}

let s: CliStack;
let empty: string;
const dirs: string[] = [];
const ROOM = `json-${process.pid}`;

/** With no stack anywhere: most verbs fail, saying so; dev starts one (on free ports) and streams. */
const withoutStack = (): Record<string, Case> => ({
  dev: { args: [...freePorts], code: 0, stopAfterMs: 4_000, during: (r) => r.waitFor('stdout', '"status":"ready"', 30_000).then(() => r.interrupt()) },
  // With no stack, bench starts one itself; a stage that does not exist fails at once instead.
  bench: { args: ['--stage', 'nowhere'], code: 2 },
});

/** Against a running local stack: a cheap success per verb. */
const withStack = (): Record<string, Case> => ({
  dev: { args: [...freePorts, '--state-dir', newDir('hermes-json-dev-')], code: 0, stopAfterMs: 4_000, during: (r) => r.waitFor('stdout', '"status":"ready"', 30_000).then(() => r.interrupt()) },
  'config show': { args: [], code: 0 },
  completion: { args: ['bash'], code: 0 },
  'token issue': { args: ['--user', 'json-user', '--room', ROOM], code: 0 },
  'token list': { args: [], code: 0 },
  'token revoke': { args: ['--user', 'json-user', '--all', '--yes'], code: 0 },
  'token verify': { args: ['not-a-jwt'], code: 1 },
  publish: { args: ['--room', ROOM, 'hello'], code: 0 },
  listen: {
    args: ['--room', `${ROOM}-listen`, '--count', '1', '--timeout', '20s'],
    code: 0,
    during: async (r) => {
      await r.waitFor('stderr', 'listening to room', 20_000);
      await publish({ sqs: s.stack.sqs, queueUrl: s.stack.queues.queueUrl }, [{ room_id: `${ROOM}-listen`, data: { type: 'info', data: 'for the listener' } }]);
    },
  },
  status: { args: [], code: 0 },
  'connections list': { args: [], code: 0 },
  disconnect: { args: ['--room', `${ROOM}-nobody`, '--yes'], code: 0 },
  'prune-stale': { args: ['--dry-run'], code: 0 },
  'dlq list': { args: [], code: 0 },
  'dlq redrive': { args: [], code: 0 },
  'dlq purge': { args: ['--yes'], code: 0 },
  bench: { args: ['--rooms', '1', '--listeners', '2', '--messages', '2'], code: 0 },
});

function newDir(prefix: string): string {
  const d = tmp(prefix);
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  s = await startCliStack();
  empty = newDir('hermes-json-empty-');
});

afterAll(async () => {
  await s?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const env: CliOptions['env'] = { HERMES_BCRYPT_COST: '4' };

describe('--json for every verb', () => {
  const all = verbs();

  it('finds the verbs in the program', () => {
    const names = all.map((v) => v.join(' '));
    for (const v of ['dev', 'publish', 'listen', 'status', 'token issue', 'dlq purge', 'deploy']) expect(names).toContain(v);
  });

  it('a bad flag is a usage error object on stdout, exit 2', async () => {
    for (const verb of all) {
      const r = await cli(['--json', ...verb, '--no-such-flag'], { env });
      expect(r.code, verb.join(' ')).toBe(2);
      const [doc] = checkJson(verb.join(' '), r) as ErrorDoc[];
      expect(doc.error, verb.join(' ')).toMatchObject({ code: 'usage', message: "Unknown option '--no-such-flag'", hint: expect.any(String) });
    }
  });

  it('with no stack running: JSON on stdout and the exit code unchanged', async () => {
    const cases = withoutStack();
    const seen: Record<string, number> = {};
    for (const verb of all) {
      const name = verb.join(' ');
      const c = cases[name] ?? { args: [] };
      const r = await runBounded(() => startCli(['--json', '--state-dir', empty, ...verb, ...c.args], { env, timeoutMs: 40_000 }), c.stopAfterMs ?? 30_000, c.during);
      if (c.code !== undefined) expect(r.code, `${name}\n${r.stderr}`).toBe(c.code);
      checkJson(name, r);
      seen[name] = r.code;
    }
    // The verbs that need a stack say so, with the code a script can test for.
    for (const name of ['publish', 'status', 'connections list', 'dlq list', 'token list']) expect(seen[name], name).toBe(1);
    const status = await cli(['--json', '--state-dir', empty, 'status'], { env });
    expect((jsonDocs(status.stdout)[0] as ErrorDoc).error).toMatchObject({ code: 'stack_not_running', hint: expect.stringContaining('hermes dev') });
  });

  it('against a running stack: each verb succeeds with one document (streams: one object a line)', async () => {
    const cases = withStack();
    for (const verb of all) {
      const name = verb.join(' ');
      const c = cases[name];
      if (!c) continue; // deploy and destroy: see below
      const r = await runBounded(() => s.start(['--json', ...verb, ...c.args], { timeoutMs: 40_000 }), c.stopAfterMs ?? 30_000, c.during);
      if (c.code !== undefined) expect(r.code, `${name}\n${r.stdout}\n${r.stderr}`).toBe(c.code);
      const docs = checkJson(name, r);
      expect(docs.length, `${name}: at least one result`).toBeGreaterThan(0);
      if (name === 'dev') expect(docs).toEqual([expect.objectContaining({ status: 'ready' }), { status: 'stopped' }]);
      else if (name === 'listen') expect(docs).toEqual([expect.objectContaining({ room_id: `${ROOM}-listen`, data: { type: 'info', data: 'for the listener' } })]);
      else expect(docs, `${name}: one document`).toHaveLength(1);
    }
  });

  it('an AWS failure carries its structured fields (deploy, destroy)', async () => {
    const endpoint = `http://127.0.0.1:${await deadPort()}`;
    // Credentials in the environment, so the SDK never asks an instance metadata service.
    const keys = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_EC2_METADATA_DISABLED: 'true' };
    const saved = Object.fromEntries(Object.keys(keys).map((k) => [k, process.env[k]]));
    Object.assign(process.env, keys);
    try {
      const target = ['--stage', 'jsontest', '--region', 'us-east-1', '--endpoint-url', endpoint, '--state-dir', newDir('hermes-json-aws-')];
      for (const argv of [['deploy', '--no-build', ...target], ['destroy', '--yes', ...target]]) {
        const r = await cli(['--json', ...argv], { env: { ...env, ...keys }, timeoutMs: 40_000 });
        expect(r.code, `${argv[0]}\n${r.stderr}`).toBe(1);
        const [doc] = checkJson(argv[0], r) as ErrorDoc[];
        expect(doc.error, argv[0]).toMatchObject({ code: 'deploy', resource: expect.any(String), service: expect.any(String), operation: expect.any(String), hint: expect.any(String) });
      }
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('the code of an AWS error', () => {
  it('is the kind deploy explains it by, for every name of that kind', async () => {
    const { errorJson } = await import('../src/cli/errors.js');
    const { deployError } = await import('../src/deploy/errors.js');
    const at = { service: 'lambda', action: 'CreateFunction', resource: 'function hermes-x-connect', region: 'eu-west-1' };
    const cases: Array<[string, string, RegExp]> = [
      ['AccessDeniedException', 'access_denied', /missing lambda:CreateFunction/],
      ['UnauthorizedOperation', 'access_denied', /missing lambda:CreateFunction/],
      ['ExpiredTokenException', 'expired_credentials', /expired/],
      ['RequestExpired', 'expired_credentials', /expired/],
      ['InvalidClientTokenId', 'bad_credentials', /does not accept these credentials/],
      ['CredentialsProviderError', 'no_credentials', /No AWS credentials/],
    ];
    for (const [name, code, deployHint] of cases) {
      const err = Object.assign(new Error('refused'), { name, $fault: 'client', $metadata: { httpStatusCode: 403 } });
      expect(errorJson(err).error.code, name).toBe(code);
      expect(deployError(err, at).hint, name).toMatch(deployHint);
    }
  });
});

describe('help and version with --json', () => {
  it('sub-verb help lists the global options', async () => {
    const r = await cli(['publish', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Global Options:[\s\S]*--stage <stage>[\s\S]*--json/);
    const nested = await cli(['token', 'issue', '--help']);
    expect(nested.stdout).toMatch(/Global Options:[\s\S]*--state-dir <dir>/);
  });

  it('help goes to stderr and the version is a JSON object', async () => {
    const help = await cli(['--json', 'publish', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe('');
    expect(help.stderr).toContain('Usage: hermes publish');
    const version = await cli(['--json', '--version']);
    expect(version.code).toBe(0);
    expect(JSON.parse(version.stdout)).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const bare = await cli(['--json', 'token']);
    expect(bare.code).toBe(2);
    expect(checkJson('token', bare)).toEqual([{ error: expect.objectContaining({ code: 'usage' }) }]);
  });
});
