import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_HINT, browserRequired, findBrowser } from '../harness/browser.js';
import { createDashboard, type DashboardHandler, type DashboardSnapshot } from '../integrations/dashboard.js';
import { TieredStore } from '../src/index.js';
import { RedisServer } from './helpers/redis-server.js';

// playwright-core brings no browser: the machine's is used. Without one, a contributor's `npm test`
// skips the browser test and says how to run it; CI (KEYV_FAILSAFE_REQUIRE_BROWSER=1, or CI set) fails it.
const BROWSER = findBrowser();
const PASSWORD = 'dashboard-secret';
// Refreshing the committed screenshot is a choice (DASHBOARD_SCREENSHOT=docs/dashboard.png), so that
// a test run does not leave the work tree changed.
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT ?? join(tmpdir(), `keyv-failsafe-dashboard-${process.pid}.png`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the page shows `state`; on timeout, says what it showed instead. */
async function waitForState(page: Page, state: string, timeoutMs: number): Promise<void> {
  const badge = page.getByTestId('circuit-state');
  try {
    await badge.filter({ hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: timeoutMs });
  } catch {
    throw new Error(`circuit-state did not read "${state}" within ${timeoutMs} ms: "${await badge.textContent()}"`);
  }
}

describe('dashboard: /metrics, stats.json and the page in headless Chromium, with Redis killed', () => {
  let redis: RedisServer;
  let store: TieredStore;
  let dashboard: DashboardHandler;
  let server: Server;
  let base: string;
  let load: NodeJS.Timeout;
  let browser: Browser | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start(['--requirepass', PASSWORD]);
    store = new TieredStore({ primary: `redis://:${PASSWORD}@127.0.0.1:${redis.port}` });
    const keyv = new Keyv({ store });
    let i = 0;
    // A little traffic: writes to 20 keys, reads of 30 (so some miss), each tick.
    load = setInterval(() => {
      i++;
      void keyv.set(`price:${i % 20}`, { price: i });
      void keyv.get(`price:${i % 30}`);
      void keyv.get(`price:${(i * 7) % 30}`);
    }, 50);
    dashboard = createDashboard(store, { storeName: 'prices' });
    // Mounted under /cache the way Express's app.use strips the mount path from req.url.
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      if (!url.startsWith('/cache')) return void res.writeHead(404).end();
      req.url = url.slice('/cache'.length) || '/';
      dashboard(req, res, () => res.writeHead(404, { 'content-type': 'text/plain' }).end('fell through'));
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cache`;
  });

  afterAll(async () => {
    clearInterval(load);
    await browser?.close();
    dashboard?.close();
    await new Promise((resolve) => server?.close(resolve));
    await store?.disconnect();
    await redis?.stop();
  });

  it('serves Prometheus text and stats.json, routes the rest to next()', async () => {
    await sleep(1_200); // one tick of history, with traffic in it
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    expect(text).toContain('keyv_failsafe_hits_total');
    expect(text).toContain('store="prices"');

    const response = await fetch(`${base}/stats.json`);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await response.text();
    const snapshot = JSON.parse(body) as DashboardSnapshot;
    expect(snapshot.storeName).toBe('prices');
    expect(snapshot.circuit.state).toBe('closed');
    expect(snapshot.stats.hits.primary).toBeGreaterThan(0);
    expect(snapshot.memory).toMatchObject({ max: 10_000, maxSize: null });
    expect(snapshot.memory.entries).toBeGreaterThan(0);
    expect(snapshot.journal).toEqual({ size: 0, overflows: 0 });
    const primary = snapshot.latency.paths.primary;
    expect(primary.count).toBeGreaterThan(0);
    expect(primary.p50).toBeGreaterThan(0);
    expect(primary.p99).toBeGreaterThanOrEqual(primary.p50 ?? 0);
    expect(snapshot.latency.paths['breaker-open']).toEqual({ count: 0, p50: null, p99: null });
    expect(snapshot.history.seconds).toBe(300);
    expect(snapshot.history.points.length).toBeGreaterThanOrEqual(1);
    expect(snapshot.history.points[0]).toMatchObject({ circuit: 'closed' });
    for (const output of [text, body]) {
      expect(output).not.toContain(PASSWORD);
      expect(output).not.toContain(String(redis.port));
    }

    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('data-testid="circuit-state"');
    expect((await fetch(`${base}/index.html`)).status).toBe(200);
    expect(await (await fetch(`${base}/nope`)).text()).toBe('fell through');
    expect((await fetch(`${base}/stats.json`, { method: 'POST' })).status).toBe(405);
  });

  it('shows the breaker in headless Chromium: closed, open while Redis is dead, closed again', async (context) => {
    const executablePath = BROWSER.path;
    if (executablePath === undefined) {
      if (browserRequired()) throw new Error(`a browser is required here, but ${BROWSER.reason}: ${BROWSER_HINT}`);
      console.warn(`browser test skipped, ${BROWSER.reason}: to run it, ${BROWSER_HINT}`);
      return context.skip(`no browser: ${BROWSER_HINT}`);
    }
    browser = await chromium.launch({
      executablePath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    // No trailing slash: the page must still find stats.json under the mount path.
    await page.goto(base);
    await waitForState(page, 'closed', 5_000);
    await expect(page.locator('#updated-at').textContent()).resolves.not.toBe('never');
    await sleep(1_500); // a few seconds of normal traffic in the chart

    await redis.kill();
    await waitForState(page, 'open', 5_000);
    await sleep(2_000); // the outage shows in the chart and the counters
    await waitForState(page, 'open', 1_000);
    await page.screenshot({ path: SCREENSHOT });

    await redis.restart();
    await waitForState(page, 'closed', 5_000);
    expect(await page.locator('#error').isHidden()).toBe(true);

    // The dashboard's own server unreachable: the page says so instead of showing old data as live.
    await page.route('**/stats.json', (route) => route.abort('connectionrefused'));
    await page.locator('#error').filter({ hasText: 'Cannot fetch stats.json' }).waitFor({ timeout: 3_000 });
    await page.unroute('**/stats.json');
    await page.locator('#error').waitFor({ state: 'hidden', timeout: 3_000 });
    expect(errors.filter((e) => !e.includes('ERR_CONNECTION_REFUSED'))).toEqual([]);
  });
});
