/**
 * `hermes config show` and `hermes dev` read `hermes dev`'s ports and host through the one
 * resolver: flag > environment > hermes.config.json (`dev`) > default, each with its source.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cli, startCli } from './helpers/cli.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A fresh project directory, optionally with a hermes.config.json. */
function project(config?: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hermes-config-'));
  dirs.push(dir);
  if (config !== undefined) writeFileSync(path.join(dir, 'hermes.config.json'), JSON.stringify(config));
  return dir;
}

describe('hermes config show', () => {
  it('shows hermes dev\'s ports and host, each with where it came from', async () => {
    const cwd = project({ dev: { host: '0.0.0.0', sqsPort: 9400, port: 4999 } });
    const r = await cli(['config', 'show', '--json'], { cwd, env: { HERMES_PORT: '4123' } });
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows['dev.port']).toEqual({ value: 4123, source: 'env', from: 'HERMES_PORT' });
    expect(rows['dev.host']).toEqual({ value: '0.0.0.0', source: 'file', from: 'hermes.config.json:dev.host' });
    expect(rows['dev.sqsPort']).toEqual({ value: 9400, source: 'file', from: 'hermes.config.json:dev.sqsPort' });
    expect(rows['dev.dynamodbPort']).toEqual({ value: 8000, source: 'default' });
    // The settings every verb shares are still there.
    expect(rows.stage).toEqual({ value: 'local', source: 'default' });

    const human = await cli(['config', 'show'], { cwd, env: { HERMES_DYNAMODB_PORT: '8100' } });
    expect(human.code, human.stderr).toBe(0);
    const line = (key: string) => human.stdout.split('\n').find((l) => l.startsWith(`${key} `))?.split(/\s{2,}/);
    expect(line('dev.dynamodbPort')).toEqual(['dev.dynamodbPort', '8100', 'env: HERMES_DYNAMODB_PORT']);
    expect(line('dev.port')).toEqual(['dev.port', '4999', 'file: hermes.config.json:dev.port']);
    expect(line('dev.host')).toEqual(['dev.host', '0.0.0.0', 'file: hermes.config.json:dev.host']);
  });

  it('names the variable or file key of a bad port (exit 2)', async () => {
    const badEnv = await cli(['config', 'show'], { cwd: project(), env: { HERMES_SQS_PORT: 'soon' } });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('Invalid HERMES_SQS_PORT value: "soon". Must be a whole number from 0 to 65535.');
    const badFile = await cli(['config', 'show'], { cwd: project({ dev: { port: 70000 } }) });
    expect(badFile.code).toBe(2);
    expect(badFile.stderr).toContain('Invalid hermes.config.json:dev.port value: "70000".');
    const badHost = await cli(['config', 'show'], { cwd: project({ dev: { host: 42 } }) });
    expect(badHost.code).toBe(2);
    expect(badHost.stderr).toContain('Invalid hermes.config.json:dev.host value: 42.');
  });
});

describe('colour', () => {
  it('is on for a terminal only: never with NO_COLOR, TERM=dumb, --json or a pipe', async () => {
    const cwd = project();
    const ansi = /\x1b\[\d+m/;
    const tty = await cli(['config', 'show'], { cwd, isTTY: true });
    expect(tty.code, tty.stderr).toBe(0);
    // The source column is dimmed (SGR 2 ... 22), the value is not.
    expect(tty.stdout).toMatch(/^stage +local +\x1b\[2mdefault\x1b\[22m$/m);
    for (const [argv, opts] of [
      [['config', 'show'], { isTTY: true, env: { NO_COLOR: '1' } }],
      [['config', 'show'], { isTTY: true, env: { TERM: 'dumb' } }],
      [['config', 'show', '--json'], { isTTY: true }],
      [['config', 'show'], { isTTY: false }],
    ] as const) {
      const r = await cli([...argv], { cwd, ...opts });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(ansi);
    }
    const error = await cli(['config', 'show'], { cwd: project({ dev: { port: 'x' } }), isTTY: true });
    expect(error.stderr).toMatch(/^\x1b\[31merror:\x1b\[39m Invalid hermes\.config\.json:dev\.port value/);
  });
});

describe('hermes dev', () => {
  it('refuses a bad port from any source before starting anything, naming that source', async () => {
    const cwd = project({ dev: { dynamodbPort: 'x' } });
    const fromEnv = await cli(['dev', '--ephemeral'], { cwd, env: { HERMES_PORT: '-1' } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('Invalid HERMES_PORT value: "-1"');
    const fromFlag = await cli(['dev', '--ephemeral', '--dynamodb-port', '0', '--sqs-port', 'x'], { cwd });
    expect(fromFlag.code).toBe(2);
    expect(fromFlag.stderr).toContain('Invalid --sqs-port value: "x"');
    const fromFile = await cli(['dev', '--ephemeral', '--port', '0'], { cwd });
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toContain('Invalid hermes.config.json:dev.dynamodbPort value: "x"');
  });

  it('listens where flag > environment > file say', async () => {
    // The file names a port that is taken: the stack starts only if the flag wins over it.
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as { port: number }).port;
    try {
      const cwd = project({ dev: { port: busyPort, dynamodbPort: 0, sqsPort: busyPort, host: 'localhost' } });
      const run = startCli(['dev', '--ephemeral', '--no-watch', '--json', '--port', '0'], {
        cwd,
        env: { HERMES_SQS_PORT: '0', HERMES_HOST: '127.0.0.1' },
        timeoutMs: 45_000,
      });
      await run.waitFor('stdout', '"status":"ready"', 40_000);
      const ready = JSON.parse(run.stdout().split('\n')[0]);
      const ws = new URL(ready.websocket);
      expect(ws.hostname).toBe('127.0.0.1');
      expect(Number(ws.port)).not.toBe(busyPort);
      expect(Number(new URL(ready.sqs).port)).not.toBe(busyPort);
      run.interrupt();
      expect((await run.done).code).toBe(0);
    } finally {
      busy.close();
    }
  });
});
