/**
 * hermes.config.json, checked: every key it may hold, with the type and range of each, and a
 * stage's settings resolved from it over the stage definition's defaults
 * (src/stack/definition.ts DEFAULT_SETTINGS). An unknown key or a wrong value is an error that
 * names the key, the file and what is accepted there.
 *
 *   { "region": "eu-west-1",
 *     "stages": { "prod": { "architecture": "arm64", "logRetentionDays": 30, "batchSize": 10,
 *                           "functions": { "send-message": { "memoryMb": 1024, "timeoutSeconds": 60 } },
 *                           "throttling": { "burstLimit": 5000, "rateLimit": 2000 } } } }
 */
import { UsageError } from '../core/errors.js';
import { ARCHITECTURES, DEFAULT_SETTINGS, HANDLER_NAMES, type StageSettings } from '../stack/definition.js';
import { parseDuration } from './parse.js';

/** The retentions CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

type Check = (value: unknown, at: string) => unknown;

class Bad extends Error {}
const bad = (what: string): never => {
  throw new Bad(what);
};

const int = (min: number, max: number): Check => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : bad(`a whole number from ${min} to ${max}`);
const num = (min: number, max: number): Check => (v) => (typeof v === 'number' && v >= min && v <= max ? v : bad(`a number from ${min} to ${max}`));
const str: Check = (v) => (typeof v === 'string' && v !== '' ? v : bad('a non-empty string'));
const bool: Check = (v) => (typeof v === 'boolean' ? v : bad('true or false'));
const oneOf = (choices: readonly (string | number)[]): Check => (v) => (choices.includes(v as never) ? v : bad(`one of ${choices.join(', ')}`));
/** Checked where it is used (src/config/dev-settings.ts), with its own message. */
const anyValue: Check = (v) => v;
/** "15m", "2h", "7d" or a number of seconds → seconds. */
const duration = (minS: number, maxS: number, shown: string): Check => (v) => {
  let s: number;
  try {
    s = typeof v === 'number' ? v : typeof v === 'string' ? parseDuration('x', v) : NaN;
  } catch {
    s = NaN;
  }
  return Number.isFinite(s) && s >= minS && s <= maxS ? Math.round(s) : bad(`a duration (a number of seconds, or e.g. "30m", "2h", "7d") ${shown}`);
};

interface Shape {
  [key: string]: Check | Shape;
}

const FUNCTION_SHAPE: Shape = { memoryMb: int(128, 10240), timeoutSeconds: int(1, 900) };

/** The settings a stage may set (besides where it is: region, profile, endpointUrl). */
const SETTINGS_SHAPE: Shape = {
  architecture: oneOf(ARCHITECTURES),
  functions: Object.fromEntries(HANDLER_NAMES.map((h) => [h, FUNCTION_SHAPE])),
  messageRetention: duration(60, 14 * 86400, 'from 60 s to 14 days'),
  deadLetterRetention: duration(60, 14 * 86400, 'from 60 s to 14 days'),
  batchSize: int(1, 10),
  shardSize: int(0, 100_000),
  fanoutConcurrency: int(1, 1000),
  bcryptCost: int(4, 15),
  tokenTtl: duration(1, 30 * 86400, 'from 1 s to 30 days'),
  logRetentionDays: oneOf(LOG_RETENTION_DAYS),
  throttling: { burstLimit: int(0, 5000), rateLimit: num(0, 10_000) },
  accessLogging: bool,
};

/** Message history (src/config/resolve.ts checks their values, with its own messages). */
const HISTORY_SHAPE: Shape = { historyRetention: anyValue, historyMaxPerStream: anyValue };

const STAGE_SHAPE: Shape = { region: str, profile: str, endpointUrl: str, ...HISTORY_SHAPE, ...SETTINGS_SHAPE };

const FILE_SHAPE: Shape = {
  stage: str,
  region: str,
  profile: str,
  endpointUrl: str,
  bcryptCost: int(4, 15),
  ...HISTORY_SHAPE,
  dev: { port: anyValue, dynamodbPort: anyValue, sqsPort: anyValue, host: anyValue },
};

function walk(value: unknown, shape: Shape, at: string, file: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`${file}: "${at}" must be an object with the keys ${Object.keys(shape).join(', ')}.`, { hint: 'Fix the file or remove the key.' });
  }
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const path = at ? `${at}.${key}` : key;
    const rule = shape[key];
    if (!rule) {
      throw new UsageError(`${file}: unknown key "${path}". The keys accepted there are: ${Object.keys(shape).join(', ')}.`, {
        hint: 'Fix its spelling, or remove it (docs/deploy.md, "Settings", lists every one).',
      });
    }
    if (typeof rule === 'function') {
      try {
        rule(v, path);
      } catch (err) {
        if (!(err instanceof Bad)) throw err;
        throw new UsageError(`${file}: "${path}" must be ${err.message}, not ${JSON.stringify(v)}.`, { hint: 'Fix the value, or remove the key to use the default.' });
      }
    } else {
      walk(v, rule, path, file);
    }
  }
}

/** Throws a UsageError for the first key of the file that is unknown or has a wrong value. */
export function validateConfigFile(data: Record<string, unknown>, file: string): void {
  const { stages, ...rest } = data;
  walk(rest, FILE_SHAPE, '', file);
  if (stages === undefined) return;
  if (stages === null || typeof stages !== 'object' || Array.isArray(stages)) {
    throw new UsageError(`${file}: "stages" must be an object of stage name → settings.`, { hint: 'For example {"stages": {"prod": {"region": "eu-west-1"}}}.' });
  }
  for (const [name, entry] of Object.entries(stages)) walk(entry, STAGE_SHAPE, `stages.${name}`, file);
}

const value = (shape: Shape, key: string, v: unknown) => (shape[key] as Check)(v, key);

/**
 * A stage's settings: its entry of the (already validated) file over the definition's defaults;
 * `flags` (deploy's --architecture) beat the file. `from` says, per setting set, where it came from.
 */
export function resolveStageSettings(
  entry: Record<string, unknown> | undefined,
  flags: { architecture?: string } = {},
): { settings: StageSettings; from: Record<string, string> } {
  const e = entry ?? {};
  const s: StageSettings = structuredClone(DEFAULT_SETTINGS);
  const from: Record<string, string> = {};
  const set = <K extends keyof StageSettings>(key: K, v: StageSettings[K], source: string) => {
    s[key] = v;
    from[key] = source;
  };
  if (flags.architecture !== undefined) {
    if (!(ARCHITECTURES as readonly string[]).includes(flags.architecture)) {
      throw new UsageError(`Invalid --architecture value: "${flags.architecture}".`, { hint: `Use ${ARCHITECTURES.join(' or ')}.` });
    }
    set('architecture', flags.architecture as StageSettings['architecture'], '--architecture');
  } else if (e.architecture !== undefined) set('architecture', e.architecture as StageSettings['architecture'], 'file');
  for (const [h, f] of Object.entries((e.functions ?? {}) as Record<string, { memoryMb?: number; timeoutSeconds?: number }>)) {
    const fn = s.functions[h as keyof StageSettings['functions']];
    if (f.memoryMb !== undefined) fn.memoryMb = f.memoryMb;
    if (f.timeoutSeconds !== undefined) fn.timeoutSeconds = f.timeoutSeconds;
    from[`functions.${h}`] = 'file';
  }
  if (e.messageRetention !== undefined) set('messageRetentionSeconds', value(SETTINGS_SHAPE, 'messageRetention', e.messageRetention) as number, 'file');
  if (e.deadLetterRetention !== undefined) set('deadLetterRetentionSeconds', value(SETTINGS_SHAPE, 'deadLetterRetention', e.deadLetterRetention) as number, 'file');
  if (e.tokenTtl !== undefined) set('tokenTtlSeconds', value(SETTINGS_SHAPE, 'tokenTtl', e.tokenTtl) as number, 'file');
  for (const key of ['batchSize', 'shardSize', 'fanoutConcurrency', 'bcryptCost', 'logRetentionDays', 'accessLogging'] as const) {
    if (e[key] !== undefined) set(key, e[key] as never, 'file');
  }
  if (e.throttling !== undefined) set('throttling', { ...s.throttling, ...(e.throttling as object) }, 'file');
  return { settings: s, from };
}
