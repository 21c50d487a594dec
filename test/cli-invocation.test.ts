/**
 * Hints and the dev banner print the command as the user can run it: `hermes` when a hermes is
 * on their PATH, `npx hermes` otherwise (a clone after `npm ci`, or only npx's own PATH).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hermesCommand, runnable } from '../src/config/invocation.js';
import { cli, startCli } from './helpers/cli.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
let dir: string;
/** A directory holding a `hermes` that is this project's bin (as `npm link` makes it). */
let linked: string;
/** A directory holding some other program called `hermes` (the JavaScript engine has that name). */
let other: string;
/** node_modules/.bin of a project, as npx puts it first on PATH. */
let npxBin: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'hermes-invocation-'));
  linked = path.join(dir, 'global-bin');
  other = path.join(dir, 'other-bin');
  npxBin = path.join(dir, 'project', 'node_modules', '.bin');
  for (const d of [linked, other, npxBin]) mkdirSync(d, { recursive: true });
  symlinkSync(path.join(repo, 'bin', 'hermes'), path.join(linked, 'hermes'));
  symlinkSync(path.join(repo, 'bin', 'hermes'), path.join(npxBin, 'hermes'));
  writeFileSync(path.join(other, 'hermes'), '#!/bin/sh\necho not this one\n');
  chmodSync(path.join(other, 'hermes'), 0o755);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('hermesCommand', () => {
  it('is `hermes` only when this hermes is on the PATH the user\'s shell has', () => {
    expect(hermesCommand({ PATH: '/usr/bin:/bin' }, 'linux')).toBe('npx hermes');
    expect(hermesCommand({ PATH: `/usr/bin:${linked}` }, 'linux')).toBe('hermes');
    expect(hermesCommand({ PATH: `${other}:/usr/bin` }, 'linux')).toBe('npx hermes');
    expect(hermesCommand({ PATH: `${other}:${linked}` }, 'linux')).toBe('hermes');
    // Under npx the project's node_modules/.bin is on PATH for this run only.
    expect(hermesCommand({ PATH: `${npxBin}:/usr/bin`, npm_command: 'exec' }, 'linux')).toBe('npx hermes');
    expect(hermesCommand({ PATH: `${npxBin}:/usr/bin:${linked}`, npm_command: 'exec' }, 'linux')).toBe('hermes');
    // Someone who put node_modules/.bin on their own PATH runs it as `hermes`.
    expect(hermesCommand({ PATH: `${npxBin}:/usr/bin` }, 'linux')).toBe('hermes');
  });

  it('rewrites every quoted command of a hint, and only those', () => {
    const env = { PATH: '/usr/bin' };
    expect(runnable('Start it with `hermes dev`, then `hermes listen --room x`; hermes works without a file.', env)).toBe(
      'Start it with `npx hermes dev`, then `npx hermes listen --room x`; hermes works without a file.',
    );
    expect(runnable(runnable('`hermes dev`', env), env)).toBe('`npx hermes dev`');
    expect(runnable('`hermes dev`', { PATH: linked })).toBe('`hermes dev`');
  });
});

describe('the CLI', () => {
  it('hints with the command the user can run, in text and in --json', async () => {
    const empty = mkdtempSync(path.join(dir, 'state-'));
    const off = await cli(['--state-dir', empty, 'status'], { env: { PATH: '/usr/bin' } });
    expect(off.code).toBe(1);
    expect(off.stderr).toContain('Start it with `npx hermes dev`.');
    const on = await cli(['--state-dir', empty, '--json', 'status'], { env: { PATH: linked } });
    expect(JSON.parse(on.stdout).error.hint).toBe('Start it with `hermes dev`.');
  });

  it('the dev banner suggests runnable commands and how to put hermes on PATH', async () => {
    const state = mkdtempSync(path.join(dir, 'dev-'));
    const run = startCli(['--state-dir', state, 'dev', '--ephemeral', '--no-watch', '--port', '0', '--dynamodb-port', '0', '--sqs-port', '0'], { env: { PATH: '/usr/bin' } });
    try {
      const banner = await run.waitFor('stdout', 'Ctrl-C stops', 30_000);
      expect(banner).toContain('Try: npx hermes listen --room demo');
      expect(banner).toContain('npx hermes publish --room demo "hello"');
      expect(banner).toContain('`npm link`');
    } finally {
      run.interrupt();
      expect((await run.done).code).toBe(0);
    }
  });
});
