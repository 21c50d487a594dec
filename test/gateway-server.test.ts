/** The local API Gateway as a server: busy ports, extra HTTP routes, close(). */
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { startGateway } from '../src/local/gateway.js';
import { cleanups, bounded, gateway, lambda, open } from './helpers/gateway.js';

// ---- the server --------------------------------------------------------------------------------

describe('server', () => {
  it('rejects with EADDRINUSE when the port is busy', async () => {
    const first = await gateway();
    await expect(startGateway({ host: '127.0.0.1', port: first.port, stage: 'local', routes: {} })).rejects.toMatchObject({
      code: 'EADDRINUSE',
      message: expect.stringContaining(String(first.port)),
    });

    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const port = (blocker.address() as { port: number }).port;
    await expect(startGateway({ host: '127.0.0.1', port, stage: 'local', routes: {} })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('serves extra HTTP routes through httpHandler and answers 403 otherwise', async () => {
    const gw = await gateway({
      httpHandler: (req, res) => {
        if (req.url !== '/demo') return false;
        res.end('demo page');
        return true;
      },
    });
    expect(await (await fetch(`http://127.0.0.1:${gw.port}/demo`)).text()).toBe('demo page');
    expect((await fetch(`http://127.0.0.1:${gw.port}/elsewhere`)).status).toBe(403);
  });

  it('close() closes sockets with 1001, runs $disconnect, and does not hang on a stuck handler', async () => {
    const disconnect = lambda((e) => (e.requestContext.connectionId === stuckId ? new Promise(() => {}) : undefined));
    let stuckId = '';
    const gw = await startGateway({ host: '127.0.0.1', port: 0, stage: 'local', routes: { $disconnect: disconnect }, disconnectWaitMs: 1500 });
    const clients = [await open(gw.url), await open(gw.url)];
    stuckId = gw.connectionIds()[0];

    const started = Date.now();
    await bounded(gw.close(), 'close()', 5000);
    expect(Date.now() - started).toBeLessThan(4000);
    for (const client of clients) expect((await client.closed).code).toBe(1001);
    expect(disconnect.events.map((e) => e.requestContext.disconnectStatusCode)).toEqual([1001, 1001]);
    await expect(fetch(gw.managementEndpoint)).rejects.toThrow();
  });
});
