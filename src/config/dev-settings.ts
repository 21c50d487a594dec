/**
 * `hermes dev`'s own settings: where the local stack listens. They resolve like every other
 * setting (flag > environment > `dev` in hermes.config.json > default), and only when asked
 * for, so a bad HERMES_PORT breaks `hermes dev` and `hermes config show`, not every verb.
 */
import { UsageError } from '../core/errors.js';
import { parsePort } from './parse.js';
import { pick, readConfigFile, fileKey, type Env, type Resolved } from './sources.js';

/** The ecosystem's usual ports: API Gateway emulators 3001, DynamoDB local 8000, ElasticMQ 9324. */
export const DEFAULT_PORTS = { gateway: 3001, dynamodb: 8000, sqs: 9324 } as const;
/** Loopback only, unless asked: the local stack has no authentication beyond its tokens. */
export const DEFAULT_HOST = '127.0.0.1';

export interface DevFlags {
  port?: string;
  dynamodbPort?: string;
  sqsPort?: string;
  host?: string;
}

export interface DevSettings {
  port: Resolved<number>;
  dynamodbPort: Resolved<number>;
  sqsPort: Resolved<number>;
  host: Resolved<string>;
}

export function resolveDevSettings(flags: DevFlags = {}, env: Env = process.env, cwd = process.cwd()): DevSettings {
  const file = readConfigFile(cwd).dev ?? {};
  const port = (flag: string, envName: string, key: 'port' | 'dynamodbPort' | 'sqsPort', fallback: number): Resolved<number> => {
    const raw = pick<string | number>(
      [
        ['flag', flag, flags[key]],
        ['env', envName, env[envName]],
        ['file', fileKey(`dev.${key}`), file[key]],
      ],
      fallback,
    );
    return { ...raw, value: raw.source === 'default' ? fallback : parsePort(raw.from!, raw.value) };
  };
  const host = pick<string>(
    [
      ['flag', '--host', flags.host],
      ['env', 'HERMES_HOST', env.HERMES_HOST],
      ['file', fileKey('dev.host'), file.host],
    ],
    DEFAULT_HOST,
  );
  if (typeof host.value !== 'string') {
    throw new UsageError(`Invalid ${host.from} value: ${JSON.stringify(host.value)}. Must be a host name or address, e.g. "127.0.0.1".`);
  }
  return {
    port: port('--port', 'HERMES_PORT', 'port', DEFAULT_PORTS.gateway),
    dynamodbPort: port('--dynamodb-port', 'HERMES_DYNAMODB_PORT', 'dynamodbPort', DEFAULT_PORTS.dynamodb),
    sqsPort: port('--sqs-port', 'HERMES_SQS_PORT', 'sqsPort', DEFAULT_PORTS.sqs),
    host,
  };
}
