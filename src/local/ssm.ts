/**
 * SSM Parameter Store, locally: the few operations hermes makes (GetParameter, PutParameter,
 * DeleteParameter) on the AWS JSON 1.1 protocol, so the authorizer reads its key ring locally
 * through the same code as on AWS (core/ssm-parameter.ts), and `hermes secret rotate` writes
 * it with the same SDK call. Parameters are kept in a file of the state dir (mode 0600),
 * written whole on each change, or in memory. Any signature is accepted, as by the other local
 * emulators; the server listens on loopback unless the stack is told otherwise.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { writePrivateFile } from '../config/private-file.js';
import { bindPort, closeServer } from './bind.js';

interface Stored {
  value: string;
  type: string;
  version: number;
  modified: number;
  description?: string;
}

export interface LocalSsm {
  endpoint: string;
  /** Direct access for the stack itself (no HTTP). */
  get(name: string): Stored | undefined;
  put(name: string, value: string, type?: string): void;
  close(): Promise<void>;
}

class SsmError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startSsm(opts: { host: string; port?: number; file?: string; region: string }): Promise<LocalSsm> {
  const params = new Map<string, Stored>(
    opts.file && existsSync(opts.file) ? Object.entries(JSON.parse(readFileSync(opts.file, 'utf8')) as Record<string, Stored>) : [],
  );
  const save = () => {
    if (opts.file) writePrivateFile(opts.file, JSON.stringify(Object.fromEntries(params), null, 2));
  };
  const put = (name: string, value: string, type = 'SecureString', overwrite = true, description?: string) => {
    const old = params.get(name);
    if (old && !overwrite) throw new SsmError('ParameterAlreadyExists', `The parameter already exists. To overwrite this value, set the overwrite option in the request to true.`);
    const stored: Stored = { value, type, version: (old?.version ?? 0) + 1, modified: Date.now() / 1000, ...(description ?? old?.description ? { description: description ?? old?.description } : {}) };
    params.set(name, stored);
    save();
    return stored;
  };
  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    GetParameter: (input) => {
      const name = String(input.Name);
      const p = params.get(name);
      if (!p) throw new SsmError('ParameterNotFound', `Parameter ${name} not found.`);
      return {
        Parameter: {
          Name: name,
          Type: p.type,
          Value: input.WithDecryption || p.type !== 'SecureString' ? p.value : `local-encrypted:${Buffer.from(p.value).length} bytes`,
          Version: p.version,
          LastModifiedDate: p.modified,
          ARN: `arn:aws:ssm:${opts.region}:123456789012:parameter${name}`,
          DataType: 'text',
        },
      };
    },
    PutParameter: (input) => {
      const p = put(String(input.Name), String(input.Value), String(input.Type ?? 'String'), Boolean(input.Overwrite), input.Description as string | undefined);
      return { Version: p.version, Tier: 'Standard' };
    },
    DeleteParameter: (input) => {
      const name = String(input.Name);
      if (!params.delete(name)) throw new SsmError('ParameterNotFound', `Parameter ${name} not found.`);
      save();
      return {};
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const op = operations[target.replace(/^AmazonSSM\./, '')];
      const answer = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': `local-${Date.now()}` });
        res.end(JSON.stringify(body));
      };
      try {
        if (req.method !== 'POST' || !op) throw new SsmError('UnknownOperationException', `The local SSM endpoint implements ${Object.keys(operations).join(', ')} only.`);
        answer(200, op(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>));
      } catch (err) {
        if (err instanceof SsmError) answer(400, { __type: err.type, message: err.message });
        else answer(500, { __type: 'InternalServerError', message: (err as Error).message });
      }
    });
  });
  // No flag sets this port: hermes alone talks to it, and finds it in the stage record.
  const port = await bindPort(server, opts.port ?? 0, opts.host, 'SSM (signing keys)', '(none)');
  return {
    endpoint: `http://${opts.host}:${port}`,
    get: (name) => params.get(name),
    put: (name, value, type) => void put(name, value, type),
    close: () => closeServer(server),
  };
}
