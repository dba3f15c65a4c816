// Browser test of the Dossier web page.
//
//   node tests/browser/page_test.mjs --dossier PATH_TO_DOSSIER [--shots DIR] [--chromium PATH]
//
// Makes a repository in a temporary folder, serves it on a free loopback
// port (with the page from web/ beside this folder), sets up users, a role,
// a case and documents (an email with an attachment among them, so that
// there is a family) through the API, then drives the page in headless
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
// An email and its attachment: one family, both "quayside", only the
// attachment "gantry". The custodian's name has a space, so its filter is quoted.
const CUSTODIAN = 'Jane Doe';
const EMAIL = { name: 'crane-invoice.eml', attachment: 'gantry-invoice.txt', date: '2024-03-05' };
const FOLLOW_UP = { name: 'quayside-follow-up.txt', text: 'Follow-up: the quayside crane repairs are booked.\n' };
const SAVED_NAME = 'Crane invoices';

function craneEmail() {
  const attachment = 'Invoice 7731: gantry repairs on the quayside crane, payable within thirty days.\n';
  return [
    'From: Rui Falcao <rui@corvo.example>',
    'To: Ana Lima <ana@mares.example>',
    'Subject: Quayside crane invoice',
    'Date: Tue, 05 Mar 2024 09:30:00 +0000',
    'Message-ID: <crane-7731@corvo.example>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="B"',
    '',
    '--B',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Please settle the attached invoice for the quayside crane.',
    '--B',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Disposition: attachment; filename="${EMAIL.attachment}"`,
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(attachment).toString('base64'),
    '--B--',
    '',
  ].join('\r\n');
}

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
  const child = spawn(dossier, ['serve', repo, '--listen', '127.0.0.1:0', '--web', WEB_DIR, '--remind-every', '1'],
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
  async function upload(token, caseId, name, content, { custodian } = {}) {
    const query = new URLSearchParams({ filename: name, path: name });
    if (custodian) query.set('custodian', custodian);
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

const LINKED_TITLE = '<img src=x onerror=alert(3)> Quay audit';
const HIDDEN_TITLE = 'Sealed counsel file';
const SHARED_IBAN = 'GB82WEST12345698765432';

async function caseLinks(browser, base, fixture) {
  await scenario('case links (ivan)', browser, base, async (step, open) => {
    const w = await open();
    const { page } = w;
    await step('set up: a case sharing an email, a restricted case sharing an IBAN', async () => {
      const { api } = fixture;
      const alice = await api.login('alice');
      await api.call('POST', '/api/v1/roles', { token: alice, json: { name: 'legal', join: true }, expect: 201 });
      const alice2 = await api.login('alice');
      const quay = await api.call('POST', '/api/v1/cases',
        { token: alice2, json: { title: LINKED_TITLE, roles: ['investigator'] }, expect: 201 });
      const sealed = await api.call('POST', '/api/v1/cases',
        { token: alice2, json: { title: HIDDEN_TITLE, roles: ['legal'] }, expect: 201 });
      await api.upload(fixture.ivanToken, quay.id, 'refund-note.txt',
        'Ask rui@corvo.example about the refund before Friday.\n');
      await api.upload(fixture.ivanToken, fixture.caseId, 'wire.txt', `Wire the balance to ${SHARED_IBAN}.\n`);
      await api.upload(alice2, sealed.id, 'settlement.txt', `Settlement paid into ${SHARED_IBAN}.\n`);
      fixture.linkedId = quay.id;
      await signIn(w, base, 'ivan', PASSWORDS.ivan);
    }, w);

    await step('the case page lists the linked case, the shared entity, its documents and a notice', async () => {
      await page.goto(`${base}/#/case/${encodeURIComponent(fixture.caseId)}`);
      const links = page.locator('section.links');
      await links.locator('.link-list .link').first().waitFor();
      const title = await links.locator('.link-head a').first().textContent();
      check(title === LINKED_TITLE, `the linked case shows as ${JSON.stringify(title)}`);
      check(await links.locator('img').count() === 0, 'a case title became an element');
      const shared = await texts(page, 'section.links .shared-entities li');
      check(shared.some((t) => t.includes('rui@corvo.example')), `the shared email is missing: ${JSON.stringify(shared)}`);
      const evidence = await texts(page, 'section.links .evidence a');
      check(evidence.includes('refund-note.txt') && evidence.includes(EMAIL.name),
        `the evidence on both sides is missing: ${JSON.stringify(evidence)}`);
      const notice = await links.locator('.notice-outgoing').textContent();
      check(notice === 'A restricted case shares 1 entity of type iban. Contact legal.', `the notice reads ${JSON.stringify(notice)}`);
      const text = await page.locator('main').textContent();
      check(!text.includes(HIDDEN_TITLE) && !text.includes('settlement.txt'), 'the restricted case shows through');
      const bad = text.match(/.{0,40}(null|undefined|NaN).{0,40}/);
      check(!bad, `the links show "null", "undefined" or "NaN": ${bad && bad[0]}`);
      await shot(page, '20-case-links');
    }, w);

    await step('confirming without a reason asks for one; with one it is kept with the name', async () => {
      const item = page.locator('section.links .link').first();
      await item.getByRole('button', { name: 'Confirm' }).click();
      await page.locator('section.links .banner', { hasText: 'Say why' }).waitFor();
      await item.getByLabel('Why').fill('the same supplier contact');
      await item.getByRole('button', { name: 'Confirm' }).click();
      await page.locator('section.links .badge.state-confirmed').waitFor();
      const decision = await page.locator('section.links .decision').first().textContent();
      check(decision.startsWith('ivan, ') && decision.endsWith(': the same supplier contact'), `the decision reads ${JSON.stringify(decision)}`);
      await shot(page, '21-case-link-confirmed');
    }, w);

    await step('the graph draws both cases and the entities between them', async () => {
      await page.getByRole('link', { name: 'Show the graph of linked cases' }).click();
      await page.locator('#graph canvas').first().waitFor();
      await page.waitForFunction(() => Number(document.getElementById('graph')?.dataset.nodes) >= 3);
      const rows = await texts(page, '.graph-list table.data td');
      check(rows.some((t) => t === LINKED_TITLE) && rows.some((t) => t.includes('rui@corvo.example')),
        `the graph's list lacks the linked case or the email: ${JSON.stringify(rows)}`);
      const text = await page.locator('main').textContent();
      check(!text.includes(HIDDEN_TITLE), 'the restricted case shows in the graph');
      check(!/null|undefined|NaN/.test(text), 'the graph page shows "null", "undefined" or "NaN"');
      await shot(page, '22-graph');
    }, w);
  });
}

async function auditTrail(browser, base, fixture) {
  await scenario('audit trail (alice, then ivan)', browser, base, async (step, open) => {
    const w = await open();
    const { page } = w;

    await step('the audit page lists what everyone did, in order', async () => {
      await signIn(w, base, 'alice', PASSWORDS.alice);
      await page.getByRole('link', { name: 'Audit', exact: true }).click();
      await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
      await page.locator('table.data td', { hasText: /^ivan$/ }).first().waitFor();
      const actions = await texts(page, 'table.data td .badge');
      for (const a of ['login', 'searched', 'links_read', 'document_added']) {
        check(actions.includes(a), `the trail lacks ${a}: ${JSON.stringify(actions.slice(0, 40))}`);
      }
      const text = await page.locator('main').textContent();
      check(!text.includes('Quay audit') && !/null|undefined|NaN/.test(text), 'the audit page shows a title or "null"');
      await shot(page, '23-audit');
    }, w);

    await step('verifying the trail says it holds', async () => {
      await page.getByRole('button', { name: 'Verify the trail' }).click();
      await page.locator('.audit-verdict.verdict-ok', { hasText: /^The trail holds: \d+ events chained/ }).waitFor();
      await shot(page, '24-audit-verified');
    }, w);

    await step('a filter by action shows only that action', async () => {
      await page.getByLabel('Action').selectOption('searched');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForFunction(() => location.hash.includes('action=searched'));
      // The filtered view replaces the old one: wait for its table, not the old one's.
      await page.waitForFunction(() => {
        const badges = [...document.querySelectorAll('table.data td .badge')].map((b) => b.textContent);
        return badges.length > 0 && badges.every((a) => a === 'searched');
      });
      const actions = await texts(page, 'table.data td .badge');
      check(actions.length > 0 && actions.every((a) => a === 'searched'), `filtered actions: ${JSON.stringify(actions)}`);
    }, w);

    await step("a document's page links its chain of custody, which lists its intake and every view", async () => {
      await page.goto(`${base}/#/doc/${encodeURIComponent(fixture.documentId)}`);
      const custody = page.getByRole('link', { name: 'Chain of custody (CSV)' });
      const href = await custody.getAttribute('href');
      check(href === `/api/v1/documents/${fixture.documentId}/custody?format=csv`, `the custody link is ${href}`);
      const csv = await (await page.request.get(`${base}${href}`)).text();
      check(csv.includes(`sha256,"${fixture.sha256}"`) && csv.includes('"ivan","document_read"'),
        `the custody report: ${csv.slice(0, 400)}`);
    }, w);

    const v = await open();
    await step('a user without the auditor role sees no Audit link, and the page refuses', async () => {
      await signIn(v, base, 'ivan', PASSWORDS.ivan);
      check(!(await v.page.locator('#nav-audit').isVisible()), 'ivan sees the Audit link');
      v.allow('GET', '/api/v1/audit', 403);
      await v.page.goto(`${base}/#/audit`);
      await v.page.locator('.banner', { hasText: /admins and the auditor role/ }).waitFor();
    }, v);
  });
}

const TASK_TITLE = '<img src=x onerror=alert(4)> call the harbour bank';
const NOTE_TEXT = '<b>Spoke</b> to the pier four clerk';
const REASON = '<i>ledgers</i> came in';

async function caseManagement(browser, base, fixture) {
  await scenario('case management (ivan)', browser, base, async (step, open) => {
    const w = await open();
    const { page } = w;
    const caseUrl = `${base}/#/case/${encodeURIComponent(fixture.caseId)}`;

    await step('the case page moves the stage and records who, when and why', async () => {
      await signIn(w, base, 'ivan', PASSWORDS.ivan);
      await page.goto(caseUrl);
      const panel = page.locator('#workflow');
      await panel.getByLabel('Stage').selectOption('planning');
      await panel.getByLabel('Assignees').fill('ivan');
      await panel.getByLabel('Reason').fill(REASON);
      await panel.getByRole('button', { name: 'Save changes' }).click();
      await panel.locator('.banner-success', { hasText: 'Saved.' }).waitFor();
      await panel.locator('table.data td', { hasText: REASON }).first().waitFor();
      const cells = await texts(page, '#workflow table.data td');
      check(cells.includes('planning') && cells.includes('screening') && cells.includes('ivan'), `history: ${JSON.stringify(cells)}`);
      check(await panel.locator('table.data i').count() === 0, 'the reason was rendered as markup');
      await page.locator('dd', { hasText: /^planning$/ }).waitFor();
    }, w);

    await step('a task with a hostile title is added as text, overdue', async () => {
      const panel = page.locator('#tasks');
      await panel.getByLabel('New task').fill(TASK_TITLE);
      await panel.getByLabel('Due').fill('2020-01-31');
      await panel.getByLabel('Assignee').fill('ivan');
      await panel.getByRole('button', { name: 'Add task' }).click();
      await panel.locator('td', { hasText: TASK_TITLE }).waitFor();
      await panel.locator('.deadline-overdue').waitFor();
      check(await panel.locator('img').count() === 0, 'the task title was rendered as markup');
    }, w);

    await step('a note is added and shown as text', async () => {
      const panel = page.locator('#notes');
      await panel.getByLabel('New note').fill(NOTE_TEXT);
      await panel.getByRole('button', { name: 'Add note' }).click();
      await panel.locator('.note-text', { hasText: NOTE_TEXT }).waitFor();
      check(await panel.locator('.notes b').count() === 0, 'the note was rendered as markup');
      await shot(page, '25-case-workflow');
    }, w);

    await step('the board shows the case in its stage column', async () => {
      await page.getByRole('link', { name: 'Board', exact: true }).click();
      const column = page.getByRole('region', { name: 'planning' });
      await column.getByRole('link', { name: CASE_TITLE }).waitFor();
      check(await page.getByRole('region', { name: 'screening' }).getByRole('link', { name: CASE_TITLE }).count() === 0,
        'the case is still under screening');
      await shot(page, '26-board');
    }, w);

    await step('the cases page filters by stage', async () => {
      await page.getByRole('link', { name: 'Cases', exact: true }).click();
      const filters = page.locator('form.case-filters');
      await filters.getByLabel('Stage').selectOption('planning');
      await filters.getByRole('button', { name: 'Filter' }).click();
      await page.waitForFunction(() => location.hash.includes('stage=planning'));
      await page.locator('table.data').getByRole('link', { name: CASE_TITLE }).waitFor();
      const titles = await texts(page, 'table.data tbody tr td:first-child');
      check(titles.length === 1, `filtered cases: ${JSON.stringify(titles)}`);
    }, w);

    await step('the overdue list across cases has the task', async () => {
      await page.goto(`${base}/#/tasks?overdue=true`);
      await page.getByRole('heading', { name: 'Overdue tasks' }).waitFor();
      await page.locator('td', { hasText: TASK_TITLE }).waitFor();
      await shot(page, '27-overdue-tasks');
    }, w);

    await step('the reminder reaches the inbox, and marking it read clears the count', async () => {
      // The server checks reminders every second (--remind-every 1).
      let unread = 0;
      for (let i = 0; i < 40 && !unread; ++i) {
        const r = await page.request.get(`${base}/api/v1/notifications?unread=true`);
        unread = r.ok() ? Number((await r.json()).unread) : 0;
        if (!unread) await new Promise((done) => setTimeout(done, 250));
      }
      check(unread > 0, 'no reminder reached the inbox within 10 s');
      await page.getByRole('link', { name: /^Inbox/ }).click();
      await page.getByRole('heading', { name: 'Notifications' }).waitFor();
      await page.locator('#inbox-count:not([hidden])').waitFor();
      await page.locator('.deadline-overdue').first().waitFor();
      await shot(page, '28-inbox');
      await page.getByRole('button', { name: 'Mark all read' }).click();
      await page.locator('#inbox-count[hidden]').waitFor({ state: 'attached' });
      check(await page.locator('.unread').count() === 0, 'notifications are still unread');
    }, w);

    await step('the reports draw their charts over the cases ivan opens', async () => {
      await page.getByRole('link', { name: 'Reports', exact: true }).click();
      await page.getByRole('heading', { name: 'Reports' }).waitFor();
      await page.waitForFunction(() => document.querySelector('.view')?.dataset.charts === '2');
      const box = await page.locator('#chart-stages').boundingBox();
      check(box && box.width > 200 && box.height > 100, `the stage chart is ${JSON.stringify(box)}`);
      await page.locator('td', { hasText: 'ivan' }).first().waitFor(); // overdue tasks per assignee
      const text = await page.locator('main').textContent();
      check(!/null|undefined|NaN/.test(text), 'the reports page shows "null" or "NaN"');
      await shot(page, '29-reports');
    }, w);

    await step('ticking a task marks it done', async () => {
      await page.goto(caseUrl);
      const panel = page.locator('#tasks');
      await panel.getByRole('checkbox', { name: `Done: ${TASK_TITLE}` }).check();
      await panel.locator('.deadline-done').waitFor();
    }, w);
  });
}

/** Waits until the page shows the search for `q`: the query box holds it and its count is in. */
async function waitForSearch(page, q) {
  await page.waitForFunction((expected) => {
    const box = document.querySelector('input[name=q]');
    const count = document.querySelector('.result-count');
    return box && box.value === expected && count && /\d+ results?$/.test(count.textContent)
      && !document.querySelector('.hits[aria-busy]');
  }, q);
}

/** The facet button that writes `clause` into the query. */
const facetButton = (page, clause) => page.locator(`.facets button.facet[data-clause='${clause}']`);

async function reviewSearch(browser, base, fixture) {
  await scenario('review: facets, families, tags and moving between hits (ivan)', browser, base, async (step, open) => {
    const w = await open();
    const { page } = w;

    await step('sign in', async () => {
      await signIn(w, base, 'ivan', PASSWORDS.ivan);
    }, w);

    await step('a search shows facets, and each hit its date, custodian and tags', async () => {
      await searchFor(page, 'quayside');
      const titles = await texts(page, '.hits .hit-title');
      check(titles.includes(EMAIL.name) && titles.includes(EMAIL.attachment), `hits: ${JSON.stringify(titles)}`);
      await page.locator('.facets').waitFor();
      for (const clause of ['type:email', 'type:text', 'custodian:"Jane Doe"', 'date:2024']) {
        check(await facetButton(page, clause).count() === 1, `no facet value writes ${clause}`);
      }
      const emailHit = page.locator('.hits > li.hit', { has: page.locator('.hit-title', { hasText: EMAIL.name }) });
      const meta = await emailHit.locator('.hit-meta').textContent();
      check(meta.includes(`Dated ${EMAIL.date}`) && meta.includes(`Custodian: ${CUSTODIAN}`), `the hit's details: ${JSON.stringify(meta)}`);
      const exceptions = await page.locator('.exceptions-link').textContent();
      check(/^\d+ not fully searchable$/.test(exceptions), `the exceptions link says ${JSON.stringify(exceptions)}`);
    }, w);

    await step('clicking facets narrows the query, clicking again widens it', async () => {
      await facetButton(page, 'custodian:"Jane Doe"').click();
      await waitForSearch(page, 'quayside custodian:"Jane Doe"');
      check(new URL(page.url()).hash.includes('custodian'), `the filter is not in the address: ${page.url()}`);
      check(await facetButton(page, 'custodian:"Jane Doe"').getAttribute('aria-pressed') === 'true', 'the custodian facet is not pressed');
      await facetButton(page, 'type:email').click();
      await waitForSearch(page, 'quayside custodian:"Jane Doe" type:email');
      const count = await page.locator('.result-count').textContent();
      check(count === '1 result', `type:email left ${JSON.stringify(count)}`);
      const titles = await texts(page, '.hits .hit-title');
      check(titles.length === 1 && titles[0] === EMAIL.name, `hits: ${JSON.stringify(titles)}`);
      await shot(page, '13-search-facets');
      await facetButton(page, 'type:email').click();
      await waitForSearch(page, 'quayside custodian:"Jane Doe"');
    }, w);

    await step('Export CSV links to every hit of the search', async () => {
      const href = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
      const url = new URL(href, base);
      check(url.pathname === '/api/v1/search/export' && url.searchParams.get('q') === 'quayside custodian:"Jane Doe"',
        `the export link is ${href}`);
      const answer = await page.evaluate(async (link) => {
        const response = await fetch(link);
        return { status: response.status, text: await response.text() };
      }, href);
      check(answer.status === 200 && answer.text.startsWith('document_id,case_id,'), `the export answered ${answer.status}: ${answer.text.slice(0, 120)}`);
      check(answer.text.includes(`"${EMAIL.name}"`), 'the export lacks the email');
    }, w);

    await step('"not fully searchable" lists the documents without text', async () => {
      await page.locator('.exceptions-link').click();
      await page.getByRole('heading', { name: 'Not fully searchable' }).waitFor();
      await page.locator('table.data a', { hasText: BINARY_FILE.name }).waitFor();
      await shot(page, '14-exceptions');
      await page.goBack();
      await waitForSearch(page, 'quayside custodian:"Jane Doe"');
    }, w);

    await step('the Families toggle shows each hit\'s family under it', async () => {
      await searchFor(page, 'gantry');
      const titles = await texts(page, '.hits .hit-title');
      check(titles.length === 1 && titles[0] === EMAIL.attachment, `hits: ${JSON.stringify(titles)}`);
      check(await page.locator('.hit-family').count() === 0, 'a family shows before the toggle');
      await page.getByLabel('Families').check();
      await page.waitForURL(/family=true/);
      const member = page.locator('.hits .hit-family a.family-member');
      await member.first().waitFor();
      const members = await member.allTextContents();
      check(members.includes(EMAIL.name), `the family shows ${JSON.stringify(members)}`);
      const self = await page.locator('.hits .hit-family .family-self').textContent();
      check(self.includes(EMAIL.attachment), `the hit in its family: ${JSON.stringify(self)}`);
      check(await page.locator('.hits .hit-title').count() === 1, 'family members were listed as hits');
      await shot(page, '15-search-families');
    }, w);

    await step('a tag added on the document page shows on it', async () => {
      await searchFor(page, 'quayside');
      await page.locator('.hits .hit-title', { hasText: EMAIL.name }).click();
      await page.getByRole('heading', { name: EMAIL.name }).waitFor();
      await page.getByLabel('Add tags').fill('hot');
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      await page.locator('.doc-tags .tag', { hasText: 'hot' }).waitFor();
      await page.getByRole('button', { name: 'Remove tag hot' }).waitFor();
      const date = await page.locator('table.properties tr', { has: page.locator('th', { hasText: /^Date$/ }) }).locator('td').textContent();
      check(date === EMAIL.date, `the document date shows ${JSON.stringify(date)}`);
      await shot(page, '16-document-tags');
    }, w);

    await step('the document opened from the hits marks the query in its text', async () => {
      await page.locator('.match-nav .match-position', { hasText: /^Match 1 of \d+$/ }).waitFor();
      const marked = await texts(page, '.doc-text mark.text-match');
      check(marked.length >= 1 && marked.every((t) => t.toLowerCase() === 'quayside'), `marked: ${JSON.stringify(marked)}`);
      check(await page.locator('.doc-text mark.text-match.current').count() === 1, 'the first match is not the current one');
      const text = await page.locator('.doc-text').textContent();
      check(text.includes('Please settle the attached invoice for the quayside crane.'), `the text around the marks: ${JSON.stringify(text)}`);
      await shot(page, '16b-document-matches');
    }, w);

    await step('an entity of the document opens its page: the documents and cases holding it', async () => {
      await page.locator('.entity-list a', { hasText: 'rui@corvo.example' }).click();
      await page.getByRole('heading', { name: 'Entity email: rui@corvo.example' }).waitFor();
      const count = await page.locator('.result-count').textContent();
      check(/^1 document in 1 case you can open/.test(count), `the entity page says ${JSON.stringify(count)}`);
      await page.locator('table a', { hasText: EMAIL.name }).waitFor();
      await shot(page, '16c-entity');
      await page.goBack();
      await page.getByRole('heading', { name: EMAIL.name }).waitFor();
      await page.locator('.hit-nav .hit-position').waitFor();
    }, w);

    await step('Previous hit and Next hit move through the results', async () => {
      const position = page.locator('.hit-nav .hit-position');
      const first = await position.textContent();
      const match = first.match(/^Hit ([12]) of 2$/);
      check(match, `the navigation says ${JSON.stringify(first)}`);
      const forward = match[1] === '1';
      const there = forward ? 'Next hit →' : '← Previous hit';
      const back = forward ? '← Previous hit' : 'Next hit →';
      check(await page.getByRole('button', { name: back }).isDisabled(), `${back} is offered at the end of the list`);
      await page.getByRole('button', { name: there }).click();
      await page.getByRole('heading', { name: EMAIL.attachment }).waitFor();
      await position.filter({ hasText: `Hit ${forward ? 2 : 1} of 2` }).waitFor();
      check(await page.getByRole('button', { name: there }).isDisabled(), `${there} is offered at the end of the list`);
      await page.getByRole('button', { name: back }).click();
      await page.getByRole('heading', { name: EMAIL.name }).waitFor();
      await position.filter({ hasText: first }).waitFor();
    }, w);

    await step('the tag facet shows the new tag and filters on it', async () => {
      await page.getByRole('link', { name: 'Back to the results' }).click();
      await waitForSearch(page, 'quayside');
      await facetButton(page, 'tag:hot').click();
      await waitForSearch(page, 'quayside tag:hot');
      const titles = await texts(page, '.hits .hit-title');
      check(titles.length === 1 && titles[0] === EMAIL.name, `hits: ${JSON.stringify(titles)}`);
      const tags = await texts(page, '.hits .hit .tags .tag');
      check(tags.includes('hot'), `the hit's tags: ${JSON.stringify(tags)}`);
    }, w);

    await step('Tag all hits tags every hit after a confirmation', async () => {
      await searchFor(page, 'quayside');
      await page.getByLabel('Tags for all hits').fill('reviewed');
      await page.getByRole('button', { name: 'Tag all hits' }).click();
      await page.getByRole('button', { name: 'Confirm: tag 2 hits with reviewed' }).click();
      const done = page.locator('.banner-success');
      await done.waitFor();
      check(/2 documents changed/.test(await done.textContent()), `after tagging: ${JSON.stringify(await done.textContent())}`);
      await facetButton(page, 'tag:reviewed').locator('.facet-count', { hasText: /^2$/ }).waitFor();
    }, w);

    await step('a malformed query shows where it is wrong', async () => {
      w.allow('GET', '/api/v1/search', 400);
      const box = page.getByLabel('Query');
      await box.fill('invoice AND');
      await box.press('Enter');
      const alert = page.locator('.banner-error');
      await alert.waitFor();
      const message = await alert.textContent();
      const at = message.match(/position (\d+)/);
      check(at, `the error says ${JSON.stringify(message)}`);
      await page.locator('.query-echo mark').waitFor();
      const selection = await page.evaluate(() => document.activeElement && document.activeElement.selectionStart);
      check(selection === Number(at[1]) - 1, `the query box selects from ${selection}, not ${Number(at[1]) - 1}`);
      check(await page.locator('.hits .hit').count() === 0, 'hits stay under the error');
      await shot(page, '17-search-error');
    }, w);
  });
}

async function reviewPages(browser, base, fixture) {
  await scenario('review: search-term report and saved searches (ivan)', browser, base, async (step, open) => {
    const w = await open();
    const { page } = w;

    await step('sign in', async () => {
      await signIn(w, base, 'ivan', PASSWORDS.ivan);
    }, w);

    await step('the search-term report counts hits and families', async () => {
      await page.getByRole('link', { name: 'Term report', exact: true }).click();
      await page.getByRole('heading', { name: 'Search-term report' }).waitFor();
      await page.getByLabel('Search terms, one per line').fill('quayside\ngantry\nzephyr\nunmatchedword');
      await page.getByRole('button', { name: 'Run report' }).click();
      const rows = page.locator('table.terms-table tbody tr');
      await rows.first().waitFor();
      check(await rows.count() === 4, `the report has ${await rows.count()} rows`);
      const row = async (term) => (await rows.filter({ has: page.locator('th code', { hasText: new RegExp(`^${term}$`) }) })
        .locator('td').allTextContents());
      const gantry = await row('gantry');
      check(gantry[0] === '1' && gantry[2] === '1' && gantry[3] === '2', `gantry: ${JSON.stringify(gantry)}`);
      const quayside = await row('quayside');
      check(quayside[0] === '2' && quayside[2] === '1', `quayside: ${JSON.stringify(quayside)}`);
      const none = await row('unmatchedword');
      check(none[0] === '0', `unmatchedword: ${JSON.stringify(none)}`);
      const totals = await page.locator('table.terms-table tfoot tr').textContent();
      check(/^Any term/.test(totals), `the totals row: ${JSON.stringify(totals)}`);
      await page.locator('.report-exceptions', { hasText: /cannot be searched fully/ }).waitFor();
      await shot(page, '18-term-report');
    }, w);

    await step('the report downloads as CSV and as JSON', async () => {
      const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
      check(csv.suggestedFilename() === 'search-terms.csv', `the CSV is named ${csv.suggestedFilename()}`);
      const csvText = fs.readFileSync(await csv.path(), 'utf8');
      check(csvText.startsWith('term,hits,unique_hits,families,family_documents'), `the CSV starts ${JSON.stringify(csvText.slice(0, 80))}`);
      check(csvText.includes('"gantry"'), 'the CSV lacks a term');
      const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download JSON' }).click()]);
      check(json.suggestedFilename() === 'search-terms.json', `the JSON is named ${json.suggestedFilename()}`);
      const report = JSON.parse(fs.readFileSync(await json.path(), 'utf8'));
      check(Array.isArray(report.rows) && report.rows.length === 4, `the JSON holds ${JSON.stringify(report).slice(0, 200)}`);
    }, w);

    await step('a search is saved under a name typed in the page', async () => {
      await page.getByRole('link', { name: 'Search', exact: true }).click();
      await searchFor(page, 'quayside');
      await page.getByRole('button', { name: 'Save search' }).click();
      await page.getByLabel('Name of the saved search').fill(SAVED_NAME);
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      const saved = page.locator('.banner-success');
      await saved.waitFor();
      check((await saved.textContent()).includes(`Saved as “${SAVED_NAME}”`), `after saving: ${JSON.stringify(await saved.textContent())}`);
    }, w);

    await step('the saved searches page lists and runs it', async () => {
      await page.getByRole('link', { name: 'Saved searches', exact: true }).click();
      await page.getByRole('heading', { name: 'Saved searches' }).waitFor();
      const row = page.locator('table.data tbody tr', { has: page.locator('.saved-name', { hasText: SAVED_NAME }) });
      await row.waitFor();
      check(await row.locator('code').textContent() === 'quayside', 'the saved query is not shown');
      await page.getByRole('button', { name: `Run ${SAVED_NAME}` }).click();
      const run = page.locator('.saved-run');
      await run.locator('.result-count', { hasText: /^2 results$/ }).waitFor();
      await run.locator('.new-since', { hasText: /^First run/ }).waitFor();
      const titles = await run.locator('.hit-title').allTextContents();
      check(titles.includes(EMAIL.name) && titles.includes(EMAIL.attachment), `the run's hits: ${JSON.stringify(titles)}`);
    }, w);

    await step('running it again counts what is new since the last run', async () => {
      const job = await fixture.api.upload(fixture.ivanToken, fixture.caseId, FOLLOW_UP.name, FOLLOW_UP.text);
      check(job.summary && job.summary.documents && job.summary.documents[0].status === 'indexed', 'the follow-up was not indexed');
      await page.getByRole('button', { name: `Run ${SAVED_NAME}` }).click();
      const run = page.locator('.saved-run');
      await run.locator('.result-count', { hasText: /^3 results$/ }).waitFor();
      await run.locator('.new-since', { hasText: /^1 new since last run/ }).waitFor();
      await page.locator('table.data tbody tr', { has: page.locator('.saved-name', { hasText: SAVED_NAME }) })
        .locator('td').nth(4).filter({ hasText: /: 3 results$/ }).waitFor();
      await shot(page, '19-saved-searches');
    }, w);

    await step('a hit of the run opens with Previous hit and Next hit', async () => {
      await page.locator('.saved-run .hit-title').first().click();
      await page.locator('.hit-nav .hit-position', { hasText: /^Hit 1 of 3$/ }).waitFor();
      await page.getByRole('button', { name: 'Next hit →' }).click();
      await page.locator('.hit-nav .hit-position', { hasText: /^Hit 2 of 3$/ }).waitFor();
      await page.goBack();
      await page.goBack();
      await page.getByRole('heading', { name: 'Saved searches' }).waitFor();
    }, w);

    await step('a saved search is deleted after a confirmation', async () => {
      await page.getByRole('button', { name: `Delete ${SAVED_NAME}` }).click();
      await page.getByRole('button', { name: `Confirm: delete ${SAVED_NAME}` }).click();
      await page.locator('.banner-success', { hasText: 'is deleted' }).waitFor();
      await page.locator('p.empty', { hasText: 'No saved searches yet' }).waitFor();
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
    const emailJob = await api.upload(ivan, created.id, EMAIL.name, craneEmail(), { custodian: CUSTODIAN });
    const family = (emailJob.summary && emailJob.summary.documents) || [];
    const email = family.find((d) => !d.parent_id);
    const attachment = family.find((d) => d.parent_id && d.parent_id === (email && email.id));
    check(email && email.status === 'indexed' && attachment && attachment.status === 'indexed',
      `the email and its attachment were not both indexed: ${JSON.stringify(emailJob.summary)}`);
    fixture = {
      caseId: created.id, documentId: doc.id, sha256: doc.sha256, binaryId: binary.id,
      emailId: email.id, attachmentId: attachment.id, api, ivanToken: ivan,
    };
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
  await reviewSearch(browser, server.base, fixture);
  await reviewPages(browser, server.base, fixture);
  await caseLinks(browser, server.base, fixture);
  await auditTrail(browser, server.base, fixture);
  await caseManagement(browser, server.base, fixture);

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
