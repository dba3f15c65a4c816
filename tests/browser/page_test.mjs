// Browser test of the Dossier web page.
//
//   node tests/browser/page_test.mjs --dossier PATH_TO_DOSSIER [--shots DIR] [--chromium PATH]
//
// Makes a repository in a temporary folder, serves it on a free loopback
// port (with the page from web/ beside this folder), sets up users, a role,
// a case and a document through the API, then drives the page in headless
// Chromium as a person would. Any console error, page error, dialog or
// unexpected failing HTTP answer fails the step during which it happened.
// Prints PASS/FAIL per step and a closing "N passed, N failed" line; exits 0
// only when every step passed. The server and the temporary folder are
// always removed.

import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WEB_DIR = path.resolve(HERE, '..', '..', 'web');

const SCENARIO_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 15_000;
const VIEWPORT = { width: 1366, height: 768 };
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const PASSWORDS = { alice: 'alice-pass-2024', ivan: 'ivan-pass-2024' };
const CASE_TITLE = 'Harbour lantern inquiry';
const FIRST_FILE = { name: 'harbour-memo.txt', text: 'Memo. The quartermaster signed for the zephyr lantern consignment at pier four.\n' };
const SECOND_FILE = { name: 'second-note.txt', text: 'Follow-up: the quokka semaphore was logged by the night clerk.\n' };
// Bytes no extractor reads: the document gets no text.
const BINARY_FILE = { name: 'scan.bin', bytes: Buffer.concat([...Array(48).keys()].map((i) => createHash('sha256').update(`block ${i}`).digest())) };
const HOSTILE_NAME = '<img src=x onerror=alert(1)>.html';
const HOSTILE_TEXT = '<script>alert(2)</script><b>bold</b> hostile marker';

// ---------------------------------------------------------------------------
// Command line.

function parseArgs(argv) {
  const out = { dossier: '', shots: '', chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i += 1) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key === '--dossier' || key === '--shots' || key === '--chromium') {
      if (value === undefined) usage(`${key} needs a value`);
      out[key.slice(2)] = value;
      i += 1;
    } else if (key === '--help' || key === '-h') {
      usage();
    } else {
      usage(`unknown argument ${key}`);
    }
  }
  if (!out.dossier) usage('--dossier is required');
  out.dossier = path.resolve(out.dossier);
  if (out.shots) out.shots = path.resolve(out.shots);
  return out;
}

function usage(problem) {
  if (problem) console.error(`page_test: ${problem}`);
  console.error('usage: node tests/browser/page_test.mjs --dossier PATH_TO_DOSSIER [--shots DIR] [--chromium PATH]');
  process.exit(problem ? 2 : 0);
}

// ---------------------------------------------------------------------------
// Results.

const results = []; // {scenario, step, ok, ms, detail}

function report(scenario, step, ok, ms, detail = '') {
  results.push({ scenario, step, ok, ms, detail });
  const line = `${ok ? 'PASS' : 'FAIL'}  ${scenario} > ${step} (${ms} ms)`;
  console.log(detail ? `${line}\n      ${detail.replace(/\n/g, '\n      ')}` : line);
}

class TestFailure extends Error {}

function check(condition, message) {
  if (!condition) throw new TestFailure(message);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TestFailure(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------
// The server.

const cleanups = [];
let cleaned = false;

async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup: ${err.message}`);
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.log(`FAIL  interrupted by ${signal}`);
    cleanup().finally(() => process.exit(1));
  });
}

const serverEnv = { ...process.env, DOSSIER_PASSWORD_COST: 'interactive' };

async function initRepository(dossier, dir) {
  const repo = path.join(dir, 'repo');
  const pwFile = path.join(dir, 'alice.password');
  fs.writeFileSync(pwFile, `${PASSWORDS.alice}\n`, { mode: 0o600 });
  await promisify(execFile)(dossier, ['init', repo, '--admin', 'alice', '--no-protect', '--password-file', pwFile],
    { env: serverEnv, timeout: 30_000 });
  return repo;
}

/** Starts `dossier serve` on a free port; resolves with {base, logTail}. */
function startServer(dossier, repo) {
  const child = spawn(dossier, ['serve', repo, '--listen', '127.0.0.1:0', '--web', WEB_DIR],
    { env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  let exited = false;
  child.on('exit', () => { exited = true; });
  cleanups.push(() => new Promise((resolve) => {
    if (exited) {
      resolve();
      return;
    }
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  }));
  let stderrRest = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const lines = (stderrRest + chunk).split('\n');
    stderrRest = lines.pop();
    log.push(...lines);
    if (log.length > 400) log.splice(0, log.length - 400);
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`the server printed no address within 20 s: ${stdout}`)), 20_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = stdout.match(/ at (http:\/\/127\.0\.0\.1:\d+)\//);
      if (match) {
        clearTimeout(timer);
        resolve({ base: match[1], logTail: (n = 20) => log.slice(-n).join('\n') });
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (code ${code}, signal ${signal}) before serving:\n${log.join('\n')}`));
    });
  });
}

// ---------------------------------------------------------------------------
// The API, for setting up.

function makeApi(base) {
  async function call(method, route, { token, json, body, expect = 200 } = {}) {
    const headers = {};
    let payload;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(json);
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/octet-stream';
      payload = body;
    }
    const response = await fetch(`${base}${route}`, { method, headers, body: payload });
    const text = await response.text();
    if (response.status !== expect) {
      throw new TestFailure(`${method} ${route} answered ${response.status} (expected ${expect}): ${text.slice(0, 400)}`);
    }
    const type = response.headers.get('content-type') || '';
    return type.includes('json') && text ? JSON.parse(text) : text;
  }

  async function login(user) {
    const answer = await call('POST', '/api/v1/auth/login', { json: { user, password: PASSWORDS[user] } });
    check(typeof answer.token === 'string' && answer.token, `login of ${user} gave no token`);
    return answer.token;
  }

  /** Uploads one file and waits for its ingest job; resolves with the job. */
  async function upload(token, caseId, name, content) {
    const query = new URLSearchParams({ filename: name, path: name });
    const { job_id: jobId } = await call('POST', `/api/v1/cases/${encodeURIComponent(caseId)}/documents?${query}`,
      { token, body: Buffer.from(content), expect: 202 });
    check(jobId, 'the upload answered no job_id');
    return waitJob(token, jobId);
  }

  async function waitJob(token, jobId) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const job = await call('GET', `/api/v1/jobs/${encodeURIComponent(jobId)}`, { token });
      if (['done', 'failed', 'cancelled'].includes(job.state)) {
        check(job.state === 'done', `job ${jobId} ended ${job.state}: ${job.error || ''}`);
        return job;
      }
      check(Date.now() < deadline, `job ${jobId} did not finish within 20 s (state ${job.state})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  return { call, login, upload };
}

// ---------------------------------------------------------------------------
// A watched page: every problem the browser reports is recorded, and each
// step ends by checking that nothing unexpected was.

async function watchedPage(browser, base) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const problems = [];
  const requests = []; // "METHOD /path?query" of every API request
  const allowed = []; // {method, pathname, status, response, console}: failures a step expects

  const pathOf = (u) => {
    try {
      const parsed = new URL(u);
      return parsed.origin === base ? parsed.pathname : u;
    } catch {
      return u;
    }
  };

  page.on('dialog', (dialog) => {
    problems.push(`a dialog opened (${dialog.type()}): ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location() && msg.location().url ? pathOf(msg.location().url) : '';
    // A refused request that the step expected is logged by Chromium too.
    const failed = msg.text().match(/^Failed to load resource: the server responded with a status of (\d+)/);
    if (failed) {
      const hit = allowed.find((a) => !a.console && a.pathname === where && a.status === Number(failed[1]));
      if (hit) {
        hit.console = true;
        return;
      }
    }
    problems.push(`console error: ${msg.text()}${where ? ` (at ${where})` : ''}`);
  });
  page.on('request', (request) => {
    const u = new URL(request.url());
    if (u.pathname.startsWith('/api/')) requests.push(`${request.method()} ${u.pathname}${u.search}`);
  });
  page.on('response', async (response) => {
    if (response.status() < 400) return;
    const request = response.request();
    const where = pathOf(response.url());
    const hit = allowed.find((a) => !a.response && a.method === request.method() && a.pathname === where && a.status === response.status());
    if (hit) {
      hit.response = true;
      return;
    }
    const index = problems.push(`HTTP ${response.status()} for ${request.method()} ${where}`) - 1;
    try {
      const body = await response.text();
      problems[index] += `: ${body.slice(0, 300)}`;
    } catch {
      // The body may be gone once the page moved on.
    }
  });
  page.on('requestfailed', (request) => {
    const failure = request.failure();
    // Requests cancelled by the page itself (leaving a view) are not errors.
    if (failure && /ERR_ABORTED/.test(failure.errorText)) return;
    problems.push(`request failed: ${request.method()} ${pathOf(request.url())}: ${failure ? failure.errorText : '?'}`);
  });

  return {
    page,
    context,
    requests,
    /** The next failing answer of this kind (and the console line Chromium writes for it) is expected. */
    allow(method, pathname, status) {
      allowed.push({ method, pathname, status, response: false, console: false });
    },
    /** Throws if anything went wrong since the last call, or an expected failure did not happen. */
    async assertClean() {
      await page.waitForTimeout(100); // events still on their way
      const list = problems.splice(0);
      const missing = allowed.filter((a) => !a.response);
      allowed.length = 0;
      for (const a of missing) list.push(`expected HTTP ${a.status} for ${a.method} ${a.pathname} did not happen`);
      if (list.length) throw new TestFailure(list.join('\n'));
    },
  };
}

// ---------------------------------------------------------------------------
// Scenarios.

let shotsDir = '';

async function shot(page, name) {
  if (!shotsDir) return;
  await page.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });
}

/**
 * Runs the steps of one scenario; the first failure skips the rest. `body`
 * gets step(name, fn, watched) and open(): a new watched page whose browser
 * context is closed when the scenario ends (which also stops a scenario
 * that ran out of time).
 */
async function scenario(name, browser, base, body) {
  let current = '(start)';
  let started = Date.now();
  let failed = false;
  const contexts = [];
  const open = async () => {
    const w = await watchedPage(browser, base);
    contexts.push(w.context);
    return w;
  };
  const step = async (stepName, fn, watched) => {
    if (failed) return;
    current = stepName;
    started = Date.now();
    try {
      await fn();
      if (watched) await watched.assertClean();
      if (!failed) report(name, stepName, true, Date.now() - started);
    } catch (err) {
      // A step cut short by the scenario's time limit was reported with it.
      if (!failed) {
        report(name, stepName, false, Date.now() - started, err instanceof TestFailure ? err.message : (err.stack || String(err)));
      }
      failed = true;
      throw err;
    }
  };
  try {
    await withTimeout(body(step, open), SCENARIO_TIMEOUT_MS, `scenario "${name}"`);
  } catch (err) {
    if (!failed) report(name, current, false, Date.now() - started, err.message || String(err));
    failed = true;
  } finally {
    for (const context of contexts) await context.close().catch(() => {});
  }
}

async function signIn(w, base, user, password) {
  const { page } = w;
  await page.goto(`${base}/`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#topbar:not([hidden])').waitFor();
  await page.locator('#user-name', { hasText: user }).waitFor();
}

async function searchFor(page, query) {
  const box = page.getByLabel('Query');
  await box.fill(query);
  await box.press('Enter');
  await page.locator('.result-count', { hasText: /\d+ results?$/ }).waitFor();
}

/** The text of every element matching `selector`. */
const texts = (page, selector) => page.locator(selector).allTextContents();

async function uploadThroughPage(page, file) {
  await page.getByLabel('Files', { exact: true }).setInputFiles({
    name: file.name, mimeType: file.mime || 'text/plain', buffer: Buffer.from(file.text),
  });
  await page.locator('.upload-status', { hasText: /^Done: 1 file sent\.$/ }).waitFor({ timeout: 20_000 });
  const status = await page.locator('.job').first().locator('.job-status').textContent();
  check(status === 'Finished', `the upload's job shows "${status}", not "Finished"`);
  const title = await page.locator('.job').first().locator('.job-title').textContent();
  check(title === file.name, `the job card is titled ${JSON.stringify(title)}, not ${JSON.stringify(file.name)}`);
  const names = await texts(page, '.view table.data td:first-child a');
  check(names.includes(file.name), `the document table lacks ${file.name}: ${JSON.stringify(names)}`);
}

async function searchAndUpload(browser, base, fixture) {
  await scenario('search and upload (ivan)', browser, base, async (step, open) => {
    const w = await open();
    const { page } = w;

    await step('the login form shows, asked through /auth/session', async () => {
      await page.goto(`${base}/`);
      await page.getByRole('heading', { name: 'Sign in to Dossier' }).waitFor();
      check(w.requests.includes('GET /api/v1/auth/session'), `no GET /api/v1/auth/session on load: ${w.requests.join(', ')}`);
      check(!w.requests.some((r) => r.startsWith('GET /api/v1/me')), `the page asked /api/v1/me: ${w.requests.join(', ')}`);
      await shot(page, '01-login');
    }, w);

    await step('a wrong password shows an error message', async () => {
      w.allow('POST', '/api/v1/auth/login', 401);
      await page.getByLabel('User name').fill('ivan');
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const message = await alert.textContent();
      check(/Unknown user or wrong password/.test(message), `the error says ${JSON.stringify(message)}`);
      check(await page.locator('#topbar').isHidden(), 'the top bar shows after a failed login');
      await shot(page, '02-login-error');
    }, w);

    await step('the right password signs in', async () => {
      await page.getByLabel('Password').fill(PASSWORDS.ivan);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#user-name', { hasText: 'ivan' }).waitFor();
      await page.getByRole('heading', { name: 'Search' }).waitFor();
      check(new URL(page.url()).hash === '#/search', `after login the page is ${page.url()}`);
      check(await page.locator('#nav-admin').isHidden(), 'a member sees the Admin link');
    }, w);

    await step('searching the phrase shows the hit with a marked snippet', async () => {
      await searchFor(page, '"zephyr lantern"');
      const count = await page.locator('.result-count').textContent();
      check(count === '1 result', `the count says ${JSON.stringify(count)}`);
      const titles = await texts(page, '.hits .hit-title');
      check(titles.length === 1 && titles[0] === FIRST_FILE.name, `hits: ${JSON.stringify(titles)}`);
      const marks = (await texts(page, '.hits .snippet mark')).map((m) => m.toLowerCase());
      check(marks.length > 0 && marks.join(' ').includes('zephyr'), `snippet marks: ${JSON.stringify(marks)}`);
      const snippet = await page.locator('.hits .snippet').first().textContent();
      check(snippet.includes('zephyr lantern consignment'), `snippet: ${JSON.stringify(snippet)}`);
      const caseLink = await page.locator('.hits .hit-meta a').first().textContent();
      check(caseLink === CASE_TITLE, `the hit names the case ${JSON.stringify(caseLink)}`);
      await shot(page, '03-search-results');
    }, w);

    await step('an empty query shows a hint and sends no request', async () => {
      const before = w.requests.length;
      const box = page.getByLabel('Query');
      await box.fill('');
      await box.press('Enter');
      const hint = page.locator('.banner-info');
      await hint.waitFor();
      check(/Type a word/.test(await hint.textContent()), `the hint says ${JSON.stringify(await hint.textContent())}`);
      const sent = w.requests.slice(before).filter((r) => r.startsWith('GET /api/v1/search'));
      check(!sent.length, `an empty query was sent: ${sent.join(', ')}`);
      check(await page.locator('.hits .hit').count() === 0, 'old hits stay under the hint');
    }, w);

    await step('"/" focuses the query box, then ArrowDown and Enter open a hit', async () => {
      await page.getByRole('heading', { name: 'Search' }).click(); // focus leaves the query box
      await page.keyboard.press('/');
      const focused = await page.evaluate(() => document.activeElement && document.activeElement.name);
      check(focused === 'q', `"/" focused ${JSON.stringify(focused)}, not the query box`);
      await page.keyboard.type('lantern');
      await page.keyboard.press('Enter');
      await page.locator('.hits .hit').first().waitFor();
      check(new URL(page.url()).hash.includes('q=lantern'), `the search is not in the address: ${page.url()}`);
      await page.keyboard.press('ArrowDown');
      const selected = page.locator('.hits .hit.selected');
      await selected.waitFor();
      check(await selected.count() === 1, 'no single selected hit after ArrowDown');
      await page.keyboard.press('Enter');
      await page.waitForURL(/#\/doc\//);
    }, w);

    await step('the document page shows the sha256 and the text', async () => {
      await page.getByRole('heading', { name: FIRST_FILE.name }).waitFor();
      const sha = createHash('sha256').update(FIRST_FILE.text).digest('hex');
      check(sha === fixture.sha256, `the server's sha256 ${fixture.sha256} differs from ${sha}`);
      const row = page.locator('table.properties tr', { has: page.locator('th', { hasText: 'SHA-256' }) });
      const shown = (await row.locator('td').textContent()).trim();
      check(shown === sha, `SHA-256 shows ${JSON.stringify(shown)}`);
      const text = page.locator('pre.doc-text');
      await text.filter({ hasText: 'zephyr lantern consignment' }).waitFor();
      const download = await page.getByRole('link', { name: 'Download original' }).getAttribute('href');
      check(download === `/api/v1/documents/${fixture.documentId}/content`, `the download link is ${download}`);
      await shot(page, '04-document');
    }, w);

    await step('a document without text is shown without asking for its text', async () => {
      const before = w.requests.length;
      await page.goto(`${base}/#/doc/${encodeURIComponent(fixture.binaryId)}`);
      await page.getByRole('heading', { name: BINARY_FILE.name }).waitFor();
      const text = page.locator('pre.doc-text');
      await text.filter({ hasText: /^No text/ }).waitFor();
      const asked = w.requests.slice(before).filter((r) => r.endsWith('/text'));
      check(!asked.length, `the page asked for text that is not there: ${asked.join(', ')}`);
    }, w);

    await step('the cases page lists the case', async () => {
      await page.getByRole('link', { name: 'Cases', exact: true }).click();
      await page.getByRole('heading', { name: 'Cases' }).waitFor();
      await page.locator('table.data a', { hasText: CASE_TITLE }).waitFor();
      await shot(page, '05-cases');
      await page.locator('table.data a', { hasText: CASE_TITLE }).click();
      await page.getByRole('heading', { name: CASE_TITLE }).waitFor();
      const names = await texts(page, '.view table.data td:first-child a');
      check(names.includes(FIRST_FILE.name), `the case's documents: ${JSON.stringify(names)}`);
    }, w);

    await step('a file chosen in the file input is uploaded and ingested', async () => {
      await uploadThroughPage(page, SECOND_FILE);
      await shot(page, '06-case-upload-finished');
    }, w);

    await step("searching the new file's phrase finds it", async () => {
      await page.getByRole('link', { name: 'Search', exact: true }).click();
      await page.getByRole('heading', { name: 'Search' }).waitFor();
      await searchFor(page, 'quokka semaphore');
      const titles = await texts(page, '.hits .hit-title');
      check(titles.includes(SECOND_FILE.name), `hits: ${JSON.stringify(titles)}`);
    }, w);

    await step('logging out shows the login form, also after a reload', async () => {
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('heading', { name: 'Sign in to Dossier' }).waitFor();
      const status = await page.locator('.banner-success').textContent();
      check(status === 'You are signed out.', `after logout the page says ${JSON.stringify(status)}`);
      check(await page.locator('#topbar').isHidden(), 'the top bar still shows');
      await page.reload();
      await page.getByRole('heading', { name: 'Sign in to Dossier' }).waitFor();
    }, w);
  });
}

async function hostileFile(browser, base, fixture) {
  await scenario('hostile file name and content (ivan)', browser, base, async (step, open) => {
    const w = await open();
    const { page } = w;
    const noMarkupFromData = async (where) => {
      const found = await page.evaluate(() => document.querySelectorAll('main img, main script, main b, main iframe').length);
      check(found === 0, `${where}: ${found} element(s) made from document data`);
    };

    await step('sign in and open the case', async () => {
      await signIn(w, base, 'ivan', PASSWORDS.ivan);
      await page.goto(`${base}/#/case/${encodeURIComponent(fixture.caseId)}`);
      await page.getByRole('heading', { name: CASE_TITLE }).waitFor();
    }, w);

    await step('upload a file named like markup', async () => {
      await uploadThroughPage(page, { name: HOSTILE_NAME, mime: 'text/html', text: HOSTILE_TEXT });
      await noMarkupFromData('case page');
      await page.getByText(HOSTILE_NAME, { exact: true }).first().waitFor();
    }, w);

    await step('search "hostile" shows the name as text', async () => {
      await page.getByRole('link', { name: 'Search', exact: true }).click();
      await searchFor(page, 'hostile');
      const titles = await texts(page, '.hits .hit-title');
      check(titles.length === 1 && titles[0] === HOSTILE_NAME, `hits: ${JSON.stringify(titles)}`);
      const marks = (await texts(page, '.hits .snippet mark')).map((m) => m.toLowerCase());
      check(marks.includes('hostile'), `snippet marks: ${JSON.stringify(marks)}`);
      await noMarkupFromData('search results');
      await shot(page, '07-hostile-search');
    }, w);

    await step('open it: no dialog, no element from its data', async () => {
      await page.locator('.hits .hit-title').first().click();
      await page.waitForURL(/#\/doc\//);
      const title = page.locator('main h1');
      await title.filter({ hasText: HOSTILE_NAME }).waitFor();
      check(await title.textContent() === HOSTILE_NAME, `the heading is ${JSON.stringify(await title.textContent())}`);
      await page.locator('pre.doc-text', { hasText: 'hostile marker' }).waitFor();
      await noMarkupFromData('document page');
      await page.waitForTimeout(300); // give a stray handler time to fire
      await shot(page, '08-hostile-document');
    }, w);
  });
}

async function administration(browser, base, fixture) {
  await scenario('administration and account (alice)', browser, base, async (step, open) => {
    const w = await open();
    const { page } = w;

    await step('sign in as the administrator', async () => {
      await signIn(w, base, 'alice', PASSWORDS.alice);
      check(await page.locator('#nav-admin').isVisible(), 'an administrator sees no Admin link');
    }, w);

    await step('the admin page lists users and roles', async () => {
      await page.getByRole('link', { name: 'Admin', exact: true }).click();
      await page.getByRole('heading', { name: 'Administration' }).waitFor();
      const users = page.locator('section', { has: page.getByRole('heading', { name: 'Users' }) });
      await users.locator('td', { hasText: /^ivan$/ }).waitFor();
      const roles = page.locator('section', { has: page.getByRole('heading', { name: 'Roles', exact: true }) });
      await roles.locator('td', { hasText: /^investigator$/ }).waitFor();
      await shot(page, '09-admin');
    }, w);

    await step('the account page shows', async () => {
      await page.getByRole('link', { name: 'Account', exact: true }).click();
      await page.getByRole('heading', { name: 'Account' }).waitFor();
      await page.getByRole('heading', { name: 'Change password' }).waitFor();
      await page.getByRole('button', { name: 'Set up two-factor authentication' }).waitFor();
      await shot(page, '10-account');
    }, w);

    await step('starting TOTP enrolment draws the QR code and the secret', async () => {
      await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
      const canvas = page.locator('canvas.qr');
      await canvas.waitFor();
      const dark = await canvas.evaluate((c) => {
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] < 128) n += 1;
        return { n, total: data.length / 4, width: c.width };
      });
      check(dark.width > 80 && dark.n > dark.total * 0.2 && dark.n < dark.total * 0.8,
        `the QR canvas looks wrong: ${JSON.stringify(dark)}`);
      const secret = (await page.locator('code.secret').textContent()).trim();
      check(/^[A-Z2-7]{16,}=*$/.test(secret), `the secret shown is ${JSON.stringify(secret)}`);
      await page.getByLabel('Code from the app').waitFor();
      const focused = await page.evaluate(() => document.activeElement && document.activeElement.autocomplete);
      check(focused === 'one-time-code', 'the code field does not have the focus');
      await shot(page, '11-account-totp');
    }, w);

    await step('an administrator sees the access panel of a case', async () => {
      await page.goto(`${base}/#/case/${encodeURIComponent(fixture.caseId)}`);
      await page.getByRole('heading', { name: CASE_TITLE }).waitFor();
      const access = page.locator('section', { has: page.getByRole('heading', { name: 'Access' }) });
      await access.locator('.grant-list .role', { hasText: 'investigator' }).waitFor();
      await access.getByRole('button', { name: 'Revoke investigator' }).waitFor();
      const text = await page.locator('main').textContent();
      check(!/\bnull\b|undefined/.test(text), 'the case page shows "null" or "undefined"');
      await shot(page, '12-case-admin');
    }, w);
  });
}

// ---------------------------------------------------------------------------
// Main.

async function main() {
  const args = parseArgs(process.argv.slice(2));
  check(fs.existsSync(args.dossier), `no dossier binary at ${args.dossier}`);
  check(fs.existsSync(path.join(WEB_DIR, 'index.html')), `no web page at ${WEB_DIR}`);
  if (args.shots) {
    fs.mkdirSync(args.shots, { recursive: true });
    shotsDir = args.shots;
  }
  const started = Date.now();

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dossier-browser-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));

  let server;
  let fixture;
  const setupStart = Date.now();
  try {
    const repo = await initRepository(args.dossier, dir);
    server = await startServer(args.dossier, repo);
    const api = makeApi(server.base);
    const alice = await api.login('alice');
    await api.call('POST', '/api/v1/roles', { token: alice, json: { name: 'investigator' }, expect: 201 });
    await api.call('POST', '/api/v1/users',
      { token: alice, json: { user: 'ivan', password: PASSWORDS.ivan, roles: ['investigator'] }, expect: 201 });
    const created = await api.call('POST', '/api/v1/cases', {
      token: alice,
      json: { title: CASE_TITLE, description: 'Shipments signed for at pier four.', roles: ['investigator'] },
      expect: 201,
    });
    const ivan = await api.login('ivan');
    const job = await api.upload(ivan, created.id, FIRST_FILE.name, FIRST_FILE.text);
    const doc = job.summary && job.summary.documents && job.summary.documents[0];
    check(doc && doc.status === 'indexed', `the first file was not indexed: ${JSON.stringify(job.summary)}`);
    const binaryJob = await api.upload(ivan, created.id, BINARY_FILE.name, BINARY_FILE.bytes);
    const binary = binaryJob.summary && binaryJob.summary.documents && binaryJob.summary.documents[0];
    check(binary && binary.id, `the binary file made no document: ${JSON.stringify(binaryJob.summary)}`);
    fixture = { caseId: created.id, documentId: doc.id, sha256: doc.sha256, binaryId: binary.id };
    report('setup', 'repository, server, users, case and first document', true, Date.now() - setupStart);
  } catch (err) {
    report('setup', 'repository, server, users, case and first document', false, Date.now() - setupStart,
      `${err.message}${server ? `\nserver log:\n${server.logTail()}` : ''}`);
    return false;
  }

  const browser = await chromium.launch({ executablePath: args.chromium, headless: true, args: CHROMIUM_ARGS });
  cleanups.push(() => browser.close());

  await searchAndUpload(browser, server.base, fixture);
  await hostileFile(browser, server.base, fixture);
  await administration(browser, server.base, fixture);

  const failed = results.filter((r) => !r.ok);
  if (failed.length) console.log(`\nserver log (last lines):\n${server.logTail(15)}`);
  console.log(`\nbrowser test: ${((Date.now() - started) / 1000).toFixed(1)} s${shotsDir ? `, screenshots in ${shotsDir}` : ''}`);
  return !failed.length;
}

let ok = false;
try {
  ok = await main();
} catch (err) {
  report('run', 'unexpected error', false, 0, err.stack || String(err));
} finally {
  await cleanup();
}
const passed = results.filter((r) => r.ok).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(ok && results.every((r) => r.ok) ? 0 : 1);
