/**
 * One resolver for every setting: flag > environment > config file > default, and it records
 * where each value came from so `hermes config show` can say so. It has no CLI dependencies:
 * the CLI passes its global flags in, a backend resolving a stage passes none.
 */
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { isValidStage, resourceNames, type ResourceNames } from '../stack/names.js';
import { DEFAULT_HISTORY_MAX_PER_STREAM, DEFAULT_HISTORY_RETENTION_SECONDS, DEFAULT_REGION, DEFAULT_STAGE } from '../core/defaults.js';
import { parseBcryptCost, parseDuration, parseIntFlag } from './parse.js';
import { pick, readConfigFile, fileKey, type Env, type Resolved, type Source } from './sources.js';
import { readStageRecord, stageRecordPath, type ServiceEndpoints } from './stage-record.js';
import type { DevSettings } from './dev-settings.js';
import type { EnvSetting } from '../stack/definition.js';

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
  /** Seconds the stage keeps messages for replay (0: none); what deploy and `hermes dev` give the functions. */
  historyRetention: Resolved<number>;
  /** Messages kept per room or user. */
  historyMaxPerStream: Resolved<number>;
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

export const DEFAULT_STATE_DIR = '.hermes';

export function resolveConfig(flags: ConfigFlags = {}, env: Env = process.env, cwd = process.cwd()): HermesConfig {
  const file = readConfigFile(cwd);

  const stage = pick<string>(
    [
      ['flag', '--stage', flags.stage],
      ['env', 'HERMES_STAGE', env.HERMES_STAGE],
      ['file', fileKey('stage'), file.stage],
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
      ['file', fileKey(`stages.${stage.value}.region`), perStage.region],
      ['file', fileKey('region'), file.region],
      ['stack', recordFrom, record?.region],
    ],
    DEFAULT_REGION,
  );
  const profile = pick<string | undefined>(
    [
      ['flag', '--profile', flags.profile],
      ['env', 'AWS_PROFILE', env.AWS_PROFILE],
      ['file', fileKey(`stages.${stage.value}.profile`), perStage.profile],
      ['file', fileKey('profile'), file.profile],
    ],
    undefined,
  );
  const endpointUrl = pick<string | undefined>(
    [
      ['flag', '--endpoint-url', flags.endpointUrl],
      ['env', 'AWS_ENDPOINT_URL', env.AWS_ENDPOINT_URL],
      ['file', fileKey(`stages.${stage.value}.endpointUrl`), perStage.endpointUrl],
      ['file', fileKey('endpointUrl'), file.endpointUrl],
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
  // Hermes's own endpoints and queues: a variable, else what `hermes dev` or deploy recorded.
  const envOrRecord = (envName: string, recordValue: string | undefined) =>
    pick<string | undefined>(
      [
        ['env', envName, env[envName]],
        ['stack', recordFrom, recordValue],
      ],
      undefined,
    );
  const endpoints = {
    dynamodb: service('AWS_ENDPOINT_URL_DYNAMODB', record?.endpoints.dynamodb),
    sqs: service('AWS_ENDPOINT_URL_SQS', record?.endpoints.sqs),
    management: envOrRecord('HERMES_MANAGEMENT_ENDPOINT', record?.endpoints.management),
    websocket: envOrRecord('HERMES_WEBSOCKET_URL', record?.endpoints.websocket),
  };
  const queueUrl = envOrRecord('HERMES_QUEUE_URL', record?.queueUrl);
  const dlqUrl = envOrRecord('HERMES_DLQ_URL', record?.dlqUrl);
  const jwtSecret = envOrRecord('HERMES_JWT_SECRET', record?.jwtSecret);
  const costRaw = pick<string | undefined>(
    [
      ['env', 'HERMES_BCRYPT_COST', env.HERMES_BCRYPT_COST],
      ['file', fileKey('bcryptCost'), file.bcryptCost === undefined ? undefined : String(file.bcryptCost)],
    ],
    undefined,
  );
  const bcryptCost: Resolved<number> = { ...costRaw, value: parseBcryptCost(costRaw.value, costRaw.from) };
  // The stage's history: its own key in the config file, else the file's, else the default.
  const historySetting = (envName: string, key: 'historyRetention' | 'historyMaxPerStream', parse: (from: string, raw: string) => number, fallback: number) => {
    const raw = pick<string | number | undefined>(
      [
        ['env', envName, env[envName]],
        ['file', fileKey(`stages.${stage.value}.${key}`), perStage[key]],
        ['file', fileKey(key), file[key]],
      ],
      undefined,
    );
    return raw.value === undefined ? { value: fallback, source: raw.source } : { ...raw, value: parse(raw.from!, String(raw.value)) };
  };
  const historyRetention: Resolved<number> = historySetting('HERMES_HISTORY_RETENTION', 'historyRetention', (from, raw) => Math.round(parseDuration(from, raw)), DEFAULT_HISTORY_RETENTION_SECONDS);
  const historyMaxPerStream: Resolved<number> = historySetting('HERMES_HISTORY_MAX_PER_STREAM', 'historyMaxPerStream', (from, raw) => parseIntFlag(from, raw, 0, 10_000_000), DEFAULT_HISTORY_MAX_PER_STREAM);
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
    historyRetention,
    historyMaxPerStream,
    stateDir,
    names: resourceNames(stage.value),
    local: record?.pid !== undefined || stage.value === DEFAULT_STAGE,
  };
}

/**
 * The stage's tunable function settings that are set (not defaults), as the functions' variables
 * take them: deploy puts them in the functions' environment, `hermes dev` in the local stack's.
 */
export function stageTunables(config: HermesConfig): Partial<Record<EnvSetting, string>> {
  const out: Partial<Record<EnvSetting, string>> = {};
  if (config.historyRetention.source !== 'default') out.historyRetentionSeconds = String(config.historyRetention.value);
  if (config.historyMaxPerStream.source !== 'default') out.historyMaxPerStream = String(config.historyMaxPerStream.value);
  return out;
}

export type DescribedSetting = { value: unknown; source: Source; from?: string };

/**
 * Values of a resolved config as plain data, secrets redacted, for `config show` and --json;
 * with `dev`, also `hermes dev`'s own settings under `dev.*`.
 */
export function describeConfig(config: HermesConfig, dev?: DevSettings): Record<string, DescribedSetting> {
  const out: Record<string, DescribedSetting> = {};
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
  add('historyRetention', config.historyRetention);
  add('historyMaxPerStream', config.historyMaxPerStream);
  add('stateDir', config.stateDir);
  if (dev) for (const [k, v] of Object.entries(dev)) add(`dev.${k}`, v);
  return out;
}
