/**
 * (6) The connect path: what each `$connect` costs before a socket opens.
 * - Each Lambda bundle's size and its import time in a fresh process (bundles.ts), for the
 *   bundles under test and for any baseline build given (--baseline-bundles), interleaved.
 * - The authorizer's cost per connect, wall and CPU: a cold container (import, then the first
 *   invocation), a warm one verifying tokens it has not seen (bcrypt), and a warm one seeing the
 *   same tokens again (a reconnect). Each container is a process of its own
 *   (authorizer-probe.ts) against the stack's DynamoDB, with tokens at the default bcrypt cost.
 */
import { fork } from 'node:child_process';
import { issueToken } from '../../src/core/tokens.js';
import { DEFAULT_BCRYPT_COST } from '../../src/core/defaults.js';
import { fmt, table } from '../../src/bench/format.js';
import { round } from '../../src/bench/stats.js';
import { measureBundleImports, type BundleImport } from './bundles.js';
import type { ProbeResult, Timing } from './authorizer-probe.js';
import type { BenchSession } from './session.js';

function runProbe(file: string, request: { bundleDir: string; env: Record<string, string>; tokens: string[] }): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = fork(file, [], { env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error('the authorizer probe did not finish within 120 s'))), 120_000);
    child.once('message', (m: { ok: boolean; result?: ProbeResult; error?: string }) => {
      clearTimeout(timer);
      if (m.ok) resolve(m.result!);
      else reject(new Error(`authorizer probe: ${m.error}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the authorizer probe exited (${code})`));
    });
    child.send(request);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const medianTiming = (ts: Timing[]): Timing => ({ ms: round(median(ts.map((t) => t.ms)), 1), cpuMs: round(median(ts.map((t) => t.cpuMs)), 1) });

export interface AuthorizerCost {
  bundleDir: string;
  containers: number;
  tokens: number;
  import: Timing;
  first: Timing;
  coldStart: Timing;
  newToken: Timing;
  knownToken: Timing;
  refused: number;
}

export async function connectPath(b: BenchSession): Promise<{ result: unknown; text: string }> {
  const quick = b.opts.quick;
  const dirs = [b.opts.bundleDir, ...b.opts.baselineBundles];
  b.log(`bundle import times: ${dirs.join(', ')}…`);
  const imports = measureBundleImports(dirs, quick ? 3 : 9);

  const { info, ddb } = await b.startStack();
  const env = await b.child.call<Record<string, string>>('functionEnv', { handler: 'authorizer' });
  const tokensPerContainer = quick ? 3 : 8;
  b.log(`minting ${tokensPerContainer} tokens at bcrypt cost ${DEFAULT_BCRYPT_COST}…`);
  const tokens: string[] = [];
  for (let i = 0; i < tokensPerContainer; i++) {
    const t = await issueToken({ ddb, table: info.tokensTable, secret: info.jwtSecret, bcryptCost: DEFAULT_BCRYPT_COST }, { userId: `probe-${i}`, roomId: 'probe-room' });
    tokens.push(t.token);
  }
  const containers = quick ? 2 : 5;
  const runs = dirs.map(() => [] as ProbeResult[]);
  for (let c = 0; c < containers; c++) {
    for (let d = 0; d < dirs.length; d++) {
      b.log(`  authorizer container ${c + 1}/${containers} of ${dirs[d]}…`);
      runs[d].push(await runProbe(b.opts.probeFile, { bundleDir: dirs[d], env, tokens }));
    }
  }
  await b.stopStack();
  const authorizer: AuthorizerCost[] = runs.map((rs, d) => ({
    bundleDir: dirs[d],
    containers,
    tokens: tokensPerContainer,
    import: medianTiming(rs.map((r) => r.import)),
    first: medianTiming(rs.map((r) => r.first)),
    coldStart: medianTiming(rs.map((r) => ({ ms: r.import.ms + r.first.ms, cpuMs: r.import.cpuMs + r.first.cpuMs }))),
    newToken: medianTiming(rs.map((r) => r.newToken)),
    knownToken: medianTiming(rs.map((r) => r.knownToken)),
    refused: rs.reduce((n, r) => n + r.invocations - r.allowed, 0),
  }));
  return { result: { imports, authorizer }, text: formatConnectPath(imports, authorizer) };
}

function formatConnectPath(imports: BundleImport[][], authorizer: AuthorizerCost[]): string {
  const [current, ...baselines] = imports;
  const names = ['this build', ...baselines.map((_, i) => `baseline ${i + 1}`)];
  const t = (x: Timing) => `${x.ms} / ${x.cpuMs}`;
  return [
    `(6) the connect path`,
    `bundle size and import time in a fresh Node process (median of ${current[0].runs}), ms wall / CPU:`,
    table([
      ['bundle', ...names.flatMap((n) => [`${n}: KB`, `${n}: import ms`])],
      ...current.map((row, i) => [row.handler, ...imports.flatMap((set) => [fmt(Math.round(set[i].bytes / 1024)), `${set[i].importMs} / ${set[i].importCpuMs}`])]),
    ]),
    ...authorizer.map((a, i) => `${names[i]}: ${a.bundleDir}`),
    '',
    `authorizer cost per connect, one container per process (median of ${authorizer[0].containers} containers, ${authorizer[0].tokens} tokens each, bcrypt cost ${DEFAULT_BCRYPT_COST}), ms wall / CPU:`,
    table([
      ['', ...names],
      ['import of the bundle', ...authorizer.map((a) => t(a.import))],
      ['first invocation (clients built, first DynamoDB call)', ...authorizer.map((a) => t(a.first))],
      ['cold container: import + first invocation', ...authorizer.map((a) => t(a.coldStart))],
      ['warm, a token it has not seen (bcrypt)', ...authorizer.map((a) => t(a.newToken))],
      ['warm, a token it verified before (a reconnect)', ...authorizer.map((a) => t(a.knownToken))],
      ['refused (must be 0)', ...authorizer.map((a) => String(a.refused))],
    ]),
    '',
  ].join('\n');
}
