/**
 * The demo page that `hermes dev` serves, in a real browser (Debian's chromium driven by
 * playwright-core) against the real local stack: publishing with the `hermes` CLI, the send
 * box, a gateway restart, a revoked token, and its layout at phone, tablet and desktop widths
 * (joined on load, notifications never over a control). Each test saves a screenshot in
 * test-results/.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startDemoTestStack } from './helpers/stack.js';
import { eventually } from './helpers/ws.js';
import type { LocalStack } from '../src/local/stack.js';
import type { IssuedToken } from '../src/core/tokens.js';
import { revokeToken } from '../src/core/tokens.js';
import { publish } from '../src/core/publish.js';
import { listRoomConnectionIds } from '../src/core/connections.js';
import { readHead } from '../src/core/history.js';
import { writeStageRecord } from '../src/config/stage-record.js';
import { localStageRecord } from '../src/local/state.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium; .ci/run does)`);

const root = fileURLToPath(new URL('..', import.meta.url));
const SHOTS = path.join(root, 'test-results');
const WAIT = { timeout: 30_000 };

let stack: LocalStack;
let base: string;
const issued: IssuedToken[] = [];

beforeAll(async () => {
  stack = await startDemoTestStack({ visibilityTimeoutSeconds: 1 }, { onToken: (t) => issued.push(t) });
  base = `http://127.0.0.1:${stack.gateway.port}`;
});

afterAll(async () => {
  await stack?.close();
});

describe('demo server (no browser)', () => {
  const token = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${base}/_hermes/token`, { method: 'POST', headers, body });

  it('serves the page, its script and the built client', async () => {
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<script type="module" src="/demo.js">');
    const client = await fetch(`${base}/hermes-client.mjs`);
    expect(client.status).toBe(200);
    expect(await client.text()).toContain('function connect(');
    expect((await fetch(`${base}/favicon.ico`)).status).toBe(204);
    expect((await fetch(`${base}/nothing-here`)).status).toBe(403); // the gateway's own answer
  });

  it('issues tokens for a user and a room, and says what is wrong with a bad request', async () => {
    const ok = await token(JSON.stringify({ user: 'alice', room: 'demo' }));
    expect(ok.status).toBe(200);
    const body = await ok.json();
    expect(body).toMatchObject({ user: 'alice', room: 'demo', url: `ws://127.0.0.1:${stack.gateway.port}/local` });
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);

    const bad = await token(JSON.stringify({ user: 'alice', room: ' ' }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/"room"/) });
    expect((await token('{not json')).status).toBe(400);
    expect((await token(JSON.stringify({ room: 'demo' }))).status).toBe(400);
    expect((await token(JSON.stringify({ user: 'a', room: 'b' }), { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await fetch(`${base}/_hermes/token`)).status).toBe(405);
  });
});

describe.skipIf(!hasChromium)('demo page in chromium', () => {
  let browser: Browser;
  let stateDir: string;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // The CLI finds the stack through a state dir, as it finds a `hermes dev` stack.
    stateDir = mkdtempSync(path.join(tmpdir(), 'hermes-browser-'));
    writeStageRecord(stateDir, localStageRecord(stack));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 780 } });
    contexts.push(context);
    return context;
  }

  /** The demo page for a user in a room, once it shows it is connected. */
  async function openPage(context: BrowserContext, user: string, room: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${user}: ${err.message}`));
    await page.goto(`${base}/?${new URLSearchParams({ user, room })}`);
    await page.locator('#state[data-state="open"]').waitFor(WAIT);
    return page;
  }

  const toast = (page: Page, type: string, text: string) => page.locator(`.toast[data-type="${type}"]`, { hasText: text });
  /** `data.data` of every frame the page received, in order. */
  const received = (page: Page) => page.evaluate(() => (window as any).hermesDemo.received.map((f: any) => f.data?.data ?? f.data));
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `browser-${name}.png`), animations: 'disabled' });
  const room = (name: string) => `${name}-${randomUUID().slice(0, 6)}`;

  /** `hermes publish` as a user runs it, in a child process. */
  function hermesPublish(roomId: string, type: string, text: string): Promise<string> {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HERMES_') && !k.startsWith('AWS_ENDPOINT_URL')));
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [path.join(root, 'bin/hermes'), 'publish', '--state-dir', stateDir, '--room', roomId, '--type', type, text],
        { cwd: stateDir, env, timeout: 30_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`hermes publish failed: ${err.message}\n${stderr}`)) : resolve(stdout)),
      );
    });
  }

  const sentinel = (roomId: string, text: string) =>
    publish({ sqs: stack.sqs, queueUrl: stack.queues.queueUrl }, [{ room_id: roomId, user_id: 'backend', data: { type: 'info', data: text } }]);

  it('a message sent with `hermes publish` appears in the page of its room only', async () => {
    const context = await newContext();
    const [roomA, roomB] = [room('ops'), room('sales')];
    const a = await openPage(context, 'alice', roomA);
    const b = await openPage(context, 'bob', roomB);

    await hermesPublish(roomA, 'alert', 'Disk almost full on db-1');
    await toast(a, 'alert', 'Disk almost full on db-1').waitFor(WAIT);
    // Published after it, this reaches room B; by then the alert would have, had it gone there.
    await hermesPublish(roomB, 'info', 'Quarterly numbers are in');
    await toast(b, 'info', 'Quarterly numbers are in').waitFor(WAIT);

    expect(await received(a)).toEqual(['Disk almost full on db-1']);
    expect(await received(b)).toEqual(['Quarterly numbers are in']);
    expect(await a.locator('#log').textContent()).toContain('"type":"alert"'); // the raw frame
    await shot(a, 'publish-room-a');
    await shot(b, 'publish-room-b');
  });

  it('the send box reaches the other pages of the same room and no other room', async () => {
    const context = await newContext();
    const [roomA, roomB] = [room('team'), room('other')];
    const alice = await openPage(context, 'alice', roomA);
    const carol = await openPage(context, 'carol', roomA);
    const bob = await openPage(context, 'bob', roomB);

    await alice.selectOption('#send-type', 'chat');
    await alice.fill('#send-text', 'Lunch at noon?');
    await alice.click('#send-button');
    const chat = toast(carol, 'chat', 'Lunch at noon?');
    await chat.waitFor(WAIT);
    expect(await chat.locator('.toast-head').textContent()).toContain('alice');
    await toast(alice, 'chat', 'Lunch at noon?').waitFor(WAIT); // the sender is in the room too
    expect(await alice.locator('#log li.out').textContent()).toContain('"action":"sendMessage"');

    await sentinel(roomB, 'only for room B');
    await toast(bob, 'info', 'only for room B').waitFor(WAIT);
    expect(await received(bob)).toEqual(['only for room B']);
    await shot(carol, 'send-box');
  });

  it('reconnects after the gateway stops and starts again, and receives again', async () => {
    const context = await newContext();
    const roomId = room('restart');
    const page = await openPage(context, 'alice', roomId);

    await stack.restartGateway({
      whileDown: async () => {
        await page.locator('#state[data-state="reconnecting"]').waitFor(WAIT);
        await shot(page, 'gateway-down');
      },
    });
    await page.locator('#state[data-state="open"]').waitFor(WAIT);
    await hermesPublish(roomId, 'success', 'Gateway is back');
    await toast(page, 'success', 'Gateway is back').waitFor(WAIT);
    expect(await page.locator('#log').textContent()).toContain('closed 1001');
    await shot(page, 'gateway-restarted');
  });

  it('shows what was published while the gateway was down, marked as replayed, once', async () => {
    const context = await newContext();
    const roomId = room('replay');
    const page = await openPage(context, 'alice', roomId);
    await hermesPublish(roomId, 'info', 'Before the outage');
    await toast(page, 'info', 'Before the outage').waitFor(WAIT);

    await stack.restartGateway({
      whileDown: async () => {
        await page.locator('#state[data-state="reconnecting"]').waitFor(WAIT);
        await hermesPublish(roomId, 'warning', 'Missed while away');
        // Wait until send-message has numbered it into the room's history (seq 2), so it is
        // missed for sure and not delivered live after the gateway is back.
        const history = { ddb: stack.ddb, table: stack.names.table('history'), retentionSeconds: 3600, maxPerStream: 0 };
        await eventually(async () => (await readHead(history, { kind: 'room', id: roomId })) >= 2, 10_000, 'the missed message in the history');
      },
    });
    const missed = toast(page, 'warning', 'Missed while away');
    await missed.waitFor(WAIT);
    expect(await missed.getAttribute('data-replayed')).toBe('true');
    expect(await missed.getAttribute('class')).toContain('replayed');
    expect(await toast(page, 'info', 'Before the outage').getAttribute('data-replayed')).toBeNull();
    expect(await received(page)).toEqual(['Before the outage', 'Missed while away']);
    await shot(page, 'replayed');
  });

  it('joins on load, switches room from its form, and never covers its own controls at 390, 768 and 1280 px', async () => {
    const controls = ['#user', '#room', '#join-button', '#leave', '#send-type', '#send-text', '#send-button', '#clear-log'];
    for (const width of [390, 768, 1280]) {
      const context = await browser.newContext({ viewport: { width, height: 800 } });
      contexts.push(context);
      const page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(`${width}px: ${err.message}`));
      // No user or room in the address: the page joins by itself, as a new user in "demo".
      await page.goto(`${base}/`);
      await page.locator('#state[data-state="open"]').waitFor(WAIT);
      expect(await page.inputValue('#room')).toBe('demo');
      expect(await page.inputValue('#user')).toMatch(/^user-[a-z0-9]+$/);
      expect(await page.locator('#state-text').textContent()).toMatch(/^connected as user-\w+ in demo$/);

      // The visible way to change room: the form.
      const roomId = room(`layout-${width}`);
      await page.fill('#room', roomId);
      await page.click('#join-button');
      await page.locator('#state-text', { hasText: `in ${roomId}` }).waitFor(WAIT);
      expect(await page.locator('#publish-hint').textContent()).toBe(`hermes publish --room ${roomId} --type alert "Disk almost full"`);

      // More notifications than the page shows at once.
      for (let i = 1; i <= 7; i++) await sentinel(roomId, `notification ${i} of 7 at ${width}px`);
      await toast(page, 'info', `notification 7 of 7 at ${width}px`).waitFor(WAIT);
      await eventually(async () => (await page.locator('.toast').count()) === 5, 10_000, 'five notifications on screen');

      for (const selector of controls) {
        const control = page.locator(selector);
        await control.scrollIntoViewIfNeeded();
        const box = (await control.boundingBox())!;
        const hit = await page.evaluate(
          ({ selector, x, y }) => {
            const el = document.elementFromPoint(x, y);
            const target = document.querySelector(selector)!;
            return el === target || target.contains(el) ? 'the control' : (el?.closest('.toast') ? 'a notification' : el?.outerHTML.slice(0, 80) ?? 'nothing');
          },
          { selector, x: box.x + box.width / 2, y: box.y + box.height / 2 },
        );
        expect(hit, `${selector} at ${width}px`).toBe('the control');
      }
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot(page, `layout-${width}`);
    }
  });

  it('a revoked token makes the page fetch a new one, reconnect and receive again', async () => {
    const context = await newContext();
    const roomId = room('revoke');
    const page = await openPage(context, 'alice', roomId);
    const tokensOfRoom = () => issued.filter((t) => t.roomId === roomId);
    expect(tokensOfRoom()).toHaveLength(1);
    const tokenId = await page.locator('#token-info').getAttribute('data-token-id');
    expect(tokenId).toBe(tokensOfRoom()[0].tokenId);

    await revokeToken({ ddb: stack.ddb, table: stack.names.tokensTable }, 'alice', tokenId!);
    const [connectionId] = await eventually(async () => {
      const ids = await listRoomConnectionIds({ ddb: stack.ddb, table: stack.names.connectionsTable }, roomId);
      return ids.length === 1 && ids;
    }, 10_000, 'the page\'s connection');
    stack.gateway.dropConnection(connectionId, { runDisconnect: true });

    // Refused with the old token, the page asks the token endpoint again and reconnects.
    await eventually(() => tokensOfRoom().length === 2, 30_000, 'a second token');
    await page.locator('#token-info[data-count="2"]').waitFor(WAIT);
    await page.locator('#state[data-state="open"]').waitFor(WAIT);
    expect(await page.locator('#log').textContent()).toContain('before opening');
    expect(tokensOfRoom()).toHaveLength(2);

    await hermesPublish(roomId, 'warning', 'Still here after the revocation');
    await toast(page, 'warning', 'Still here after the revocation').waitFor(WAIT);
    await shot(page, 'token-renewed');
  });
});
