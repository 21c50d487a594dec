#!/usr/bin/env node
// How long `hermes` takes to start, against bare Node: runs `node bin/hermes --version`,
// `node bin/hermes --help` and `node -e 0` N times each (interleaved, after a warm-up) and
// prints mean and median wall time and the CLI's overhead over bare Node.
//   node scripts/bench-startup.mjs [--runs 20] [--json]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 20;
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`bench-startup: --runs must be a whole number of at least 1, not ${args[runsAt + 1]}\n`);
  process.exit(2);
}
const json = args.includes('--json');

if (!existsSync(path.join(root, 'dist/cli.mjs'))) {
  spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--quiet'], { stdio: 'inherit' });
}

const hermes = path.join(root, 'bin/hermes');
const cases = [
  { name: 'node -e 0', argv: ['-e', '0'] },
  { name: 'hermes --version', argv: [hermes, '--version'] },
  { name: 'hermes --help', argv: [hermes, '--help'] },
];

function once(argv) {
  const started = process.hrtime.bigint();
  const res = spawnSync(process.execPath, argv, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${res.status}: ${res.stderr}`);
  return ms;
}

// Warm the file system cache so the first case does not pay for everyone.
for (const c of cases) once(c.argv);
const times = new Map(cases.map((c) => [c.name, []]));
for (let i = 0; i < runs; i++) for (const c of cases) times.get(c.name).push(once(c.argv));

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const base = median(times.get('node -e 0'));
const rows = cases.map((c) => {
  const xs = times.get(c.name);
  return { case: c.name, runs: xs.length, meanMs: +mean(xs).toFixed(1), medianMs: +median(xs).toFixed(1), overheadMs: +(median(xs) - base).toFixed(1) };
});

if (json) {
  process.stdout.write(`${JSON.stringify({ node: process.version, runs, results: rows }, null, 2)}\n`);
} else {
  const header = ['case', 'mean ms', 'median ms', 'overhead ms'];
  const cells = rows.map((r) => [r.case, r.meanMs.toFixed(1), r.medianMs.toFixed(1), r.case === 'node -e 0' ? '-' : `+${r.overheadMs.toFixed(1)}`]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  process.stdout.write(`startup time, ${runs} runs each, Node ${process.version} (overhead = median minus bare node's median)\n`);
  process.stdout.write(`${[line(header), ...cells.map(line)].join('\n')}\n`);
}
