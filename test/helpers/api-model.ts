/**
 * Checks requests against AWS's published API models: botocore's service-2.json files (the
 * Smithy models AWS publishes, as installed with the AWS CLI and moto). The SDK v3 sends
 * almost anything it is given, and moto accepts many shapes that AWS refuses; this finds them
 * before a user does: required members, unknown members, types, enum values, length and
 * value ranges, and patterns. A pattern must match the whole value: these models come from
 * AWS's own service definitions, whose validators match in full ("Member must satisfy regular
 * expression pattern"), although Smithy's `@pattern` alone would not be anchored.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface RecordedRequest {
  /** botocore's name for the service: dynamodb, sqs, iam, lambda, apigatewayv2, ssm, logs, sts. */
  service: string;
  operation: string;
  input: unknown;
}

interface Shape {
  type: string;
  members?: Record<string, { shape: string }>;
  required?: string[];
  member?: { shape: string };
  key?: { shape: string };
  value?: { shape: string };
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
}

interface ServiceModel {
  operations: Record<string, { input?: { shape: string } }>;
  shapes: Record<string, Shape>;
}

let dataDir: string | undefined | null;

/** botocore's data directory, or undefined where Python or botocore is missing. */
export function botocoreDataDir(): string | undefined {
  if (dataDir === undefined) {
    const r = spawnSync('python3', ['-c', 'import botocore,os;print(os.path.dirname(botocore.__file__))'], { encoding: 'utf8' });
    const dir = r.status === 0 ? path.join(r.stdout.trim(), 'data') : '';
    dataDir = dir && existsSync(dir) ? dir : null;
  }
  return dataDir ?? undefined;
}

const models = new Map<string, ServiceModel>();

/** The newest API version of a service's model. */
export function loadModel(service: string): ServiceModel {
  let m = models.get(service);
  if (m) return m;
  const root = botocoreDataDir();
  if (!root) throw new Error('botocore is not installed (python3 -c "import botocore" fails)');
  const versions = readdirSync(path.join(root, service)).filter((v) => /^\d{4}-\d{2}-\d{2}$/.test(v)).sort();
  const dir = path.join(root, service, versions[versions.length - 1]);
  const file = ['service-2.json', 'service-2.json.gz'].map((f) => path.join(dir, f)).find(existsSync);
  if (!file) throw new Error(`no service-2.json for ${service} in ${dir}`);
  const raw = readFileSync(file);
  m = JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as ServiceModel;
  models.set(service, m);
  return m;
}

const patterns = new Map<string, RegExp | null>();
function compile(p: string): RegExp | null {
  if (!patterns.has(p)) {
    let re: RegExp | null = null;
    for (const flags of ['u', '']) {
      try {
        re = new RegExp(`^(?:${p})$`, flags);
        break;
      } catch {
        // Java-only syntax: try without the unicode flag, else report it as unchecked
      }
    }
    patterns.set(p, re);
  }
  return patterns.get(p)!;
}

const sizeOf = (v: unknown): number | undefined => {
  if (typeof v === 'string') return [...v].length;
  if (v instanceof Uint8Array) return v.byteLength;
  if (Array.isArray(v)) return v.length;
  return undefined;
};

function check(model: ServiceModel, shapeName: string, value: unknown, at: string, out: string[]): void {
  const shape = model.shapes[shapeName];
  if (!shape) return void out.push(`${at}: shape ${shapeName} is not in the model`);
  if (value === undefined || value === null) return;
  const bad = (msg: string): void => void out.push(`${at}: ${msg}`);
  const range = (n: number, what: string) => {
    if (shape.min !== undefined && n < shape.min) bad(`${what} ${n} is below the minimum ${shape.min}`);
    if (shape.max !== undefined && n > shape.max) bad(`${what} ${n} is above the maximum ${shape.max}`);
  };
  switch (shape.type) {
    case 'structure': {
      if (typeof value !== 'object' || Array.isArray(value)) return bad(`expected a structure (${shapeName}), got ${JSON.stringify(value)}`);
      const obj = value as Record<string, unknown>;
      for (const r of shape.required ?? []) if (obj[r] === undefined) bad(`required member ${r} is missing`);
      for (const [k, v] of Object.entries(obj)) {
        const member = shape.members?.[k];
        if (!member) bad(`unknown member ${k} (${shapeName} has ${Object.keys(shape.members ?? {}).join(', ')})`);
        else check(model, member.shape, v, `${at}.${k}`, out);
      }
      return;
    }
    case 'list':
      if (!Array.isArray(value)) return bad(`expected a list, got ${typeof value}`);
      range(value.length, 'length');
      value.forEach((v, i) => check(model, shape.member!.shape, v, `${at}[${i}]`, out));
      return;
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) return bad(`expected a map, got ${typeof value}`);
      const entries = Object.entries(value as Record<string, unknown>);
      range(entries.length, 'entries');
      for (const [k, v] of entries) {
        check(model, shape.key!.shape, k, `${at} key "${k}"`, out);
        check(model, shape.value!.shape, v, `${at}["${k}"]`, out);
      }
      return;
    }
    case 'string': {
      if (typeof value !== 'string') return bad(`expected a string, got ${typeof value}`);
      range(sizeOf(value)!, 'length');
      if (shape.enum && !shape.enum.includes(value)) bad(`"${value}" is not one of ${shape.enum.join(', ')}`);
      if (shape.pattern) {
        const re = compile(shape.pattern);
        if (!re) bad(`pattern ${shape.pattern} cannot be checked here`);
        else if (!re.test(value)) bad(`"${value.length > 80 ? `${value.slice(0, 80)}…` : value}" does not match ${shape.pattern}`);
      }
      return;
    }
    case 'integer':
    case 'long':
      if (typeof value !== 'number' || !Number.isInteger(value)) return bad(`expected a whole number, got ${JSON.stringify(value)}`);
      return range(value, 'value');
    case 'double':
    case 'float':
      if (typeof value !== 'number') return bad(`expected a number, got ${JSON.stringify(value)}`);
      return range(value, 'value');
    case 'boolean':
      if (typeof value !== 'boolean') bad(`expected a boolean, got ${JSON.stringify(value)}`);
      return;
    case 'blob':
      if (!(value instanceof Uint8Array) && typeof value !== 'string') return bad(`expected bytes, got ${typeof value}`);
      return range(sizeOf(value)!, 'size');
    case 'timestamp':
      if (!(value instanceof Date) && typeof value !== 'number') bad(`expected a date, got ${JSON.stringify(value)}`);
      return;
    default:
      return;
  }
}

/** Every way `r` breaks its operation's input shape; empty when AWS would accept its form. */
export function violations(r: RecordedRequest): string[] {
  const model = loadModel(r.service);
  const op = model.operations[r.operation];
  if (!op) return [`${r.service} ${r.operation}: no such operation in the model`];
  const out: string[] = [];
  if (op.input) check(model, op.input.shape, r.input ?? {}, `${r.service} ${r.operation}`, out);
  return out;
}
