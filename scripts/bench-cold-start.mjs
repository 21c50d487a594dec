#!/usr/bin/env node
// The Lambda bundles deploy uploads, per architecture: their size (the .mjs and the zip deploy
// makes) and their local cold start, i.e. a fresh Node process importing the bundle and making
// its handler (`createHandler(process.env)`), N times each, interleaved, with bare Node as the
// baseline. The bundles are plain JavaScript with no native code: the arm64 and x86_64 zips are
// the same bytes, so the sizes are equal by construction and this machine (whatever its CPU)
// measures the one bundle.
//   node scripts/bench-cold-start.mjs [--runs 15] [--json]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { build as esbuild } from 'esbuild';
import { nodeProgramOptions } from './build.mjs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 15;
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`bench-cold-start: --runs must be a whole number of at least 1, not ${args[runsAt + 1]}\n`);
  process.exit(2);
}
const json = args.includes('--json');

const build = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet', '--lambdas-only'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const dir = path.join(root, 'dist/lambdas');
// Every bundle the build made (one per function of the stage definition).
const handlers = readdirSync(dir).filter((d) => existsSync(path.join(dir, d, 'index.mjs'))).sort();
// Deploy's own artifacts (src/deploy/bundle.ts: the zip it uploads and its CodeSha256), bundled
// from the TypeScript source for this script as the benchmark suite is.
const out = path.join(root, 'dist/bench');
await esbuild(nodeProgramOptions({ 'deploy-bundle': 'src/deploy/bundle.ts' }, out));
const { loadArtifacts } = await import(pathToFileURL(path.join(out, 'deploy-bundle.mjs')).href);
const artifacts = await loadArtifacts(dir);

const sizes = {};
for (const h of handlers) {
  const a = artifacts[h];
  // The same bundle for either architecture: deploy sends this zip with Architectures [arm64] or [x86_64].
  sizes[h] = { bundleBytes: a.bundleBytes, zipBytes: a.zip.length, sha256: a.sha256 };
}

const env = { PATH: process.env.PATH, AWS_REGION: 'us-east-1', HERMES_STAGE: 'bench', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
const cold = (h) =>
  h === null
    ? ['-e', '0']
    : ['--input-type=module', '-e', `const t=performance.now();const m=await import(${JSON.stringify(pathToFileURL(path.join(dir, h, 'index.mjs')).href)});m.createHandler(process.env);process.stdout.write(String(performance.now()-t))`];
const wall = {};
const imports = {};
for (const name of ['node -e 0', ...handlers]) (wall[name] = []), (imports[name] = []);
for (let i = 0; i < runs + 1; i++) {
  for (const name of ['node -e 0', ...handlers]) {
    const started = process.hrtime.bigint();
    const r = spawnSync(process.execPath, cold(name === 'node -e 0' ? null : name), { env, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (r.status !== 0) {
      process.stderr.write(`bench-cold-start: ${name} failed: ${r.stderr}\n`);
      process.exit(1);
    }
    if (i === 0) continue; // warm-up: the disk cache
    wall[name].push(ms);
    if (name !== 'node -e 0') imports[name].push(Number(r.stdout));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${os.arch()}, Node ${process.version}`;
const result = {
  machine,
  date: new Date().toISOString().slice(0, 10),
  runs,
  sameForBothArchitectures: true,
  handlers: Object.fromEntries(
    handlers.map((h) => [h, { ...sizes[h], importMs: Math.round(median(imports[h]) * 10) / 10, processMs: Math.round(median(wall[h])), overNodeMs: Math.round(median(wall[h]) - median(wall['node -e 0'])) }]),
  ),
  nodeMs: Math.round(median(wall['node -e 0'])),
};
if (json) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  const kb = (b) => `${(b / 1024).toFixed(0)} KB`;
  const lines = [
    `Lambda bundles, local cold start (${runs} runs each, medians) on ${machine}, ${result.date}`,
    'The JS is the same for arm64 and x86_64: one zip per handler, uploaded with either architecture.',
    '',
    `${'handler'.padEnd(14)}${'bundle'.padStart(9)}${'zip'.padStart(9)}${'import+create'.padStart(15)}${'process'.padStart(10)}${'over node'.padStart(11)}`,
    ...handlers.map((h) => {
      const r = result.handlers[h];
      return `${h.padEnd(14)}${kb(r.bundleBytes).padStart(9)}${kb(r.zipBytes).padStart(9)}${`${r.importMs} ms`.padStart(15)}${`${r.processMs} ms`.padStart(10)}${`${r.overNodeMs} ms`.padStart(11)}`;
    }),
    `${'node -e 0'.padEnd(14)}${''.padStart(18)}${''.padStart(15)}${`${result.nodeMs} ms`.padStart(10)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
