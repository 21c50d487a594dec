/**
 * One resolver for every setting: flag > environment > config file > default, and it records
 * where each value came from so `hermes config show` can say so.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors.js';
import { isValidStage, resourceNames, type ResourceNames } from '../stack/names.js';

export type Source = 'flag' | 'env' | 'file' | 'stack' | 'default';

export interface Resolved<T> {
  value: T;
  source: Source;
  /** The flag, variable or file key the value came from, e.g. `AWS_REGION`. */
  from?: string;
}

export interface ServiceEndpoints {
  dynamodb?: string;
  sqs?: string;
  /** `@connections` management API base URL including the stage, e.g. http://127.0.0.1:3001/local */
  management?: string;
  /** WebSocket URL clients connect to, e.g. ws://127.0.0.1:3001/local */
  websocket?: string;
}

export interface HermesConfig {
  stage: Resolved<string>;
  region: Resolved<string>;
  profile: Resolved<string | undefined>;
  endpointUrl: Resolved<string | undefined>;
  endpoints: { [K in keyof ServiceEndpoints]-?: Resolved<string | undefined> };
  queueUrl: Resolved<string | undefined>;
  dlqUrl: Resolved<string | undefined>;
  jwtSecret: Resolved<string | undefined>;
  bcryptCost: Resolved<number>;
  stateDir: Resolved<string>;
  names: ResourceNames;
  /** True when the stage is served by `hermes dev` on this machine. */
  local: boolean;
}

export interface ConfigFlags {
  stage?: string;
  region?: string;
  profile?: string;
  endpointUrl?: string;
  stateDir?: string;
}

/** What `hermes dev` writes into the state dir for other commands, and what deploy records. */
export interface StageRecord {
  stage: string;
  region?: string;
  endpoints: ServiceEndpoints;
  queueUrl?: string;
  dlqUrl?: string;
  /** Only for the local stack, whose secret is a throwaway that lives on this machine. */
  jwtSecret?: string;
  pid?: number;
  startedAt?: string;
  /** Where the deployed stage's JWT secret lives (never the secret itself). */
  secretLocation?: string;
  [extra: string]: unknown;
}

export const DEFAULT_STAGE = 'local';
export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_STATE_DIR = '.hermes';
export const CONFIG_FILE = 'hermes.config.json';

/** Path of the record of a stage inside the state dir. */
export function stageRecordPath(stateDir: string, stage: string): string {
  return path.join(stateDir, 'stages', `${stage}.json`);
}

export function readStageRecord(stateDir: string, stage: string): StageRecord | undefined {
  const file = stageRecordPath(stateDir, stage);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StageRecord;
  } catch {
    throw new UsageError(`The stage record ${file} is not valid JSON.`, {
      hint: `Delete it and run \`hermes ${stage === DEFAULT_STAGE ? 'dev' : `deploy --stage ${stage}`}\` again.`,
    });
  }
}

interface FileConfig {
  stage?: string;
  region?: string;
  profile?: string;
  endpointUrl?: string;
  bcryptCost?: number;
  stages?: Record<string, { region?: string; profile?: string; endpointUrl?: string }>;
}

function readConfigFile(cwd: string): { data: FileConfig } {
  const file = path.join(cwd, CONFIG_FILE);
  if (!existsSync(file)) return { data: {} };
  try {
    return { data: JSON.parse(readFileSync(file, 'utf8')) as FileConfig };
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}.`, {
      hint: `Fix the file or remove it; hermes works without one.`,
    });
  }
}

type Env = Record<string, string | undefined>;

function pick<T>(
  candidates: Array<[Source, string | undefined, T | undefined]>,
  fallback: T,
): Resolved<T> {
  for (const [source, from, value] of candidates) {
    if (value !== undefined && value !== '') return { value, source, from };
  }
  return { value: fallback, source: 'default' };
}

export function resolveConfig(flags: ConfigFlags = {}, env: Env = process.env, cwd = process.cwd()): HermesConfig {
  const { data: file } = readConfigFile(cwd);
  const fk = (k: string) => `${CONFIG_FILE}:${k}`;

  const stage = pick<string>(
    [
      ['flag', '--stage', flags.stage],
      ['env', 'HERMES_STAGE', env.HERMES_STAGE],
      ['file', fk('stage'), file.stage],
    ],
    DEFAULT_STAGE,
  );
  if (!isValidStage(stage.value)) {
    throw new UsageError(
      `Invalid stage "${stage.value}" (from ${stage.from ?? 'default'}): use 1-24 lower-case letters, digits or dashes, starting with a letter or digit.`,
      { hint: 'For example --stage dev or --stage prod.' },
    );
  }
  const perStage = file.stages?.[stage.value] ?? {};
  const stateDir = pick<string>(
    [
      ['flag', '--state-dir', flags.stateDir],
      ['env', 'HERMES_STATE_DIR', env.HERMES_STATE_DIR],
    ],
    DEFAULT_STATE_DIR,
  );
  stateDir.value = path.resolve(cwd, stateDir.value);
  const record = readStageRecord(stateDir.value, stage.value);
  const recordFrom = stageRecordPath(stateDir.value, stage.value);

  const region = pick<string>(
    [
      ['flag', '--region', flags.region],
      ['env', 'AWS_REGION', env.AWS_REGION],
      ['env', 'AWS_DEFAULT_REGION', env.AWS_DEFAULT_REGION],
      ['file', fk(`stages.${stage.value}.region`), perStage.region],
      ['file', fk('region'), file.region],
      ['stack', recordFrom, record?.region],
    ],
    DEFAULT_REGION,
  );
  const profile = pick<string | undefined>(
    [
      ['flag', '--profile', flags.profile],
      ['env', 'AWS_PROFILE', env.AWS_PROFILE],
      ['file', fk(`stages.${stage.value}.profile`), perStage.profile],
      ['file', fk('profile'), file.profile],
    ],
    undefined,
  );
  const endpointUrl = pick<string | undefined>(
    [
      ['flag', '--endpoint-url', flags.endpointUrl],
      ['env', 'AWS_ENDPOINT_URL', env.AWS_ENDPOINT_URL],
      ['file', fk(`stages.${stage.value}.endpointUrl`), perStage.endpointUrl],
      ['file', fk('endpointUrl'), file.endpointUrl],
    ],
    undefined,
  );
  // A service-specific variable beats the stack record; --endpoint-url beats both, as in the AWS CLI.
  const service = (envName: string, recordValue: string | undefined) =>
    pick<string | undefined>(
      [
        ['flag', '--endpoint-url', flags.endpointUrl],
        ['env', envName, env[envName]],
        ['env', 'AWS_ENDPOINT_URL', env.AWS_ENDPOINT_URL],
        ['stack', recordFrom, recordValue],
      ],
      undefined,
    );
  const endpoints = {
    dynamodb: service('AWS_ENDPOINT_URL_DYNAMODB', record?.endpoints.dynamodb),
    sqs: service('AWS_ENDPOINT_URL_SQS', record?.endpoints.sqs),
    management: pick<string | undefined>(
      [
        ['env', 'HERMES_MANAGEMENT_ENDPOINT', env.HERMES_MANAGEMENT_ENDPOINT],
        ['stack', recordFrom, record?.endpoints.management],
      ],
      undefined,
    ),
    websocket: pick<string | undefined>(
      [
        ['env', 'HERMES_WEBSOCKET_URL', env.HERMES_WEBSOCKET_URL],
        ['stack', recordFrom, record?.endpoints.websocket],
      ],
      undefined,
    ),
  };
  const queueUrl = pick<string | undefined>(
    [
      ['env', 'HERMES_QUEUE_URL', env.HERMES_QUEUE_URL],
      ['stack', recordFrom, record?.queueUrl],
    ],
    undefined,
  );
  const dlqUrl = pick<string | undefined>(
    [
      ['env', 'HERMES_DLQ_URL', env.HERMES_DLQ_URL],
      ['stack', recordFrom, record?.dlqUrl],
    ],
    undefined,
  );
  const jwtSecret = pick<string | undefined>(
    [
      ['env', 'HERMES_JWT_SECRET', env.HERMES_JWT_SECRET],
      ['stack', recordFrom, record?.jwtSecret],
    ],
    undefined,
  );
  const costRaw = pick<string | undefined>(
    [
      ['env', 'HERMES_BCRYPT_COST', env.HERMES_BCRYPT_COST],
      ['file', fk('bcryptCost'), file.bcryptCost === undefined ? undefined : String(file.bcryptCost)],
    ],
    undefined,
  );
  const bcryptCost: Resolved<number> = { ...costRaw, value: parseBcryptCost(costRaw.value, costRaw.from) };
  return {
    stage,
    region,
    profile,
    endpointUrl,
    endpoints,
    queueUrl,
    dlqUrl,
    jwtSecret,
    bcryptCost,
    stateDir,
    names: resourceNames(stage.value),
    local: record?.pid !== undefined || stage.value === DEFAULT_STAGE,
  };
}

export const DEFAULT_BCRYPT_COST = 10;

export function parseBcryptCost(raw: string | undefined, from = 'HERMES_BCRYPT_COST'): number {
  if (raw === undefined) return DEFAULT_BCRYPT_COST;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 4 || n > 15) {
    throw new UsageError(`Invalid ${from} value: ${raw}. Must be a whole number from 4 to 15.`, {
      hint: 'The default, 10, takes about 50-100 ms per check; each step doubles it.',
    });
  }
  return n;
}

/** Values of a resolved config as plain data, secrets redacted, for `config show` and --json. */
export function describeConfig(config: HermesConfig): Record<string, { value: unknown; source: Source; from?: string }> {
  const out: Record<string, { value: unknown; source: Source; from?: string }> = {};
  const add = (key: string, r: Resolved<unknown>, secret = false) => {
    out[key] = { value: secret && r.value !== undefined ? '(redacted)' : r.value, source: r.source, ...(r.from ? { from: r.from } : {}) };
  };
  add('stage', config.stage);
  add('region', config.region);
  add('profile', config.profile);
  add('endpointUrl', config.endpointUrl);
  for (const [k, v] of Object.entries(config.endpoints)) add(`endpoints.${k}`, v);
  add('queueUrl', config.queueUrl);
  add('dlqUrl', config.dlqUrl);
  add('jwtSecret', config.jwtSecret, true);
  add('bcryptCost', config.bcryptCost);
  add('stateDir', config.stateDir);
  return out;
}
