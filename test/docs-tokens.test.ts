/**
 * docs/tokens.md's "Minting a token without hermes" is run as written (the stage and region
 * swapped for the local stack's, its endpoints given the standard AWS_ENDPOINT_URL_* way), and
 * the token it mints must connect and verify.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startCliStack, type CliStack } from './helpers/cli.js';
import { connect } from './helpers/ws.js';
import { projectRoot } from '../src/deploy/bundle.js';

let s: CliStack;
const script = path.join(projectRoot(), `.docs-tokens-${process.pid}.mjs`);

beforeAll(async () => {
  s = await startCliStack();
});
afterAll(async () => {
  rmSync(script, { force: true });
  await s?.close();
});

describe('docs/tokens.md', () => {
  it('the Node example mints a token the stage accepts', async () => {
    const doc = readFileSync(path.join(projectRoot(), 'docs', 'tokens.md'), 'utf8');
    const example = /## Minting a token without hermes[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)![1];
    const code = example.replace("const stage = 'prod';", `const stage = '${s.stack.stage}';`).replace("const region = 'eu-west-1';", `const region = '${s.stack.region}';`);
    expect(code).not.toBe(example);
    // The example's own bcrypt cost is kept (10): this is its one slow step.
    writeFileSync(script, `${code}\nprocess.stdout.write(await mintToken('doc-user', 'doc-room'));\n`);
    const { stdout } = await promisify(execFile)(process.execPath, [script], {
      cwd: projectRoot(),
      env: {
        PATH: process.env.PATH,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_ENDPOINT_URL_SSM: s.stack.endpoints.ssm,
        AWS_ENDPOINT_URL_DYNAMODB: s.stack.endpoints.dynamodb,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      timeout: 30_000,
    });
    const verified = await s.run(['token', 'verify', stdout.trim(), '--json']);
    expect(verified.code, verified.stdout).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ valid: true, claims: { user_id: 'doc-user', room_id: 'doc-room' } });
    await (await connect(s.stack.endpoints.websocket, stdout.trim())).close();
  });
});
