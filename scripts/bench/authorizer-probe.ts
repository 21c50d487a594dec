/**
 * One authorizer container, as Lambda runs it, in a process of its own (forked by
 * connect-path.ts): import the bundle, build the handler from the function's environment, and
 * time invocations one at a time, wall and CPU: the first (a cold container: client creation,
 * first DynamoDB call), then tokens it has not seen (bcrypt), then the same tokens again (a
 * reconnect: the verification cache, where the bundle has one).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface ProbeRequest {
  bundleDir: string;
  env: Record<string, string>;
  tokens: string[];
}

export interface Timing {
  ms: number;
  cpuMs: number;
}

export interface ProbeResult {
  import: Timing;
  first: Timing;
  /** Medians over the tokens. */
  newToken: Timing;
  knownToken: Timing;
  allowed: number;
  invocations: number;
}

const silent = { info: () => {}, warn: () => {}, error: () => {} };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed<T>(f: () => Promise<T>): Promise<{ t: Timing; value: T }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await f();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { t: { ms, cpuMs: (c.user + c.system) / 1000 }, value };
}

async function probe(req: ProbeRequest): Promise<ProbeResult> {
  const file = pathToFileURL(path.join(req.bundleDir, 'authorizer', 'index.mjs')).href;
  const imported = await timed(() => import(file) as Promise<{ createHandler(env: unknown, o: unknown): (e: unknown, c: unknown) => Promise<{ policyDocument: { Statement: Array<{ Effect: string }> } }> }>);
  const handler = imported.value.createHandler(req.env, { logger: silent });
  let allowed = 0;
  let invocations = 0;
  const invoke = async (token: string) => {
    const event = {
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:us-east-1:123456789012:probe/local/$connect',
      queryStringParameters: { token },
      requestContext: { connectionId: `probe-${invocations}`, routeKey: '$connect', eventType: 'CONNECT' },
    };
    const context = { awsRequestId: `probe-${invocations}`, functionName: 'authorizer', getRemainingTimeInMillis: () => 10_000 };
    const r = await timed(() => handler(event, context));
    invocations++;
    if (r.value.policyDocument.Statement[0].Effect === 'Allow') allowed++;
    return r.t;
  };
  const [firstToken, ...rest] = req.tokens;
  const first = await invoke(firstToken);
  const fresh: Timing[] = [];
  for (const t of rest) fresh.push(await invoke(t));
  const known: Timing[] = [];
  for (const t of req.tokens) known.push(await invoke(t));
  const med = (xs: Timing[]) => ({ ms: median(xs.map((x) => x.ms)), cpuMs: median(xs.map((x) => x.cpuMs)) });
  return { import: imported.t, first, newToken: med(fresh), knownToken: med(known), allowed, invocations };
}

process.once('message', (req: ProbeRequest) => {
  probe(req).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: Error) => process.send!({ ok: false, error: `${err.name}: ${err.message}` }, () => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(0));
