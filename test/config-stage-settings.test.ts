/**
 * hermes.config.json is checked key by key, and a stage's settings resolve over the stage
 * definition's defaults (src/config/stage-settings.ts).
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../src/config/resolve.js';
import { DEFAULT_SETTINGS } from '../src/stack/definition.js';
import { cli } from './helpers/cli.js';

function withConfig(data: unknown, f: (dir: string) => unknown) {
  const dir = mkdtempSync(path.join(tmpdir(), 'hermes-settings-'));
  writeFileSync(path.join(dir, 'hermes.config.json'), JSON.stringify(data));
  try {
    return f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const errorOf = (data: unknown) => withConfig(data, (dir) => {
  try {
    resolveConfig({ stage: 'prod' }, {}, dir);
  } catch (err) {
    return err as Error & { hint?: string };
  }
  throw new Error('accepted');
}) as Error & { hint?: string };

describe('stage settings in hermes.config.json', () => {
  it('defaults to the stage definition', () => {
    const cfg = withConfig({}, (dir) => resolveConfig({ stage: 'prod' }, {}, dir)) as ReturnType<typeof resolveConfig>;
    expect(cfg.settings).toEqual(DEFAULT_SETTINGS);
    expect(cfg.settings).toMatchObject({ architecture: 'arm64', logRetentionDays: 14, deadLetterRetentionSeconds: 14 * 86400, batchSize: 10 });
  });

  it('resolves every setting of the stage, leaving other stages at their defaults', () => {
    const data = {
      stages: {
        prod: {
          region: 'eu-west-1',
          architecture: 'x86_64',
          functions: { 'send-message': { memoryMb: 1024, timeoutSeconds: 60 } },
          messageRetention: '2d',
          deadLetterRetention: '7d',
          batchSize: 5,
          shardSize: 500,
          fanoutConcurrency: 64,
          bcryptCost: 8,
          tokenTtl: '15m',
          logRetentionDays: 30,
          throttling: { burstLimit: 100 },
          accessLogging: true,
        },
      },
    };
    const cfg = withConfig(data, (dir) => resolveConfig({ stage: 'prod' }, {}, dir)) as ReturnType<typeof resolveConfig>;
    expect(cfg.settings).toMatchObject({
      architecture: 'x86_64',
      messageRetentionSeconds: 2 * 86400,
      deadLetterRetentionSeconds: 7 * 86400,
      batchSize: 5,
      shardSize: 500,
      fanoutConcurrency: 64,
      bcryptCost: 8,
      tokenTtlSeconds: 900,
      logRetentionDays: 30,
      throttling: { burstLimit: 100, rateLimit: DEFAULT_SETTINGS.throttling.rateLimit },
      accessLogging: true,
    });
    expect(cfg.settings.functions['send-message']).toEqual({ memoryMb: 1024, timeoutSeconds: 60 });
    expect(cfg.settings.functions.connect).toEqual(DEFAULT_SETTINGS.functions.connect);
    expect(cfg.bcryptCost).toMatchObject({ value: 8, source: 'file', from: 'hermes.config.json:stages.prod.bcryptCost' });
    const other = withConfig(data, (dir) => resolveConfig({ stage: 'dev' }, {}, dir)) as ReturnType<typeof resolveConfig>;
    expect(other.settings).toEqual(DEFAULT_SETTINGS);
  });

  it('an unknown key is an error naming the key, the file and the keys accepted there', () => {
    const err = errorOf({ stages: { prod: { functions: { 'send-mesage': { memoryMb: 512 } } } } });
    expect(err.message).toMatch(/hermes\.config\.json: unknown key "stages\.prod\.functions\.send-mesage"\. The keys accepted there are: authorizer, connect, disconnect, send-message, resume, default\./);
    expect(err.message).toContain(path.sep); // the file's full path
    expect(errorOf({ stagez: {} }).message).toMatch(/unknown key "stagez"\. The keys accepted there are: stage, region, profile, endpointUrl, bcryptCost, historyRetention, historyMaxPerStream, dev\./);
    expect(errorOf({ stages: { prod: { logRetention: 14 } } }).message).toMatch(/unknown key "stages\.prod\.logRetention"\..*logRetentionDays/);
  });

  it('a wrong type or value is an error naming the key, the file and what is accepted', () => {
    expect(errorOf({ stages: { prod: { batchSize: 'ten' } } }).message).toMatch(/hermes\.config\.json: "stages\.prod\.batchSize" must be a whole number from 1 to 10, not "ten"\./);
    expect(errorOf({ stages: { prod: { architecture: 'arm' } } }).message).toMatch(/"stages\.prod\.architecture" must be one of arm64, x86_64, not "arm"/);
    expect(errorOf({ stages: { prod: { logRetentionDays: 10 } } }).message).toMatch(/"stages\.prod\.logRetentionDays" must be one of 1, 3, 5, 7, 14, 30/);
    expect(errorOf({ stages: { prod: { deadLetterRetention: '30d' } } }).message).toMatch(/"stages\.prod\.deadLetterRetention" must be a duration .* from 60 s to 14 days, not "30d"/);
    expect(errorOf({ stages: { prod: { functions: { connect: { memoryMb: 64 } } } } }).message).toMatch(/"stages\.prod\.functions\.connect\.memoryMb" must be a whole number from 128 to 10240, not 64/);
    expect(errorOf({ stages: { prod: { accessLogging: 'yes' } } }).message).toMatch(/must be true or false/);
    expect(errorOf({ stages: { prod: 'eu-west-1' } }).message).toMatch(/"stages\.prod" must be an object with the keys region, profile, endpointUrl, historyRetention, historyMaxPerStream, architecture/);
  });

  it('the CLI refuses a bad file with exit 2 and the message, for any verb', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hermes-settings-'));
    writeFileSync(path.join(dir, 'hermes.config.json'), JSON.stringify({ stages: { local: { batchSize: 0 } } }));
    const r = await cli(['config', 'show'], { cwd: dir }).finally(() => rmSync(dir, { recursive: true, force: true }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"stages\.local\.batchSize" must be a whole number from 1 to 10, not 0/);
  });

  it('deploy --architecture must be arm64 or x86_64', async () => {
    const r = await cli(['deploy', '--stage', 'prod', '--region', 'eu-west-1', '--architecture', 'arm32', '--dry-run', '--endpoint-url', 'http://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid --architecture value: "arm32"/);
    expect(r.stderr).toMatch(/arm64 or x86_64/);
  });
});
