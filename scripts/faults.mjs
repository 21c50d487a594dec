#!/usr/bin/env node
// The fault and abuse suite (`npm run faults`): poison messages, a crash mid-batch, DynamoDB
// and @connections down, throttling, a 410 storm, a gateway restart, kill -9 and Ctrl-C in
// persisted mode, floods and forged tokens, each against a local stack on loopback. One row
// per scenario; exit 1 on any loss, wrong delivery or a stack that stops serving. Not part of
// `npm test` (it takes minutes). docs/reliability.md has its output and how to read it.
//
//   node scripts/faults.mjs [--only poison,crash-mid-batch,...] [--out results.txt]
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
const { values: args } = parseArgs({ options: { only: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', default: false } } });
// `hermes dev` runs from dist: build it from the sources as they are now (a second or two).
execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet', '--no-types'], { stdio: 'inherit' });
await build(nodeProgramOptions({ 'faults': 'scripts/reliability/faults.ts' }, path.join(root, 'dist/faults')));
const { runFaults, ALL } = await import(pathToFileURL(path.join(root, 'dist/faults', 'faults.mjs')).href);
if (args.help) {
  process.stdout.write(`usage: node scripts/faults.mjs [--only ${ALL.join(',')}] [--out FILE]\n`);
  process.exit(0);
}
const names = args.only ? args.only.split(',').map((s) => s.trim()) : ALL;
for (const n of names) {
  if (!ALL.includes(n)) {
    process.stderr.write(`unknown scenario "${n}"; choose from ${ALL.join(', ')}\n`);
    process.exit(2);
  }
}
if (args.out) writeFileSync(args.out, '');
const print = (line) => {
  process.stdout.write(`${line}\n`);
  if (args.out) appendFileSync(args.out, `${line}\n`);
};
// The whole suite is bounded: a scenario stuck past this is a failure, not a hang.
const guard = setTimeout(() => {
  print('FAIL: the suite did not finish within 20 minutes');
  process.exit(1);
}, 20 * 60_000);
guard.unref();
const ok = await runFaults(names, print);
process.exit(ok ? 0 : 1);
