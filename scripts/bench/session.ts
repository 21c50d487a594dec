/**
 * What every scenario of the fan-out benchmark does with the server child process: start and
 * stop a hermes local stack in it, open listeners (checking that each has its row in the room
 * index), and measure a round of messages with the child's CPU time and, on request, its
 * profile. The scenarios (scenarios.ts) are written in these terms.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { createDocumentClient, createSqsClient } from '../../src/core/clients.js';
import { connectListeners, planRooms, type ConnectReport, type ListenerGroup } from '../../src/bench/listeners.js';
import { runRound, type PublishFn, type RoundReport } from '../../src/bench/round.js';
import { hermesTarget, type BenchTarget } from '../../src/bench/target.js';
import { fmt } from '../../src/bench/format.js';
import { round } from '../../src/bench/stats.js';
import { ServerChild } from './child.js';
import type { ProfileSummary } from './profile.js';
import type { Usage } from '../../src/local/usage.js';
import type { PriceTable } from '../../src/bench/prices.js';
import type { UnitCost } from '../../src/bench/cost.js';

export interface SessionOptions {
  serverFile: string;
  /** The authorizer probe (authorizer-probe.ts, bundled), forked once per container measured. */
  probeFile: string;
  /** The Lambda bundles under test (dist/lambdas), and others to measure next to them (a build of main). */
  bundleDir: string;
  baselineBundles: string[];
  /** Prices for the cost report (src/bench/prices.ts, with --prices applied). */
  prices: PriceTable;
  /** Unminified Lambda bundles, so that profiles can name modules. */
  profileBundleDir?: string;
  profile: boolean;
  repeat: number;
  quick: boolean;
  /** Stack settings for every scenario (defaults: the stack's own). */
  stack: { fanoutConcurrency?: number; pollers?: number };
  log: (line: string) => void;
}

export interface StackInfo {
  endpoints: { websocket: string; management: string; dynamodb: string; sqs: string };
  queueUrl: string;
  tokensTable: string;
  connectionsTable: string;
  jwtSecret: string;
  region: string;
}

export interface Measured {
  variant: string;
  report: RoundReport;
  /** CPU time of the server process per delivered frame, µs. */
  serverCpuUsPerFrame: number;
  profile?: ProfileSummary;
}

export interface RoundSettings {
  messages: number;
  rate?: number;
  payload?: number;
  quietMs?: number;
}

export class BenchSession {
  /** Rows dynalite's room index lost, per listener group opened on the stack. */
  readonly indexLosses: number[] = [];
  /** Unit costs measured by one scenario for another (the storm's connects for the month estimate). */
  readonly costs: { connect?: UnitCost; reconnect?: UnitCost } = {};
  private clients: { ddb: DynamoDBDocumentClient; sqs: SQSClient } | undefined;
  private stackRunning = false;

  private constructor(
    readonly child: ServerChild,
    readonly opts: SessionOptions,
  ) {}

  static async start(opts: SessionOptions): Promise<BenchSession> {
    return new BenchSession(await ServerChild.start(opts.serverFile), opts);
  }

  log(line: string): void {
    this.opts.log(line);
  }

  /** A fresh stack in the child; `extra` overrides the suite's stack settings. */
  async startStack(extra: Record<string, unknown> = {}): Promise<{ target: BenchTarget; ddb: DynamoDBDocumentClient; info: StackInfo }> {
    this.stopClients();
    const o = this.opts;
    const options = { ...o.stack, ...extra, ...(o.profile && o.profileBundleDir ? { bundleDir: o.profileBundleDir } : {}) };
    const info = await this.child.call<StackInfo>('startStack', { options });
    this.stackRunning = true;
    const clients = {
      ddb: await createDocumentClient({ region: info.region, endpoint: info.endpoints.dynamodb }),
      sqs: await createSqsClient({ region: info.region, endpoint: info.endpoints.sqs }),
    };
    this.clients = clients;
    const target = hermesTarget('hermes local stack', {
      websocketUrl: info.endpoints.websocket,
      ddb: clients.ddb,
      sqs: clients.sqs,
      queueUrl: info.queueUrl,
      tokensTable: info.tokensTable,
      jwtSecret: info.jwtSecret,
    });
    return { target, ddb: clients.ddb, info };
  }

  /** The DynamoDB client for the stack the session started. */
  ddb(): DynamoDBDocumentClient {
    if (!this.clients) throw new Error('no stack is running');
    return this.clients.ddb;
  }

  /** The SQS client for the stack the session started. */
  sqs(): SQSClient {
    if (!this.clients) throw new Error('no stack is running');
    return this.clients.sqs;
  }

  /** The stack's usage meter, now (src/local/usage.ts). */
  usage(): Promise<Usage> {
    return this.child.call<Usage>('usage');
  }

  async stopStack(): Promise<void> {
    this.stackRunning = false;
    this.stopClients();
    await this.child.call('stopStack');
  }

  async connect(label: string, rooms: number, listeners: number, urlFor: (room: string) => Promise<string>): Promise<{ group: ListenerGroup; report: ConnectReport }> {
    const plan = planRooms(`b${randomBytes(3).toString('hex')}`, rooms, listeners);
    this.log(`${label}: opening ${fmt(listeners)} listeners in ${fmt(rooms)} rooms…`);
    const { group, report } = await connectListeners(plan, urlFor, {
      concurrency: 50,
      onProgress: (o, f, t) => this.log(`  connected ${o}/${t}${f ? ` (${f} failed)` : ''}`),
    });
    if (report.failed) throw new Error(`${report.failed} listeners could not connect: ${report.errors.join('; ')}`);
    this.log(`  ${fmt(report.opened)} listeners at ${fmt(report.perSecond)} connects/s`);
    if (this.stackRunning) await this.checkRows(report.opened);
    return { group, report };
  }

  /** Every open socket must have its row, and the row its room index entry, or fan-out cannot reach it. */
  private async checkRows(opened: number): Promise<void> {
    const c = await this.child.call<{ gateway: number; rows: number; openWithoutRow: string[]; rowsMissingFromRoomIndex: string[] }>('connectionCounts');
    if (c.openWithoutRow.length || c.gateway !== opened) {
      this.log(`  WARNING: gateway holds ${c.gateway} sockets, table has ${c.rows} rows; open without a row: ${c.openWithoutRow.join(', ')}`);
    }
    if (c.rowsMissingFromRoomIndex.length) {
      this.indexLosses.push(c.rowsMissingFromRoomIndex.length);
      this.log(`  WARNING: ${c.rowsMissingFromRoomIndex.length} rows are missing from dynalite's room index (${c.rowsMissingFromRoomIndex.join(', ')}): fan-out cannot reach them`);
    }
  }

  async measure(variant: string, group: ListenerGroup, publish: PublishFn, settings: RoundSettings, profile = false): Promise<Measured> {
    this.log(`  ${variant}: ${fmt(settings.messages)} messages${settings.rate ? ` at ${settings.rate}/s` : ''}…`);
    if (profile) await this.child.call('profileStart');
    const cpu0 = await this.child.call<{ user: number; system: number }>('cpu');
    const report = await runRound(group, publish, {
      runId: randomBytes(4).toString('hex'),
      payload: 64,
      quietMs: 10_000,
      drainTimeoutMs: 120_000,
      ...settings,
      onProgress: (p) => this.log(`    ${p.phase === 'publish' ? `published ${p.published}/${p.messages}, ` : ''}${fmt(p.received)}/${fmt(p.expected)} frames`),
    });
    const cpu1 = await this.child.call<{ user: number; system: number }>('cpu');
    const prof = profile ? ((await this.child.call<ProfileSummary>('profileStop')) ?? undefined) : undefined;
    const cpuUs = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
    const m: Measured = { variant, report, serverCpuUsPerFrame: report.frames.received ? round(cpuUs / report.frames.received, 1) : 0, ...(prof ? { profile: prof } : {}) };
    const l = report.latencyMs;
    const dropped = group.dropped();
    if (report.frames.listenersMissing) this.log(`    listeners that missed frames: ${JSON.stringify(report.frames.missingDetails)}`);
    this.log(
      `    → ${fmt(report.frames.perSecond)} frames/s, p50 ${l.p50} ms, p99 ${l.p99} ms, lost ${report.frames.lost}${report.frames.lost ? ` (${report.frames.listenersMissing} listeners)` : ''}, duplicated ${report.frames.duplicated}${dropped ? `, ${dropped} listeners dropped so far` : ''}`,
    );
    return m;
  }

  /** Publishing by one of the child's bare floors: the PostToConnection loop or the ws broadcast. */
  postTo(op: 'post' | 'wsBroadcast'): PublishFn {
    return (messages) => this.child.call<{ failed: number[] }>(op, { messages });
  }

  async close(): Promise<void> {
    this.stopClients();
    await this.child.stop();
  }

  private stopClients(): void {
    this.clients?.ddb.destroy();
    this.clients?.sqs.destroy();
    this.clients = undefined;
  }
}
