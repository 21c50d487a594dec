/**
 * The local stack under long use and load (issue 16), against `hermes dev` as a child process:
 *   leak      RSS every N delivered frames over 100,000 frames (flat within 10% after warm-up?)
 *   idle      CPU seconds over an idle minute, RSS across it, and publish-to-receive latency of
 *             the first message after it
 *   storm     500 simultaneous handshakes with distinct bcrypt-cost-10 tokens: all succeed?
 *   shutdown  Ctrl-C with 150 clients connected and messages flowing: time to exit, exit code,
 *             errors logged, connection rows left behind
 * Run by scripts/bench-local.mjs; docs/reliability.md has the figures and how to read them.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { publish } from '../../src/core/publish.js';
import { summarise } from '../../src/bench/stats.js';
import { startDev, listen, machineLine, sleep, until, tempStateDir, type DevChild, type Listener } from './dev-child.js';

export type Out = (line: string) => void;

async function connectionRows(dev: DevChild): Promise<number> {
  let n = 0;
  let key: Record<string, unknown> | undefined;
  do {
    const page = await dev.ddb.send(new ScanCommand({ TableName: dev.names.connectionsTable, ExclusiveStartKey: key, Select: 'COUNT' }));
    n += page.Count ?? 0;
    key = page.LastEvaluatedKey;
  } while (key);
  return n;
}

async function listeners(dev: DevChild, room: string, n: number, bcryptCost = 4): Promise<Listener[]> {
  const out: Listener[] = [];
  for (let i = 0; i < n; i++) out.push(await listen(dev.ready.websocket, await dev.token(`u${i}`, room, bcryptCost)));
  return out;
}

const closeAll = async (ls: Listener[]) => {
  for (const l of ls) l.ws.close();
  await Promise.race([Promise.all(ls.map((l) => l.closed)), sleep(5000)]);
};

/** RSS at a checkpoint: the median of five readings 100 ms apart, so one GC does not decide it. */
async function steadyRss(dev: DevChild): Promise<number> {
  const r: number[] = [];
  for (let i = 0; i < 5; i++) {
    r.push(dev.rssMb());
    await sleep(100);
  }
  return r.sort((a, b) => a - b)[2];
}

/** Least-squares slope of y over x. */
function slope(points: Array<{ x: number; y: number }>): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den ? num / den : 0;
}

export async function leak(out: Out, opts: { frames?: number; every?: number; listeners?: number } = {}): Promise<boolean> {
  const totalFrames = opts.frames ?? 100_000;
  const every = opts.every ?? 10_000;
  const width = opts.listeners ?? 10;
  const dev = await startDev();
  try {
    const ls = await listeners(dev, 'soak', width);
    let delivered = 0;
    for (const l of ls) l.onFrame = () => void delivered++;
    const messages = Math.ceil(totalFrames / width);
    const started = Date.now();
    out(`leak: ${width} listeners in one room, ${messages} messages = ${messages * width} frames, persisted mode;`);
    out('  RSS of the hermes dev process (all threads), median of 5 readings at each checkpoint');
    out('   frames   RSS MB   elapsed s');
    const samples: Array<{ frames: number; rss: number }> = [];
    const record = async (frames: number) => {
      const rss = await steadyRss(dev);
      samples.push({ frames, rss });
      out(`  ${String(frames).padStart(7)}   ${String(rss).padStart(6)}   ${((Date.now() - started) / 1000).toFixed(1).padStart(9)}`);
    };
    await record(0);
    let sent = 0;
    let nextSample = every;
    while (delivered < messages * width) {
      if (sent < messages && sent * width - delivered < 200 * width) {
        // Keep about 200 messages in flight, so the queue never piles up.
        const n = Math.min(50, messages - sent);
        await publish({ sqs: dev.sqs, queueUrl: dev.ready.queueUrl }, Array.from({ length: n }, (_, i) => ({ room_id: 'soak', user_id: 'bench', data: { n: sent + i } })));
        sent += n;
      } else {
        await sleep(5);
      }
      if (delivered >= nextSample) {
        await record(nextSample);
        nextSample += every;
      }
      if (Date.now() - started > 30 * 60_000) throw new Error(`only ${delivered} frames after 30 minutes`);
    }
    while (nextSample <= delivered) {
      await record(nextSample);
      nextSample += every;
    }
    // Warm-up: the first 40% of the run, while instances start and their heaps grow to their
    // working size (in every run here the curve rises until 30,000-40,000 frames, then is flat;
    // a leak shows as a rise that does not stop, measured by the trend).
    const warm = samples.filter((s) => s.frames >= totalFrames * 0.4);
    const lo = Math.min(...warm.map((s) => s.rss));
    const hi = Math.max(...warm.map((s) => s.rss));
    const spread = (hi - lo) / lo;
    const perTenThousand = slope(warm.map((s) => ({ x: s.frames / 10_000, y: s.rss })));
    const ok = spread <= 0.1;
    out(`  after warm-up (from ${warm[0].frames} frames): ${lo}-${hi} MB, spread ${(spread * 100).toFixed(1)}% ${ok ? '(flat within 10%)' : '(NOT flat within 10%)'}, trend ${perTenThousand >= 0 ? '+' : ''}${perTenThousand.toFixed(1)} MB per 10,000 frames`);
    out(`  ${delivered} frames in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await closeAll(ls);
    return ok;
  } finally {
    await dev.stop('SIGINT').catch(() => undefined);
  }
}

export async function idle(out: Out, opts: { seconds?: number } = {}): Promise<boolean> {
  const seconds = opts.seconds ?? 60;
  const dev = await startDev();
  try {
    const [l] = await listeners(dev, 'idle', 1);
    // Warm every function once, then let the stack settle.
    await publish({ sqs: dev.sqs, queueUrl: dev.ready.queueUrl }, [{ room_id: 'idle', user_id: 'bench', data: 'warm' }]);
    await until(() => l.frames >= 1, 30_000, 'the warm-up frame');
    await sleep(3000);
    const cpu0 = dev.cpuSeconds();
    const rss0 = dev.rssMb();
    await sleep(seconds * 1000);
    const cpu = dev.cpuSeconds() - cpu0;
    const rss1 = dev.rssMb();
    let receivedAt = 0;
    l.onFrame = (_f, at) => void (receivedAt ||= at);
    const sentAt = Date.now();
    await publish({ sqs: dev.sqs, queueUrl: dev.ready.queueUrl }, [{ room_id: 'idle', user_id: 'bench', data: 'after the idle minute' }]);
    await until(() => receivedAt > 0, 30_000, 'the first frame after the idle spell');
    const latency = receivedAt - sentAt;
    const perMinute = (cpu * 60) / seconds;
    out(`idle: ${seconds} s with one client connected and no traffic`);
    out(`  CPU ${cpu.toFixed(2)} s over ${seconds} s = ${perMinute.toFixed(2)} CPU s per idle minute (${((cpu / seconds) * 100).toFixed(2)}% of one core)`);
    out(`  RSS ${rss0} MB -> ${rss1} MB across the idle spell`);
    out(`  first message after it: publish (SendMessage) to frame received ${latency} ms`);
    await closeAll([l]);
    return perMinute < 1;
  } finally {
    await dev.stop('SIGINT').catch(() => undefined);
  }
}

export async function storm(out: Out, opts: { connects?: number; bcryptCost?: number } = {}): Promise<boolean> {
  const n = opts.connects ?? 500;
  const cost = opts.bcryptCost ?? 10;
  const dev = await startDev();
  try {
    out(`storm: ${n} simultaneous handshakes, each with its own token (bcrypt cost ${cost}, as \`hermes token create\` issues them)`);
    const t0 = Date.now();
    const tokens: string[] = [];
    for (let i = 0; i < n; i++) tokens.push(await dev.token(`storm-${i}`, `storm-${i % 20}`, cost));
    out(`  (issued ${n} tokens in ${((Date.now() - t0) / 1000).toFixed(1)} s, before the storm)`);
    const cpu0 = dev.cpuSeconds();
    const started = Date.now();
    const times: number[] = [];
    const statuses = new Map<string, number>();
    const opened: Listener[] = [];
    await Promise.all(
      tokens.map(async (t) => {
        const s = Date.now();
        try {
          opened.push(await listen(dev.ready.websocket, t));
          times.push(Date.now() - s);
        } catch (err) {
          const key = (err as { status?: number }).status ? `HTTP ${(err as { status: number }).status}` : (err as Error).message;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
        }
      }),
    );
    const wall = (Date.now() - started) / 1000;
    const cpu = dev.cpuSeconds() - cpu0;
    const lat = summarise(times);
    const rows = await connectionRows(dev);
    out(`  opened ${opened.length}/${n} in ${wall.toFixed(1)} s (${(opened.length / wall).toFixed(1)} handshakes/s); failures: ${statuses.size ? [...statuses].map(([k, v]) => `${v} × ${k}`).join(', ') : 'none'}`);
    out(`  handshake ms: p50 ${lat.p50}, p99 ${lat.p99}, max ${lat.max} (the gateway's integration timeout is 29,000; the client library waits 35,000)`);
    out(`  CPU of hermes dev during the storm: ${cpu.toFixed(1)} s (${(cpu / n * 1000).toFixed(0)} ms per connect), over ${wall.toFixed(1)} s of wall time`);
    out(`  connection rows: ${rows} (one per open socket: ${rows === opened.length ? 'yes' : 'NO'})`);
    await closeAll(opened);
    await until(async () => (await connectionRows(dev)) === 0, 30_000, 'rows to go after the clients closed').catch(() => undefined);
    const after = await connectionRows(dev);
    out(`  after all ${opened.length} clients closed: ${after} rows left`);
    return opened.length === n && rows === n && after === 0;
  } finally {
    await dev.stop('SIGINT').catch(() => undefined);
  }
}

export async function shutdown(out: Out, opts: { clients?: number } = {}): Promise<boolean> {
  const n = opts.clients ?? 150;
  const stateDir = tempStateDir();
  const dev = await startDev({ stateDir });
  let ok = true;
  const ls: Listener[] = [];
  try {
    for (let i = 0; i < n; i++) ls.push(await listen(dev.ready.websocket, await dev.token(`u${i}`, `room-${i % 10}`, 4)));
    const rowsBefore = await connectionRows(dev);
    // Messages keep flowing into every room while Ctrl-C comes.
    let publishing = true;
    const flow = (async () => {
      let k = 0;
      while (publishing) {
        await publish({ sqs: dev.sqs, queueUrl: dev.ready.queueUrl }, Array.from({ length: 10 }, (_, i) => ({ room_id: `room-${i}`, user_id: 'bench', data: { k: k++ } }))).catch(() => undefined);
        await sleep(20);
      }
    })();
    await sleep(2000);
    const frames = ls.reduce((s, l) => s + l.frames, 0);
    const { code, ms } = await dev.stop('SIGINT');
    publishing = false;
    await flow;
    const stderr = dev.stderr();
    const errorLines = stderr.split('\n').filter((l) => /error|ECONNREFUSED|Database is closed|failed/i.test(l));
    const closedBy = await Promise.race([Promise.all(ls.map((l) => l.closed)), sleep(2000).then(() => undefined)]);
    out(`shutdown: Ctrl-C with ${n} clients connected (${rowsBefore} rows) and messages flowing (${frames} frames delivered in the 2 s before)`);
    out(`  exit code ${code} after ${ms} ms; ${errorLines.length} error lines on stderr${errorLines.length ? `, e.g. ${errorLines.slice(0, 3).join(' | ')}` : ''}`);
    out(`  clients told: ${closedBy ? [...new Set(closedBy.map((c) => c.code))].join(', ') : 'not all closed within 2 s'}`);
    // Start the persisted stack again to count what is left in its tables.
    const again = await startDev({ stateDir });
    const left = await connectionRows(again);
    await again.stop('SIGINT');
    out(`  connection rows after the restart: ${left}`);
    ok = code === 0 && left === 0 && errorLines.length === 0;
    return ok;
  } finally {
    for (const l of ls) l.ws.terminate();
    if (dev.child.exitCode === null && dev.child.signalCode === null) await dev.stop('SIGKILL').catch(() => undefined);
  }
}

export const SCENARIOS = { leak, idle, storm, shutdown } as const;

export async function run(names: string[], out: Out, quick: boolean): Promise<boolean> {
  out(`hermes local stack benchmarks, ${new Date().toISOString()}`);
  out(`machine: ${machineLine()}`);
  out('');
  let allOk = true;
  for (const name of names) {
    const started = Date.now();
    let ok: boolean;
    try {
      if (name === 'leak') ok = await leak(out, quick ? { frames: 20_000, every: 2_000 } : {});
      else if (name === 'idle') ok = await idle(out, quick ? { seconds: 10 } : {});
      else if (name === 'storm') ok = await storm(out, quick ? { connects: 100 } : {});
      else ok = await shutdown(out, quick ? { clients: 50 } : {});
    } catch (err) {
      out(`${name}: FAILED: ${(err as Error).stack ?? err}`);
      ok = false;
    }
    out(`  -> ${ok ? 'ok' : 'NOT OK'} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    out('');
    allOk &&= ok;
  }
  return allOk;
}
