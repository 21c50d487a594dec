/**
 * What a cold start costs before the handler runs: each Lambda bundle's size, and its import
 * time as Lambda loads it (a fresh Node process importing dist/lambdas/<name>/index.mjs, with
 * the wall and CPU time of that one `import()`). Processes alternate between bundle sets, so a
 * baseline build (e.g. of main) can be compared with this one in the same run.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HANDLER_NAMES, type HandlerName } from '../../src/stack/definition.js';
import { round } from '../../src/bench/stats.js';

export interface BundleImport {
  handler: HandlerName;
  bytes: number;
  /** Medians over the runs, ms. */
  importMs: number;
  importCpuMs: number;
  runs: number;
}

/** One fresh process: the import's wall and CPU time. */
function importOnce(file: string): { ms: number; cpuMs: number } {
  const code =
    `const c0 = process.cpuUsage(); const t0 = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); ` +
    'const ms = performance.now() - t0; const c = process.cpuUsage(c0); ' +
    'process.stdout.write(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000 }));';
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { ms: number; cpuMs: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Every bundle of every set, `runs` fresh processes each, interleaved across sets. */
export function measureBundleImports(dirs: string[], runs: number): BundleImport[][] {
  const samples = dirs.map(() => HANDLER_NAMES.map(() => ({ ms: [] as number[], cpu: [] as number[] })));
  for (let r = 0; r < runs; r++) {
    HANDLER_NAMES.forEach((h, i) => {
      dirs.forEach((dir, d) => {
        const s = importOnce(path.join(dir, h, 'index.mjs'));
        samples[d][i].ms.push(s.ms);
        samples[d][i].cpu.push(s.cpuMs);
      });
    });
  }
  return dirs.map((dir, d) =>
    HANDLER_NAMES.map((handler, i) => ({
      handler,
      bytes: statSync(path.join(dir, handler, 'index.mjs')).size,
      importMs: round(median(samples[d][i].ms), 1),
      importCpuMs: round(median(samples[d][i].cpu), 1),
      runs,
    })),
  );
}
