/**
 * Where a setting can come from, in the order that decides: flag > environment > config file
 * > stack record > default. `pick` takes the first that has a value and says which one it was,
 * so `hermes config show` can tell the user why a value is what it is.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../core/errors.js';

export type Source = 'flag' | 'env' | 'file' | 'stack' | 'default';

export interface Resolved<T> {
  value: T;
  source: Source;
  /** The flag, variable or file key the value came from, e.g. `AWS_REGION`. */
  from?: string;
}

export type Env = Record<string, string | undefined>;

export const CONFIG_FILE = 'hermes.config.json';

/** What `hermes.config.json` may hold; every key is optional and the file itself too. */
export interface FileConfig {
  stage?: string;
  region?: string;
  profile?: string;
  endpointUrl?: string;
  bcryptCost?: number;
  /** How long the stage keeps messages for replay: a duration ("24h") or seconds; 0 keeps none. */
  historyRetention?: string | number;
  /** Messages kept per room or user. */
  historyMaxPerStream?: number;
  stages?: Record<string, { region?: string; profile?: string; endpointUrl?: string; historyRetention?: string | number; historyMaxPerStream?: number }>;
  /** `hermes dev`'s own settings (src/config/dev-settings.ts). */
  dev?: { port?: number | string; dynamodbPort?: number | string; sqsPort?: number | string; host?: string };
}

export function readConfigFile(cwd: string): FileConfig {
  const file = path.join(cwd, CONFIG_FILE);
  if (!existsSync(file)) return {};
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}.`, {
      hint: `Fix the file or remove it; hermes works without one.`,
    });
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError(`${file} must hold a JSON object of settings, e.g. {"region": "eu-west-1"}.`, {
      hint: `Fix the file or remove it; hermes works without one.`,
    });
  }
  return data as FileConfig;
}

/** The name `from` shows for a key of the config file, e.g. `hermes.config.json:dev.port`. */
export const fileKey = (key: string) => `${CONFIG_FILE}:${key}`;

/** The first candidate with a value (empty strings do not count), or the fallback. */
export function pick<T>(candidates: Array<[Source, string | undefined, T | undefined]>, fallback: T): Resolved<T> {
  for (const [source, from, value] of candidates) {
    if (value !== undefined && value !== '') return { value, source, from };
  }
  return { value: fallback, source: 'default' };
}
