#!/usr/bin/env node
// The fan-out benchmark: hermes end to end against a bare PostToConnection loop and a bare ws
// broadcast, read capacity of the room index against a Scan, latency and sustained-rate runs,
// the effect of shards on a large room, and what history costs with a fault run (gateway
// restarted twice mid-stream, nothing lost or duplicated). See docs/bench.md for how to read it.
//
//   node scripts/bench-fanout.mjs [--quick] [--only throughput,rcu,...] [--repeat 3]
//        [--profile] [--fanout-concurrency N] [--pollers N] [--baseline-bundles DIR,...]
//        [--prices prices.json] [--json results.json] [--out results.txt]
//
// The suite is TypeScript (scripts/bench/, on top of src/bench/, which `hermes bench` uses too);
// it is bundled here with esbuild, like the CLI, and runs the Lambda bundles from dist/lambdas
// (built by `npm run build`).
import { build } from 'esbuild';
import { nodeProgramOptions } from './build.mjs';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist/bench');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    only: { type: 'string' },
    repeat: { type: 'string', default: '3' },
    'fanout-concurrency': { type: 'string' },
    pollers: { type: 'string' },
    'baseline-bundles': { type: 'string' },
    prices: { type: 'string' },
    json: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'usage: node scripts/bench-fanout.mjs [--quick] [--only rcu,throughput,latency,sustained,shards,history,connect,storm,cost,tune] [--repeat N]\n' +
      '       [--profile] [--fanout-concurrency N] [--pollers N] [--baseline-bundles DIR,...] [--prices FILE] [--json FILE] [--out FILE]\n',
  );
  process.exit(0);
}

if (!existsSync(path.join(root, 'dist/lambdas/send-message/index.mjs'))) {
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet'], { stdio: 'inherit' });
}
await build(nodeProgramOptions({ suite: 'scripts/bench/suite.ts', server: 'scripts/bench/server.ts', 'authorizer-probe': 'scripts/bench/authorizer-probe.ts' }, out));
const { runSuite, SCENARIOS, machine, FUNCTIONS, PRICES, withOverrides } = await import(pathToFileURL(path.join(out, 'suite.mjs')).href);
const scenarios = args.only ? args.only.split(',').map((s) => s.trim()) : SCENARIOS.filter((s) => s !== 'tune');
for (const s of scenarios) {
  if (!SCENARIOS.includes(s)) {
    process.stderr.write(`unknown scenario "${s}"; choose from ${SCENARIOS.join(', ')}\n`);
    process.exit(2);
  }
}
if (args.profile) {
  // Unminified copies of the Lambda bundles, so a profile can name the modules inside them.
  await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(FUNCTIONS).map(([name, fn]) => [`${name}/index`, fn.source])),
    outdir: path.join(out, 'lambdas'),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    minify: false,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: nodeProgramOptions({}, out).banner,
    logLevel: 'warning',
  });
}
const num = (v, name) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a whole number >= 1\n`);
    process.exit(2);
  }
  return n;
};

const baselineBundles = (args['baseline-bundles'] ?? '').split(',').filter(Boolean).map((d) => path.resolve(d));
for (const dir of baselineBundles) {
  if (!existsSync(path.join(dir, 'authorizer', 'index.mjs'))) {
    process.stderr.write(`--baseline-bundles: ${dir} has no authorizer/index.mjs; give the dist/lambdas directory of another build\n`);
    process.exit(2);
  }
}
let prices = PRICES;
if (args.prices) {
  try {
    prices = withOverrides(PRICES, JSON.parse(readFileSync(args.prices, 'utf8')));
  } catch (err) {
    process.stderr.write(`--prices ${args.prices}: ${err.message}\n`);
    process.exit(2);
  }
}

const m = machine();
const lines = [];
const print = (text) => {
  lines.push(text);
  process.stdout.write(`${text}\n`);
};
print(`hermes fan-out benchmark, ${new Date().toISOString()}`);
print(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Node ${m.node}, load average ${m.loadAverage.join(' ')}`);
print('');
const results = await runSuite({
  serverFile: path.join(out, 'server.mjs'),
  probeFile: path.join(out, 'authorizer-probe.mjs'),
  bundleDir: path.join(root, 'dist/lambdas'),
  baselineBundles,
  prices,
  profileBundleDir: path.join(out, 'lambdas'),
  profile: args.profile,
  scenarios,
  repeat: num(args.repeat, 'repeat'),
  quick: args.quick,
  stack: { fanoutConcurrency: num(args['fanout-concurrency'], 'fanout-concurrency'), pollers: num(args.pollers, 'pollers') },
  log: (line) => process.stderr.write(`${line}\n`),
  out: print,
});
print(`load average at the end: ${results.machine.loadAverageAtEnd.join(' ')}`);
if (args.json) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
if (args.out) writeFileSync(args.out, `${lines.join('\n')}\n`);
process.exit(0);
