/**
 * A loopback HTTP proxy between the local functions and a dependency (DynamoDB or @connections)
 * for the fault suite: it forwards, or cuts the connection, or answers an error, as its rule
 * says for each request. Bodies are streamed both ways.
 */
import { createServer, request, Agent, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Verdict = 'pass' | 'reset' | { status: number; errorType: string; body?: string };

export interface FaultProxy {
  /** Where to send the functions: this proxy's address, with the path prefix it was started with. */
  url: string;
  /** Where requests go when the rule passes them: `http://host:port`; set once the target runs. */
  target: string;
  /** Decides each request; default: pass everything. */
  rule: (req: IncomingMessage) => Verdict;
  counts: { passed: number; reset: number; answered: number };
  close(): Promise<void>;
}

export async function startFaultProxy(pathPrefix = ''): Promise<FaultProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const proxy: FaultProxy = {
    url: '',
    target: '',
    rule: () => 'pass',
    counts: { passed: 0, reset: 0, answered: 0 },
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const verdict = proxy.rule(req);
    if (verdict === 'reset') {
      proxy.counts.reset++;
      req.socket.destroy();
      return;
    }
    if (verdict !== 'pass') {
      proxy.counts.answered++;
      req.resume();
      const body = verdict.body ?? JSON.stringify({ message: verdict.errorType });
      res.writeHead(verdict.status, { 'content-type': 'application/json', 'x-amzn-ErrorType': verdict.errorType, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    proxy.counts.passed++;
    const t = new URL(proxy.target);
    const up = request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${port}${pathPrefix}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      agent.destroy();
    });
  return proxy;
}
