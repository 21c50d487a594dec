/**
 * CPU profiles for the bench script, summarised as "where the time goes": self time grouped
 * by component (SDK, signing, HTTP client, gateway, ws, DynamoDB and SQS stand-ins, hermes
 * code, GC, idle). Bundled files (the Lambda bundles) are split back into their modules using
 * the `// path` comments esbuild writes at each module's start in unminified output.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Component → share of samples, in percent, largest first. */
  components: Array<{ component: string; ms: number; percent: number }>;
  /** The functions with the most self time. */
  top: Array<{ fn: string; component: string; percent: number }>;
}

export async function startProfile(intervalUs = 250): Promise<() => Promise<ProfileSummary>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    session.disconnect();
    return summariseProfile(profile);
  };
}

/** Line → module maps of bundled files, built on first use. */
const bundleMaps = new Map<string, Array<{ line: number; module: string }>>();

function moduleInBundle(url: string, line: number): string | undefined {
  let map = bundleMaps.get(url);
  if (!map) {
    map = [];
    try {
      const lines = readFileSync(fileURLToPath(url), 'utf8').split('\n');
      lines.forEach((text, i) => {
        // esbuild's module comments: `// src/core/fanout.ts`, `// node_modules/ws/lib/sender.js`,
        // or a relative path when node_modules is a symlink out of the tree.
        const m = /^\/\/ (?:[^ ]*?\/)?((?:node_modules|src|lambdas|scripts)\/\S+)$/.exec(text);
        if (m) map!.push({ line: i, module: m[1] });
      });
    } catch {
      // not a file we can read: no split
    }
    bundleMaps.set(url, map);
  }
  let found: string | undefined;
  for (const entry of map) {
    if (entry.line > line) break;
    found = entry.module;
  }
  return found;
}

/** The component a frame's code belongs to. */
export function componentOf(url: string, functionName: string, line: number): string {
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (/^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString|shutdown|close|onStreamRead|readStart)$/.test(functionName)) {
      return 'socket I/O (native)';
    }
    if (/^(Hash|Hmac|digest|update|randomUUID|randomFillSync|secureHeapUsed)$/.test(functionName)) return 'crypto (native)';
    if (/^(execute|consume|finish|HTTPParser|initialize)$/.test(functionName)) return 'HTTP parser (native)';
    return 'other native / V8';
  }
  const path = url.includes('/dist/') && url.endsWith('.mjs') ? (moduleInBundle(url, line) ?? url) : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
  if (pkg) {
    if (pkg === '@smithy/signature-v4') return 'SigV4 signing';
    if (pkg.startsWith('@smithy/') || pkg.startsWith('@aws-sdk/')) return 'AWS SDK';
    if (pkg === 'ws') return 'ws';
    if (['dynalite', 'level-transcoder', 'abstract-level', 'memory-level', 'functional-red-black-tree', 'lazy', 'big.js', 'once'].includes(pkg)) {
      return 'DynamoDB stand-in (dynalite)';
    }
    if (pkg === 'local-aws-sqs' || pkg === 'aws-md5-of-message-attributes') return 'SQS stand-in (local-aws-sqs)';
    if (['bcryptjs', 'jsonwebtoken', 'jws'].includes(pkg)) return 'tokens (bcrypt, JWT)';
    return `other packages (${pkg})`;
  }
  if (url.startsWith('node:')) {
    if (/_http_(client|agent)/.test(url)) return 'node http client';
    if (/_http_(server|incoming|outgoing|common)/.test(url)) return 'node http (common, server)';
    return 'node internals (streams, net, events)';
  }
  if (/src\/local\/gateway|src\/local\/management-api/.test(path)) return 'hermes gateway';
  if (/(?:src|scripts)\/bench\//.test(path)) return 'bench clients';
  return 'hermes code';
}

export function summariseProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  const fns = new Map<string, { component: string; us: number }>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const { url, functionName, lineNumber } = node.callFrame;
    const c = componentOf(url, functionName, lineNumber);
    totals.set(c, (totals.get(c) ?? 0) + dt);
    const key = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber}`;
    const f = fns.get(key) ?? { component: c, us: 0 };
    f.us += dt;
    fns.set(key, f);
    total += dt;
  });
  const components = [...totals]
    .map(([component, us]) => ({ component, ms: Math.round(us / 1000), percent: total ? Math.round((1000 * us) / total) / 10 : 0 }))
    .sort((a, b) => b.ms - a.ms);
  const top = [...fns]
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, 25)
    .map(([fn, f]) => ({ fn, component: f.component, percent: total ? Math.round((1000 * f.us) / total) / 10 : 0 }));
  return { totalMs: Math.round(total / 1000), components, top };
}
