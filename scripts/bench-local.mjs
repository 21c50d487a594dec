#!/usr/bin/env node
// The local stack under long use and load: memory over 100,000 frames, idle CPU, a 500-connect
// storm and Ctrl-C under 150 clients, each against `hermes dev` run as a child process.
// See docs/reliability.md for the figures and how to read them.
//
//   node scripts/bench-local.mjs [--only leak,idle,storm,shutdown] [--quick] [--out results.txt]
//
// The scenarios are TypeScript (scripts/reliability/), bundled here with esbuild like the
// fan-out bench; `hermes dev` runs from bin/hermes (built by `npm run build`).
import { appendFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { nodeProgramOptions } from './build.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.HERMES_ROOT = root;
const { values: args } = parseArgs({
  options: { only: { type: 'string' }, quick: { type: 'boolean', default: false }, out: { type: 'string' }, help: { type: 'boolean', default: false } },
});
const all = ['leak', 'idle', 'storm', 'shutdown'];
if (args.help) {
  process.stdout.write(`usage: node scripts/bench-local.mjs [--only ${all.join(',')}] [--quick] [--out FILE]\n`);
  process.exit(0);
}
const names = args.only ? args.only.split(',').map((s) => s.trim()) : all;
for (const n of names) {
  if (!all.includes(n)) {
    process.stderr.write(`unknown scenario "${n}"; choose from ${all.join(', ')}\n`);
    process.exit(2);
  }
}
// `hermes dev` runs from dist: build it from the sources as they are now (a second or two).
execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet', '--no-types'], { stdio: 'inherit' });
await build(nodeProgramOptions({ 'local-bench': 'scripts/reliability/local-bench.ts' }, path.join(root, 'dist/bench-local')));
const { run } = await import(pathToFileURL(path.join(root, 'dist/bench-local', 'local-bench.mjs')).href);
if (args.out) writeFileSync(args.out, '');
const print = (line) => {
  process.stdout.write(`${line}\n`);
  if (args.out) appendFileSync(args.out, `${line}\n`);
};
const ok = await run(names, print, args.quick);
process.exit(ok ? 0 : 1);
