/**
 * `hermes completion bash|zsh`: the scripts cover the program tree, and they complete verbs,
 * subcommands, flags and file arguments when a real shell runs them (skipped without the shell).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli } from './helpers/cli.js';

const has = (shell: string) => {
  try {
    execFileSync(shell, ['-c', 'exit 0'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

let dir: string;
let bash: string;
let zsh: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'hermes-completion-'));
  const b = await cli(['completion', 'bash']);
  const z = await cli(['completion', 'zsh']);
  expect(b.code, b.stderr).toBe(0);
  expect(z.code, z.stderr).toBe(0);
  bash = b.stdout;
  zsh = z.stdout;
  writeFileSync(path.join(dir, 'hermes.bash'), bash);
  writeFileSync(path.join(dir, '_hermes'), zsh);
  writeFileSync(path.join(dir, 'messages.ndjson'), '');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hermes completion', () => {
  it('covers every verb, subcommand and flag of the program', () => {
    for (const script of [bash, zsh]) {
      for (const word of ['dev', 'config', 'token', 'publish', 'listen', 'completion', 'issue', 'revoke', 'verify']) {
        expect(script).toContain(word);
      }
      for (const flag of ['--room', '--user', '--ttl', '--count', '--timeout', '--send', '--file', '--data', '--state-dir', '--json']) {
        expect(script).toContain(flag);
      }
    }
    expect(bash).toContain('complete -F _hermes hermes');
    expect(zsh.startsWith('#compdef hermes\n')).toBe(true);
  });

  it.skipIf(!has('bash'))('completes with bash', () => {
    const complete = (line: string) =>
      execFileSync(
        'bash',
        ['-c', `source hermes.bash; COMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _hermes; printf '%s\\n' "\${COMPREPLY[@]}"`],
        { cwd: dir, encoding: 'utf8' },
      )
        .split('\n')
        .filter(Boolean);
    expect(complete(`hermes ''`)).toEqual(expect.arrayContaining(['token', 'publish', 'listen', 'completion']));
    expect(complete(`hermes tok`)).toEqual(['token']);
    expect(complete(`hermes token ''`)).toEqual(['issue', 'list', 'revoke', 'verify']);
    expect(complete(`hermes --stage dev token revoke --a`)).toEqual(['--all']);
    expect(complete(`hermes listen --room demo --c`)).toEqual(['--count']);
    expect(complete(`hermes publish --file mess`)).toEqual(['messages.ndjson']);
    expect(complete(`hermes publish --room ''`)).toEqual([]);
  });

  it.skipIf(!has('zsh'))('completes with zsh', () => {
    // _describe and friends belong to compsys; stand-ins print what would be offered.
    const stubs = `_describe() { print -rl -- "\${(@P)4}"; }; _files() { print FILES; }; _message() { print MESSAGE; }; compdef() { :; }`;
    const complete = (...words: string[]) =>
      execFileSync('zsh', ['-c', `${stubs}; source ./_hermes; words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=\${#words}; _hermes`], {
        cwd: dir,
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/(?<!\\):/)[0]);
    expect(complete('hermes', 'token', '')).toEqual(['issue', 'list', 'revoke', 'verify']);
    expect(complete('hermes', 'listen', '--')).toEqual(expect.arrayContaining(['--room', '--count', '--send', '--json']));
    expect(complete('hermes', 'publish', '--file', '')).toEqual(['FILES']);
  });

  it('refuses an unknown or missing shell with exit 2', async () => {
    const fish = await cli(['completion', 'fish']);
    expect(fish.code).toBe(2);
    expect(fish.stderr).toContain('Unknown shell "fish": hermes completion supports bash and zsh.');
    expect((await cli(['completion'])).code).toBe(2);
  });
});
