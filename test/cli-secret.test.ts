/**
 * `hermes secret rotate|show` on the local stack: the keys live in the local stack's SSM
 * parameter store and the authorizer reads them there, as on AWS.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { statSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCliStack, type CliStack } from './helpers/cli.js';
import { connect, refusedStatus } from './helpers/ws.js';

let s: CliStack;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'hermes-secret-'));
  s = await startCliStack({ parameterFile: path.join(dir, 'ssm-parameters.json'), keyCacheSeconds: 0 });
});
afterAll(async () => {
  await s?.close();
  rmSync(dir, { recursive: true, force: true });
});

const issue = async () => {
  const r = await s.run(['token', 'issue', '--user', 'u1', '--room', 'r1', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { token: string }).token;
};

describe('hermes secret on the local stack', () => {
  it('keeps the keys in the state dir, mode 0600, and no function has them', async () => {
    const file = path.join(dir, 'ssm-parameters.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = (await s.stack.signingKeys.current()).secret;
    expect(readFileSync(file, 'utf8')).toContain(key);
    for (const f of Object.values(s.stack.functions)) expect(JSON.stringify(f.config.env)).not.toContain(key);
  });

  it('rotate with a grace: old and new tokens connect; rotate --grace 0: the old one is refused as signed by a retired key', async () => {
    const old = await issue();
    const graced = await s.run(['secret', 'rotate', '--grace', '1h', '--json']);
    expect(graced.code, graced.stderr).toBe(0);
    const g = JSON.parse(graced.stdout) as { current: string; retiring: { kid: string; verifiesUntil: string }; verifying: string[] };
    expect(g.verifying.sort()).toEqual([g.current, g.retiring.kid].sort());
    const fresh = await issue();
    for (const t of [old, fresh]) await (await connect(s.stack.endpoints.websocket, t)).close();

    const cut = await s.run(['secret', 'rotate', '--grace', '0']);
    expect(cut.code, cut.stderr).toBe(0);
    expect(cut.stdout).toMatch(/new signing key k\d{8}-[0-9a-f]{6} is current/);
    expect(cut.stdout).toContain(`Key ${g.current} is retired now`);
    // `fresh` was signed by the key just retired; `old` by the one still in its grace period.
    const verify = await s.run(['token', 'verify', fresh]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/^refused \(retired-key\): retired key: the token was signed with key /);
    expect(await refusedStatus(s.stack.endpoints.websocket, fresh)).toBe(403);
    await (await connect(s.stack.endpoints.websocket, old)).close();
    await (await connect(s.stack.endpoints.websocket, await issue())).close();

    const shown = await s.run(['secret', 'show']);
    expect(shown.stdout).toContain(`${g.retiring.kid}  verifies until ${g.retiring.verifiesUntil}`);
    expect(shown.stdout).toContain(`${g.current}  retired`);
    for (const out of [graced.stdout, cut.stdout, shown.stdout, verify.stdout]) expect(out).not.toMatch(/[A-Za-z0-9_-]{86}/);
  });

  it('a HERMES_JWT_SECRET that disagrees with the stage\'s key is an error that says so', async () => {
    const r = await s.run(['token', 'issue', '--user', 'u', '--room', 'r'], { env: { ...s.env, HERMES_JWT_SECRET: 'z'.repeat(86) } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/HERMES_JWT_SECRET does not match the signing key of stage "local"/);
    const same = await s.run(['token', 'issue', '--user', 'u', '--room', 'r'], { env: { ...s.env, HERMES_JWT_SECRET: (await s.stack.signingKeys.current()).secret } });
    expect(same.code, same.stderr).toBe(0);
  });

  it('--grace must be a duration', async () => {
    const r = await s.run(['secret', 'rotate', '--grace', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid --grace value: "soon"/);
  });

  it('a PutParameter the store refuses is reported as that call, with its status and AWS code', async () => {
    const { createServer } = await import('node:http');
    const { newKeyRing, serializeKeyRing } = await import('../src/core/signing-keys.js');
    const ring = serializeKeyRing(newKeyRing());
    // A parameter store that reads and refuses to write.
    const store = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const read = req.headers['x-amz-target'] === 'AmazonSSM.GetParameter';
        res.writeHead(read ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'rid-ssm' });
        res.end(JSON.stringify(read ? { Parameter: { Name: 'p', Value: ring, Version: 1 } } : { __type: 'ParameterLimitExceeded', message: 'too many versions' }));
      });
    });
    await new Promise<void>((r) => store.listen(0, '127.0.0.1', r));
    try {
      const { port } = store.address() as import('node:net').AddressInfo;
      const r = await s.run(['--json', '--stage', 'elsewhere', 'secret', 'rotate'], { env: { ...s.env, AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${port}` } });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'aws_error', service: 'ssm', operation: 'PutParameter', httpStatus: 400, awsCode: 'ParameterLimitExceeded', requestId: 'rid-ssm' });
      expect(r.stderr).toContain('error: ssm PutParameter failed: HTTP 400 ParameterLimitExceeded: too many versions');
    } finally {
      store.close();
    }
  });
});
