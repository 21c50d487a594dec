/**
 * `hermes bench` against a local stack it starts in-process (no `hermes dev` runs in the test's
 * empty working directory): the report's shape, every frame delivered once, progress on
 * stderr. No timing assertions: speed is measured by scripts/bench-fanout.mjs, not by tests.
 */
import { describe, it, expect } from 'vitest';
import { cli } from './helpers/cli.js';
import { summarise } from '../src/bench/stats.js';
import { planRooms } from '../src/bench/listeners.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

describe('hermes bench', () => {
  it('runs 2 rooms x 3 listeners x 10 messages and reports with --json', async () => {
    // Act
    const res = await cli(['bench', '--rooms', '2', '--listeners', '6', '--messages', '10', '--payload', '32', '--json'], { env, timeoutMs: 50_000 });
    // Assess
    expect(res.stderr).toContain('starting one in this process');
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.settings).toEqual({ rooms: 2, listeners: 6, messages: 10, rate: null, payloadBytes: 32 });
    expect(report.connect).toMatchObject({ requested: 6, opened: 6, failed: 0 });
    expect(report.connect.perSecond).toBeGreaterThan(0);
    expect(report.round).toMatchObject({ messages: 10, published: 10, publishFailed: 0, drained: 'complete' });
    // 10 messages round-robin over 2 rooms of 3 listeners: 5 messages x 3 listeners per room.
    expect(report.round.frames).toMatchObject({ expected: 30, received: 30, lost: 0, duplicated: 0, misrouted: 0 });
    expect(report.round.frames.perSecond).toBeGreaterThan(0);
    expect(Object.keys(report.round.latencyMs).sort()).toEqual(['max', 'mean', 'p50', 'p95', 'p99', 'samples']);
    expect(report.round.latencyMs.samples).toBe(30);
    expect(report.round.latencyMs.p50).toBeLessThanOrEqual(report.round.latencyMs.p99);
    expect(report.dropped).toBe(0);
    expect(report.notes.join(' ')).toMatch(/bcrypt cost 4/);
    // What the run used, priced: 30 notifications, 6 connects and their disconnects.
    expect(report.cost.notifications.count).toBe(30);
    expect(report.cost.connects.count).toBe(6);
    expect(report.usage.connect.lambda).toMatchObject({ authorizer: { invocations: 6 }, connect: { invocations: 6 } });
    expect(report.usage.close.lambda.disconnect.invocations).toBe(6);
    expect(report.usage.round.apigw.messagesOut).toBe(30);
    // 30 frames at $1 per million messages.
    expect(report.cost.notifications.perMillion.apigwMessages).toBeCloseTo(1, 6);
    expect(report.cost.notifications.perMillion.hermes).toBeGreaterThan(0);
    expect(report.cost.prices).toMatchObject({ region: 'us-east-1', overridden: [] });
  });

  it('prices with an override file, and refuses a bad one naming the file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hermes-prices-'));
    writeFileSync(path.join(dir, 'ok.json'), JSON.stringify({ apigwMessage: 0.000002 }));
    writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ apigwMesage: 0.000002 }));
    const ok = await cli(['bench', '--rooms', '1', '--listeners', '2', '--messages', '2', '--prices', path.join(dir, 'ok.json'), '--json'], { env, timeoutMs: 50_000 });
    expect(ok.code).toBe(0);
    const cost = JSON.parse(ok.stdout).cost;
    expect(cost.prices.overridden).toEqual(['apigwMessage']);
    expect(cost.notifications.perMillion.apigwMessages).toBeCloseTo(2, 6);
    const bad = await cli(['bench', '--prices', path.join(dir, 'bad.json')], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Unknown price "apigwMesage"');
    expect(bad.stderr).toContain('--prices');
  });

  it('prints a table without --json, with a rate', async () => {
    const res = await cli(['bench', '--rooms', '1', '--listeners', '2', '--messages', '4', '--rate', '20'], { env, timeoutMs: 50_000 });
    expect(res.code).toBe(0);
    for (const row of ['connect rate', 'latency p50', 'latency p99', 'latency max', 'delivered frames/s', 'frames lost', 'frames duplicated']) {
      expect(res.stdout).toContain(row);
    }
    expect(res.stdout).toMatch(/frames lost\s+0/);
    expect(res.stderr).toMatch(/published|waiting for frames/);
  });

  it('refuses bad flags with the flag named', async () => {
    const res = await cli(['bench', '--rooms', '5', '--listeners', '2'], { env });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--rooms');
  });
});

describe('bench helpers', () => {
  it('spreads listeners evenly over rooms', () => {
    expect(planRooms('p', 3, 10).sizes).toEqual([4, 3, 3]);
  });

  it('computes nearest-rank percentiles', () => {
    const s = summarise(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(s).toMatchObject({ samples: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  });
});
