// bulwark-docs in a real browser: Debian's chromium driven by playwright-core, through the emulator's HTTP gateway
// with a bulwark-api-key key. One browser launch for the suite (headless, --no-sandbox: it runs as root in CI, and
// nothing here needs the network: every request that leaves for another origin is recorded and aborted).
// Asserts on the DOM Swagger UI renders, on the console (no errors, no CSP violation), on the requests the page makes,
// and that a caller with fewer scopes sees fewer operations. Screenshots go to artifacts/ (gitignored); the README's
// screenshot is docs/images/bulwark-docs.png (BULWARK_DOCS_SCREENSHOT=1 rewrites it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAllNoFailOpen, BOTH_PLUGIN_SERVERS, runsOnPluginServers, type Gateway } from '../../helpers/emulator';
import { ADMIN, DOCS_PATH, READER, startDocsGateway, type DocsGateway } from './gateway';

runsOnPluginServers(BOTH_PLUGIN_SERVERS);

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(__dirname, '../../../artifacts/bulwark-docs');

let docs: DocsGateway;
let browser: Browser;
beforeAll(async () => {
  docs = await startDocsGateway();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'],
  });
}, 120_000);
afterAll(async () => {
  await browser?.close();
});
afterAllNoFailOpen(() => [docs ? ({ kong: docs.gw.kong, stop: () => docs.close() } as unknown as Gateway) : undefined]);

interface Visit {
  page: Page;
  consoleErrors: string[];
  cspViolations: string[];
  foreignRequests: string[];
  status: number | undefined;
  close(): Promise<void>;
}

async function visit(key: string | undefined, pathname = DOCS_PATH): Promise<Visit> {
  const context = await browser.newContext(key === undefined ? {} : { extraHTTPHeaders: { 'x-api-key': key } });
  const page = await context.newPage();
  const v: Visit = {
    page,
    consoleErrors: [],
    cspViolations: [],
    foreignRequests: [],
    status: undefined,
    close: () => context.close(),
  };
  const origin = new URL(docs.url).origin;
  page.on('console', (m) => {
    if (m.type() === 'error') v.consoleErrors.push(m.text());
    if (/Content[- ]Security[- ]Policy/i.test(m.text())) v.cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => v.consoleErrors.push(`pageerror: ${String(e)}`));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (!url.startsWith('data:') && new URL(url).origin !== origin) {
      v.foreignRequests.push(url);
      return route.abort();
    }
    return route.continue();
  });
  // Violations are also reported to the page as events (even those the console does not show).
  await page.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => " +
      "console.error('Content-Security-Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
  );
  const res = await page.goto(`${docs.url}${pathname}`);
  v.status = res?.status();
  return v;
}

/** The operations Swagger UI rendered, as "METHOD /path". */
async function renderedOperations(page: Page): Promise<string[]> {
  await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
  const blocks = page.locator('.opblock');
  const out: string[] = [];
  for (let i = 0; i < (await blocks.count()); i++) {
    const method = (await blocks.nth(i).locator('.opblock-summary-method').innerText()).trim();
    const p = (await blocks.nth(i).locator('.opblock-summary-path').getAttribute('data-path')) ?? '';
    out.push(`${method} ${p}`);
  }
  return out;
}

test('an admin sees every public operation rendered; no console error, no CSP violation, no request to another origin', async () => {
  const v = await visit(ADMIN.key);
  try {
    expect(v.status).toBe(200);
    expect((await renderedOperations(v.page)).sort()).toEqual(
      ['DELETE /pets/{id}', 'GET /health', 'GET /pets', 'GET /pets/{id}', 'POST /pets'].sort(),
    );
    const body = await v.page.locator('body').innerText();
    expect(body).toContain('Swagger Petstore');
    expect(body).not.toContain('reindex');
    expect(body).not.toContain('pets-backend.internal');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await v.page.screenshot({ path: path.join(ARTIFACTS, 'admin.png'), fullPage: true });
    if (process.env.BULWARK_DOCS_SCREENSHOT === '1')
      await v.page.screenshot({ path: path.join(__dirname, '../../../docs/images/bulwark-docs.png') });
    expect(v.consoleErrors).toEqual([]);
    expect(v.cspViolations).toEqual([]);
    expect(v.foreignRequests).toEqual([]);
  } finally {
    await v.close();
  }
}, 60_000);

test('a reader (fewer scopes) sees fewer operations: only what its scopes allow, and the public one', async () => {
  const v = await visit(READER.key);
  try {
    expect((await renderedOperations(v.page)).sort()).toEqual(['GET /health', 'GET /pets', 'GET /pets/{id}']);
    await v.page.screenshot({ path: path.join(ARTIFACTS, 'reader.png'), fullPage: true });
    expect(v.consoleErrors).toEqual([]);
    expect(v.cspViolations).toEqual([]);
    expect(v.foreignRequests).toEqual([]);
  } finally {
    await v.close();
  }
}, 60_000);

test('without a key the page and the document are refused by bulwark-api-key (401), nothing rendered', async () => {
  for (const p of [DOCS_PATH, `${DOCS_PATH}/openapi.json`]) {
    const v = await visit(undefined, p);
    try {
      expect([p, v.status]).toEqual([p, 401]);
      expect(await v.page.locator('.opblock').count()).toBe(0);
    } finally {
      await v.close();
    }
  }
}, 60_000);
