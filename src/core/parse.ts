/** Parsers for flag values; each error names the flag, the value and the accepted form. */
import { UsageError } from './errors.js';

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** "90", "90s", "15m", "1h", "7d", "250ms" → seconds (may be fractional for ms). */
export function parseDuration(flag: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(String(raw).trim());
  if (!m) throw new UsageError(`Invalid ${flag} value: "${raw}". Use a number with an optional unit: 250ms, 30s, 15m, 2h or 7d.`);
  return Number(m[1]) * UNITS[m[2] ?? 's'];
}

export function parseIntFlag(flag: string, raw: string | number, min: number, max: number): number {
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isInteger(n) || n < min || n > max || String(raw).trim() === '') {
    throw new UsageError(`Invalid ${flag} value: "${raw}". Must be a whole number from ${min} to ${max}.`);
  }
  return n;
}

export function parsePort(flag: string, raw: string | number): number {
  return parseIntFlag(flag, raw, 0, 65535);
}

export function parseJsonFlag(flag: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new UsageError(`Invalid ${flag} value: it is not JSON (${(err as Error).message}).`, {
      hint: `Quote it for the shell, e.g. ${flag} '{"type":"info","data":"hello"}'.`,
    });
  }
}
