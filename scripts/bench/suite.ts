/**
 * The fan-out benchmark suite behind scripts/bench-fanout.mjs. In one run on one machine:
 * 1. throughput, side by side on the same listeners: hermes end to end (queue → send-message
 *    → room index → @connections → socket); a bare loop of PostToConnection calls against the
 *    same gateway (with hermes's management client, and with a stock SDK v3 client); a bare
 *    `ws` server broadcasting the same frames to as many sockets (the machine's floor);
 * 2. latency for one room of 1,000 listeners; 3. a sustained publish rate with no frame lost;
 * 4. read capacity per message, room index against Scan; 5. the effect of shards on one large
 *    room, and the deadline hand-over; 6. the connect path (bundle import times, the
 *    authorizer's cost cold and warm); 7. a reconnect storm; 8. what a notification and a
 *    connect cost, and a month next to AppSync Events; and, on request, a concurrency sweep and
 *    CPU profiles of the server process.
 * The system under test runs in a child process (scripts/bench/server.ts); listeners and the
 * publisher run here. Each scenario is a function of scenarios.ts; this module runs them in turn.
 */
import os from 'node:os';
import { round } from '../../src/bench/stats.js';
import { BenchSession, type SessionOptions } from './session.js';
import { SCENARIO_RUNS, SCENARIOS, type Scenario } from './scenarios.js';

export { SCENARIOS, type Scenario };
/** The stage's functions, for the script's unminified profiling bundles. */
export { FUNCTIONS } from '../../src/stack/definition.js';
/** The price table, and --prices applied to it. */
export { PRICES, withOverrides } from '../../src/bench/prices.js';

export interface SuiteOptions extends SessionOptions {
  scenarios: Scenario[];
  out: (text: string) => void;
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  };
}

export async function runSuite(opts: SuiteOptions): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = { machine: machine(), startedAt: new Date().toISOString() };
  const session = await BenchSession.start(opts);
  try {
    for (const scenario of opts.scenarios) {
      opts.log(`\n== ${scenario} ==`);
      const { result, text } = await SCENARIO_RUNS[scenario](session);
      results[scenario] = result;
      opts.out(text);
    }
  } finally {
    await session.close();
  }
  results.roomIndexLosses = session.indexLosses;
  results.finishedAt = new Date().toISOString();
  (results.machine as { loadAverageAtEnd?: number[] }).loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
  return results;
}
