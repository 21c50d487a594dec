/**
 * Parsers for setting values. `name` is where the value came from (a flag such as `--port`,
 * a variable such as `HERMES_PORT`, a config file key), so each error names it, the value and
 * the accepted form.
 */
import { UsageError } from '../core/errors.js';
import { DEFAULT_BCRYPT_COST } from '../core/defaults.js';

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "90s", "15m", "1h", "7d", "250ms" → seconds (may be fractional for ms). */
export function parseDuration(name: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(String(raw).trim());
  if (!m) throw new UsageError(`Invalid ${name} value: "${raw}". Use a number with an optional unit: 250ms, 30s, 15m, 2h or 7d.`);
  return Number(m[1]) * UNITS[m[2] ?? 's'];
}

/**
 * Where a replay starts: a seq ("42": the messages after seq 42; "0": all that is kept) or a
 * duration with its unit ("15m": the messages sent in the last 15 minutes).
 */
export function parseSince(name: string, raw: string): { seq: number } | { seconds: number } {
  const text = String(raw).trim();
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return { seq: Number(text) };
  if (/^\d+(?:\.\d+)?\s*(ms|s|m|h|d)$/.test(text)) return { seconds: parseDuration(name, text) };
  throw new UsageError(`Invalid ${name} value: "${raw}". Give a seq (42: the messages after seq 42; 0: all kept) or a duration with its unit (30s, 15m, 2h, 7d).`);
}

export function parseIntFlag(name: string, raw: string | number, min: number, max: number): number {
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isInteger(n) || n < min || n > max || String(raw).trim() === '') {
    throw new UsageError(`Invalid ${name} value: "${raw}". Must be a whole number from ${min} to ${max}.`);
  }
  return n;
}

export function parsePort(name: string, raw: string | number): number {
  return parseIntFlag(name, raw, 0, 65535);
}

export function parseJsonFlag(name: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`Invalid ${name} value: it is not JSON (${(err as Error).message}).`, {
      hint: `Quote it for the shell, e.g. ${name} '{"type":"info","data":"hello"}'.`,
    });
  }
}

export function parseBcryptCost(raw: string | undefined, name = 'HERMES_BCRYPT_COST'): number {
  if (raw === undefined) return DEFAULT_BCRYPT_COST;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 4 || n > 15) {
    throw new UsageError(`Invalid ${name} value: ${raw}. Must be a whole number from 4 to 15.`, {
      hint: `The default, ${DEFAULT_BCRYPT_COST}, takes about 50-100 ms per check; each step doubles it.`,
    });
  }
  return n;
}

/** A flag given with an empty value is a mistake, not "all". */
export function nonEmpty(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') throw new UsageError(`Invalid ${flag} value: it is empty.`, { hint: `Pass ${flag} <value>, or leave the flag out.` });
  return value;
}
