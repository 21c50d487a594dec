/**
 * The one place that builds what a command needs: resolved config, AWS clients (lazily, so a
 * verb that does not talk to AWS never loads the SDK), output helpers, prompts, and a signal
 * that fires on Ctrl-C.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { resolveConfig, type HermesConfig, type ConfigFlags } from '../config/resolve.js';
import { stageAccess, type StageAccess } from '../config/stage-access.js';
import { UsageError } from '../core/errors.js';

export interface GlobalOptions extends ConfigFlags {
  json?: boolean;
  debug?: boolean;
  yes?: boolean;
}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
  isTTY: boolean;
}

export type Colors = Record<'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan' | 'magenta' | 'gray' | 'blue', (s: string) => string>;

export interface CliContext {
  opts: GlobalOptions;
  io: Io;
  json: boolean;
  /** Colour functions; plain strings when NO_COLOR is set, output is not a TTY, or --json. */
  c: Colors;
  /** A line on stdout (data). */
  out(line: string): void;
  /** A line on stderr (human messages, progress). */
  info(line: string): void;
  warn(line: string): void;
  config(): HermesConfig;
  /** The config with the endpoints of a reachable stack; explains how to start one otherwise. */
  requireQueue(): { queueUrl: string };
  ddb(): Promise<DynamoDBDocumentClient>;
  sqs(): Promise<SQSClient>;
  management(): Promise<ApiGatewayManagementApiClient>;
  credentials: StageAccess['credentials'];
  jwtSecret(): Promise<string>;
  /** Whether someone can answer a prompt. */
  interactive: boolean;
  /** Ask for a missing value on a terminal; without one, a usage error naming the flag. */
  ask(flag: string, message: string, validate?: (v: string) => string | true): Promise<string>;
  /** Confirm a destructive action: --yes skips it; without a terminal, --yes is required. */
  confirm(what: string): Promise<void>;
  signal: AbortSignal;
}

const plain = (s: string) => s;
/** What every colour function is when colour is off. */
export const PLAIN: Colors = { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain, magenta: plain, gray: plain, blue: plain };

/**
 * Colour only on a terminal, without NO_COLOR or TERM=dumb, and never with --json. The rule is
 * ours, not chalk's detection (which reads process.stdout and FORCE_COLOR); chalk is loaded
 * only when colour is on, and only once a verb runs, so --version and --help never load it.
 */
export async function colorsFor(opts: GlobalOptions, io: Io): Promise<Colors> {
  if (opts.json || !io.isTTY || io.env.NO_COLOR || io.env.TERM === 'dumb') return PLAIN;
  const { Chalk } = await import('chalk');
  return new Chalk({ level: 1 }); // basic 16 colours, as every terminal has them
}

export function createContext(opts: GlobalOptions, io: Io, signal: AbortSignal, c: Colors = PLAIN): CliContext {
  let config: HermesConfig | undefined;
  const getConfig = () => (config ??= resolveConfig(opts, io.env, io.cwd));
  const interactive = Boolean(io.stdin.isTTY) && io.isTTY && !io.env.CI;
  // Prompts are for the person at the keyboard: on stderr, so stdout stays the command's data.
  const promptContext = { signal, input: io.stdin, output: io.stderr };

  // Credentials, clients, queue and key of the stage, found as a backend using the library finds them.
  const stage = stageAccess(getConfig);

  const ctx: CliContext = {
    opts,
    io,
    json: Boolean(opts.json),
    c,
    out: (line) => void io.stdout.write(`${line}\n`),
    info: (line) => void io.stderr.write(`${line}\n`),
    warn: (line) => void io.stderr.write(`${c.yellow('warning:')} ${line}\n`),
    config: getConfig,
    requireQueue: () => ({ queueUrl: stage.queueUrl() }),
    ddb: stage.ddb,
    sqs: stage.sqs,
    management: stage.management,
    credentials: stage.credentials,
    jwtSecret: stage.jwtSecret,
    interactive,
    async ask(flag, message, validate) {
      if (!interactive) {
        throw new UsageError(`Missing required option ${flag}.`, { hint: `Pass ${flag} <value>.` });
      }
      const { input } = await import('@inquirer/prompts');
      return input({ message, validate: validate ?? ((v) => (v.trim() ? true : `${flag} must not be empty`)) }, promptContext);
    },
    async confirm(what) {
      if (opts.yes) return;
      if (!interactive) {
        throw new UsageError(`Refusing to ${what} without confirmation.`, { hint: 'Pass --yes to confirm when no one is at the keyboard.' });
      }
      const { confirm } = await import('@inquirer/prompts');
      const ok = await confirm({ message: `${what}?`, default: false }, promptContext);
      if (!ok) throw new UsageError('Cancelled.', { hint: `Nothing was changed.` });
    },
    signal,
  };
  return ctx;
}
