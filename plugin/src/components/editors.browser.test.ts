/**
 * The editors in a real browser: Debian's chromium driven by playwright-core renders the harness page
 * (src/testing/harness/harness.tsx, bundled here with esbuild, served from 127.0.0.1 on a free port) with
 * @grafana/ui's theme and icons. The test types a CIDR, picks a kind, resets the token, asserts the models and
 * the inline error, and saves the screenshots the README shows (docs/img/).
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEFAULT_QUERIES, KINDS, KIND_INFO } from '../types';

jest.setTimeout(120_000);

const CHROMIUM = '/usr/bin/chromium';
// /work/shared/NOTES-dependencies.md "Browser": what Debian's chromium needs to run headless as root here.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const pluginDir = path.resolve(__dirname, '../..');
const screenshotDir = path.resolve(pluginDir, '../docs/img');
const iconDir = path.join(path.dirname(require.resolve('@grafana/ui/package.json')), 'dist/public/img');

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Netwatch editors</title>
<script>
  // What Grafana's index.html sets before loading any bundle: @grafana/runtime reads its config from here.
  window.grafanaBootData = { settings: { featureToggles: {}, buildInfo: { version: '13.2.2' } }, user: { timezone: 'utc' }, navTree: [] };
  window.__grafana_public_path__ = '/public/';
</script></head>
<body><div id="root"></div><script src="/harness.js"></script></body></html>`;

interface Served {
  url: string;
  close(): Promise<void>;
}

/** What the page asked Grafana's API for: method, path and the plugin headers. */
const apiRequests: Array<{ path: string; pluginId?: string; datasourceUid?: string }> = [];

/** The backend's `values/<name>` resources as Grafana serves them (the backend proxies the ingest service's lists). */
const VALUE_LISTS: Record<string, string[]> = { targets: ['1.1.1.1', '::1', 'https://example.org'] };

function serve(bundleDir: string): Promise<Served> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const values = /^\/api\/datasources\/uid\/netwatch\/resources\/values\/([a-z_]+)$/.exec(url.pathname);
    if (values) {
      apiRequests.push({ path: url.pathname, pluginId: req.headers['x-plugin-id'] as string, datasourceUid: req.headers['x-datasource-uid'] as string });
      const list = VALUE_LISTS[values[1]];
      res.writeHead(list ? 200 : 501, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(list ? { name: values[1], values: list } : { error: { code: 'NETWATCH_ERR_NOT_IMPLEMENTED', message: 'not provided' }, status: 501 }));
    }
    const send = (status: number, type: string, body: Buffer | string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', PAGE);
    if (url.pathname === '/harness.js') return send(200, 'text/javascript', readFileSync(path.join(bundleDir, 'harness.js')));
    // Grafana serves @grafana/ui's icons under public/build/img/icons/.
    const icon = /^\/public\/build\/img\/(icons\/[a-z-]+\/[a-z0-9-]+\.svg)$/.exec(url.pathname);
    if (icon) {
      try {
        return send(200, 'image/svg+xml', readFileSync(path.join(iconDir, icon[1])));
      } catch {
        return send(404, 'text/plain', 'no such icon');
      }
    }
    send(404, 'text/plain', 'not found');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

async function harnessState(page: Page) {
  return page.evaluate(() => JSON.parse(JSON.stringify(window.netwatchHarness)));
}

/** Requests in flight: @grafana/ui fetches each icon when it first shows (the error's icon, a new field's). */
let inFlight = 0;

/** Waits until no request has been in flight for 200 ms, so a screenshot never catches an icon half-loaded. */
async function settle(page: Page) {
  for (let quiet = 0; quiet < 4; ) {
    await page.waitForTimeout(50);
    quiet = inFlight === 0 ? quiet + 1 : 0;
  }
}

/** Pixels that differ between two PNGs of the same size (decoded by the browser), or -1 when sizes differ. */
async function pixelsDiffering(browser: Browser, a: Buffer, b: Buffer): Promise<number> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(
      async ([a64, b64]) => {
        const load = (s: string) =>
          new Promise<HTMLImageElement>((resolve, reject) => {
            const img = new Image();
            img.onload = () => resolve(img);
            img.onerror = reject;
            img.src = `data:image/png;base64,${s}`;
          });
        const [ia, ib] = await Promise.all([load(a64), load(b64)]);
        if (ia.width !== ib.width || ia.height !== ib.height) return -1;
        const pixels = (img: HTMLImageElement) => {
          const canvas = document.createElement('canvas');
          canvas.width = img.width;
          canvas.height = img.height;
          const ctx = canvas.getContext('2d')!;
          ctx.drawImage(img, 0, 0);
          return ctx.getImageData(0, 0, img.width, img.height).data;
        };
        const pa = pixels(ia);
        const pb = pixels(ib);
        let n = 0;
        for (let i = 0; i < pa.length; i += 4) if (pa[i] !== pb[i] || pa[i + 1] !== pb[i + 1] || pa[i + 2] !== pb[i + 2]) n++;
        return n;
      },
      [a.toString('base64'), b.toString('base64')],
    );
  } finally {
    await page.close();
  }
}

/**
 * Saves a screenshot of the element to docs/img/. Chromium's antialiasing varies by a few pixels between runs:
 * an existing file within 0.1 % of the new image is kept, so the repository only changes when the editor does.
 */
async function screenshot(page: Page, selector: string, name: string, extraHeight = 0): Promise<Buffer> {
  await settle(page);
  const box = (await page.locator(selector).boundingBox())!;
  const png = await page.screenshot({
    clip: { x: box.x, y: box.y, width: box.width, height: box.height + extraHeight },
    animations: 'disabled',
    caret: 'hide',
  });
  const file = path.join(screenshotDir, name);
  const previous = existsSync(file) ? readFileSync(file) : null;
  const tolerance = Math.ceil(box.width * (box.height + extraHeight) * 0.001);
  let keep = previous !== null && previous.equals(png);
  if (previous && !keep) {
    const differing = await pixelsDiffering(page.context().browser()!, previous, png);
    keep = differing >= 0 && differing <= tolerance;
  }
  if (!keep) writeFileSync(file, png);
  return png;
}

describe('the editors in chromium', () => {
  let bundleDir: string;
  let server: Served;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const missing = new Set<string>();

  beforeAll(async () => {
    bundleDir = mkdtempSync(path.join(os.tmpdir(), 'netwatch-harness-'));
    await build({
      entryPoints: [path.join(pluginDir, 'src/testing/harness/harness.tsx')],
      outfile: path.join(bundleDir, 'harness.js'),
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      jsx: 'automatic',
      minify: true,
      define: { 'process.env.NODE_ENV': '"production"' },
      loader: { '.svg': 'dataurl', '.woff': 'empty', '.woff2': 'empty', '.css': 'empty' },
      logLevel: 'error',
    });
    server = await serve(bundleDir);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1220, height: 900 }, deviceScaleFactor: 1, colorScheme: 'dark' });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // Missing files are collected from the responses instead, by path.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`console: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) missing.add(new URL(r.url()).pathname);
    });
    page.on('request', () => inFlight++);
    page.on('requestfinished', () => inFlight--);
    page.on('requestfailed', () => inFlight--);
    await page.goto(server.url);
    await page.getByTestId('netwatch-query-editor').waitFor();
    mkdirSync(screenshotDir, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  });

  it('renders the flows fields with no page error', async () => {
    const labels = await page.locator('#query-editor label').allTextContents();
    expect(labels.map((l) => l.trim())).toEqual(['Kind', 'CIDR', 'Source CIDR', 'Destination CIDR', 'Port', 'Source port', 'Destination port', 'Protocol', 'Order by', 'Limit']);
    expect(await page.getByTestId('netwatch-kind-description').textContent()).toBe(KIND_INFO.flows.description);
    expect(pageErrors).toEqual([]);
  });

  it('shows an invalid CIDR inline and does not run the query', async () => {
    const cidr = page.getByLabel('CIDR', { exact: true });
    await cidr.fill('10.0.0.0/8, 10.0.0.0/33');
    await cidr.press('Enter');
    const error = page.getByText('"10.0.0.0/33": prefix length 33 out of range 0-32', { exact: true });
    await error.waitFor();
    expect(await error.isVisible()).toBe(true);
    expect(await cidr.getAttribute('aria-invalid')).toBe('true');
    const state = await harnessState(page);
    expect(state.query).toEqual({ refId: 'A', ...DEFAULT_QUERIES.flows, cidr: ['10.0.0.0/8', '10.0.0.0/33'] });
    expect(state.runs).toEqual([]);
    const png = await screenshot(page, '#query-editor', 'query-editor-invalid-cidr.png');
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });

  it('runs the query once the CIDR is valid, template variables included', async () => {
    const cidr = page.getByLabel('CIDR', { exact: true });
    await cidr.fill('10.0.0.0/8, 2001:db8::/32, $subnet');
    await page.getByLabel('Destination port', { exact: true }).click(); // blur commits
    await page.getByText(/prefix length 33/).waitFor({ state: 'detached' });
    expect(await cidr.getAttribute('aria-invalid')).not.toBe('true');
    const want = { refId: 'A', ...DEFAULT_QUERIES.flows, cidr: ['10.0.0.0/8', '2001:db8::/32', '$subnet'] };
    const state = await harnessState(page);
    expect(state.query).toEqual(want);
    expect(state.runs).toEqual([want]);

    const port = page.getByLabel('Destination port', { exact: true });
    await port.fill('${port:csv}, 8000-8100');
    await port.press('Enter');
    const withPorts = { ...want, dstPort: ['${port:csv}', '8000-8100'] };
    expect((await harnessState(page)).runs).toEqual([want, withPorts]);
  });

  it('lists every kind with its description, and picking one switches the fields', async () => {
    await page.getByLabel('Kind', { exact: true }).click();
    const menu = page.getByRole('listbox');
    await menu.waitFor();
    const options = await menu.getByRole('option').allTextContents();
    // The menu is virtualised: the first rows are rendered, each with its description.
    expect(options.length).toBeGreaterThanOrEqual(5);
    expect(options).toEqual(KINDS.slice(0, options.length).map((k) => `${k}${KIND_INFO[k].description}`));
    await screenshot(page, '#query-editor', 'query-editor-kinds.png', 320);

    await menu.getByText('top_talkers', { exact: true }).click();
    await page.getByLabel('Group by', { exact: true }).waitFor();
    const labels = (await page.locator('#query-editor label').allTextContents()).map((l) => l.trim());
    expect(labels).toEqual(['Kind', 'CIDR', 'Source CIDR', 'Destination CIDR', 'Port', 'Source port', 'Destination port', 'Protocol', 'Group by', 'Order by', 'Limit']);
    expect(await page.getByTestId('netwatch-kind-description').textContent()).toBe(KIND_INFO.top_talkers.description);
    const state = await harnessState(page);
    expect(state.query).toEqual({
      refId: 'A',
      kind: 'top_talkers',
      cidr: ['10.0.0.0/8', '2001:db8::/32', '$subnet'],
      dstPort: ['${port:csv}', '8000-8100'],
      orderBy: 'bytes',
      limit: 100,
      groupBy: 'ip',
    });
    expect(state.runs.at(-1)).toEqual(state.query);
    await screenshot(page, '#query-editor', 'query-editor-top-talkers.png');
  });

  it('suggests ping targets from the backend values resource', async () => {
    await page.getByLabel('Kind', { exact: true }).click();
    await page.getByRole('listbox').getByText('pings', { exact: true }).click();
    const target = page.getByLabel('Target', { exact: true });
    await target.click();
    const menu = page.getByRole('listbox');
    await menu.getByText('https://example.org', { exact: true }).waitFor();
    expect(await menu.getByRole('option').allTextContents()).toEqual(VALUE_LISTS.targets);
    expect(apiRequests).toEqual([{ path: '/api/datasources/uid/netwatch/resources/values/targets', pluginId: 'netwatch-ingest-datasource', datasourceUid: 'netwatch' }]);
    await screenshot(page, '#query-editor', 'query-editor-targets.png', 120);
    await menu.getByText('::1', { exact: true }).click();
    await page.keyboard.press('Escape');
    const state = await harnessState(page);
    expect(state.query).toEqual({
      refId: 'A',
      kind: 'pings',
      cidr: ['10.0.0.0/8', '2001:db8::/32', '$subnet'],
      dstPort: ['${port:csv}', '8000-8100'],
      orderBy: 'bytes',
      limit: 100,
      groupBy: 'ip',
      metric: ['latency_ms'],
      target: ['::1'],
    });
    expect(state.runs.at(-1)).toEqual(state.query);
  });

  it('shows the stored token as configured and resets it for a new one', async () => {
    const token = page.getByLabel('API token', { exact: true });
    expect(await token.inputValue()).toBe('configured');
    expect(await token.isDisabled()).toBe(true);
    await screenshot(page, '#config-editor', 'config-editor.png');

    await page.locator('#config-editor').getByRole('button', { name: 'Reset' }).click();
    expect(await token.isEnabled()).toBe(true);
    await token.fill('s3cret-token');
    const url = page.getByLabel('URL', { exact: true });
    await url.fill('http://netwatch-ingest:7070');
    const { options } = await harnessState(page);
    expect({ jsonData: options.jsonData, secureJsonFields: options.secureJsonFields, secureJsonData: options.secureJsonData }).toEqual({
      jsonData: { url: 'http://netwatch-ingest:7070' },
      secureJsonFields: { token: false },
      secureJsonData: { token: 's3cret-token' },
    });
    expect(pageErrors).toEqual([]);
  });

  it('loaded every file the page asked for, but what Grafana itself serves and no package here ships', () => {
    // Grafana serves the Inter and Roboto fonts and the spinner icon from its own public/ folder; @grafana/ui
    // references them without shipping them, so the page falls back to system fonts.
    const notShipped = /^\/(favicon\.ico|public\/fonts\/.+\.woff2|public\/build\/img\/icons\/unicons\/spinner\.svg)$/;
    expect([...missing].filter((p) => !notShipped.test(p))).toEqual([]);
  });
});
