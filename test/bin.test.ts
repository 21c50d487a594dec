/** The executable itself: `hermes --version` takes a short path that must print what the CLI would. */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cli } from './helpers/cli.js';

const bin = new URL('../bin/hermes', import.meta.url).pathname;
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const run = (...args: string[]) => execFileSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });

describe('bin/hermes', () => {
  it('prints the version like the CLI does, plain and with --json', async () => {
    expect(run('--version')).toBe(`${version}\n`);
    expect(run('-v')).toBe(`${version}\n`);
    expect(run('--json', '--version')).toBe(`${JSON.stringify({ version })}\n`);
    expect((await cli(['--version'])).stdout).toBe(run('--version'));
    expect((await cli(['--json', '--version'])).stdout).toBe(run('--version', '--json'));
  });

  it('runs the CLI for anything else', () => {
    expect(run('--help')).toContain('Usage: hermes');
  });
});
