// Dossier web page: session, hash routing and the pages.
//
// Routes: #/search?q=&case=&sort=&family=&offset= (search.js),
// #/doc/<id>[?from=search], #/cases, #/case/<id>, #/graph?case=&depth= (links.js),
// #/exceptions?case=,
// #/searches, #/terms (review.js), #/board, #/tasks?overdue=, #/inbox,
// #/reports (workflow.js), #/audit (audit.js), #/admin, #/account. Every value that
// comes from the server is shown as text (see ui.js); ids only ever reach
// URLs through encodeURIComponent.

import {
  ApiError, apiPath, describeError, isQuiet, onSessionEnded, pollJob, request, setCsrfToken, withQuery,
} from './api.js';
import {
  bannerSlot, caseHref, checkbox, checkedValues, dataTable, docHref, el, field, formatBytes, formatDate, heading,
  humanize, link, orDash, propertyTable, setBanner, setBusy,
} from './ui.js';
import {
  hitNavigation, hitQuery, markText, matchNavigation, parseTags, searchPage,
} from './search.js';
import { exceptionsPage, savedSearchesPage, termsPage } from './review.js';
import { graphPage, linksPanel } from './links.js';
import { auditPage } from './audit.js';
import {
  STAGES, boardPage, deadlineBadge, inboxPage, loadInboxCount, notesPanel, reportsPage, tasksPage, tasksPanel,
  workflowPanel,
} from './workflow.js';

const FAILED_STATUSES = new Set(['error', 'unsupported', 'skipped']);

/** The signed-in user: {user, roles, admin, totp}, or null on the login page. */
const state = { me: null };

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
const navAdmin = document.getElementById('nav-admin');
const navAudit = document.getElementById('nav-audit');
const userName = document.getElementById('user-name');
const logoutButton = document.getElementById('logout');

// ---------------------------------------------------------------------------
// Views. Each page renders into a fresh container with a context whose signal
// aborts the page's requests and timers once the reader moves elsewhere. A
// page may set ctx.update(params) to take a change of query string in place.

let current = null; // {name, key, ctx}

function closeView() {
  if (!current) return;
  current.ctx.controller.abort();
  for (const cleanup of current.ctx.cleanups) cleanup();
  current = null;
}

function openView(name, key, render, ...args) {
  closeView();
  const controller = new AbortController();
  const ctx = {
    controller,
    signal: controller.signal,
    cleanups: [],
    update: null,
    onClose(fn) { this.cleanups.push(fn); },
  };
  const view = el('div', { class: 'view' });
  main.replaceChildren(view);
  current = { name, key, ctx };
  window.scrollTo(0, 0);

  let result;
  try {
    result = render(view, ctx, ...args);
  } catch (err) {
    result = Promise.reject(err);
  }
  // The new page's heading takes focus (unless the page focused a control
  // itself) so that screen readers announce it.
  if (!view.contains(document.activeElement)) view.querySelector('h1')?.focus({ preventScroll: true });
  Promise.resolve(result).catch((err) => {
    if (isQuiet(err)) return;
    const slot = bannerSlot();
    view.append(slot);
    setBanner(slot, 'error', describeError(err));
  });
}

// Route name → [page, number of path segments after the name].
const ROUTES = new Map([
  ['search', [searchPage, 0]],
  ['exceptions', [exceptionsPage, 0]],
  ['searches', [savedSearchesPage, 0]],
  ['terms', [termsPage, 0]],
  ['doc', [documentPage, 1]],
  ['entity', [entityPage, 0]],
  ['cases', [casesPage, 0]],
  ['case', [casePage, 1]],
  ['graph', [graphPage, 0]],
  ['board', [boardPage, 0]],
  ['tasks', [tasksPage, 0]],
  ['inbox', [inboxPage, 0]],
  ['reports', [reportsPage, 0]],
  ['admin', [adminPage, 0]],
  ['audit', [auditPage, 0]],
  ['account', [accountPage, 0]],
]);

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const cut = raw.indexOf('?');
  const path = cut < 0 ? raw : raw.slice(0, cut);
  const params = new URLSearchParams(cut < 0 ? '' : raw.slice(cut + 1));
  const segments = path.split('/').filter(Boolean).map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return segment;
    }
  });
  return { segments, params };
}

function route() {
  if (!state.me) return;
  const { segments, params } = parseHash();
  if (!segments.length) {
    history.replaceState(null, '', '#/search');
    route();
    return;
  }
  const [name, ...args] = segments;
  markNav(name);
  const [render, arity] = ROUTES.get(name) || [];
  if (!render || args.length !== arity) {
    openView('missing', 'missing', (view) => {
      view.append(heading('Page not found'), el('p', {}, 'There is no such page. ', link('#/search', 'Go to Search'), '.'));
    });
    return;
  }
  const key = [name, ...args].join('/');
  if (current && current.key === key && current.ctx.update) {
    current.ctx.update(params);
    return;
  }
  openView(name, key, render, args, params);
}

function markNav(name) {
  const section = { case: 'cases', exceptions: 'search' }[name] || name;
  for (const a of topbar.querySelectorAll('a[data-route]')) {
    if (a.dataset.route === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// ---------------------------------------------------------------------------
// Session: start, login, logout.

function startSession(me) {
  state.me = {
    user: String(me.user ?? ''),
    roles: Array.isArray(me.roles) ? me.roles.map(String) : [],
    admin: me.admin === true,
    totp: me.totp === true,
  };
  setCsrfToken(me.csrf_token);
  userName.textContent = state.me.user;
  navAdmin.hidden = !state.me.admin;
  navAudit.hidden = !(state.me.admin || state.me.roles.includes('auditor'));
  topbar.hidden = false;
  route();
  loadInboxCount();
}

/** Ends the session on this page and shows the login form with a message. */
function showLogin(message = '', kind = 'info') {
  state.me = null;
  setCsrfToken('');
  topbar.hidden = true;
  userName.textContent = '';
  if (current && current.name === 'login') {
    if (message) current.ctx.setMessage(kind, message);
    return;
  }
  openView('login', 'login', loginPage, message, kind);
}

function loginPage(view, ctx, message, kind) {
  const banner = bannerSlot();
  const user = el('input', {
    type: 'text', name: 'user', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true,
  });
  const password = el('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const code = el('input', {
    type: 'text', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6', class: 'code',
  });
  const codeField = field('Authentication code', code, 'The 6-digit code shown by your authenticator app.');
  codeField.hidden = true;
  const form = el('form', { class: 'stack' },
    field('User name', user), field('Password', password), codeField,
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Sign in')));

  ctx.setMessage = (k, text) => setBanner(banner, k, text);
  if (message) ctx.setMessage(kind, message);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { user: user.value.trim(), password: password.value };
    if (!codeField.hidden) body.totp = code.value.trim();
    setBusy(form, true);
    setBanner(banner);
    try {
      const answer = await request('POST', apiPath('auth', 'login'), { json: body, sessionCheck: false, signal: ctx.signal });
      setCsrfToken(answer.csrf_token);
      // The session adds what login does not say (whether TOTP is on).
      let me = {};
      try {
        const session = await request('GET', apiPath('auth', 'session'), { sessionCheck: false, signal: ctx.signal });
        if (session && session.authenticated === true) me = session;
      } catch (err) {
        if (err.name === 'AbortError') throw err;
      }
      startSession({ ...answer, ...me, csrf_token: me.csrf_token || answer.csrf_token });
    } catch (err) {
      if (err.name === 'AbortError') return;
      setBusy(form, false);
      if (err instanceof ApiError && err.code === 'totp_required') {
        const firstAsk = codeField.hidden;
        codeField.hidden = false;
        code.required = true;
        code.value = '';
        code.focus();
        if (firstAsk) setBanner(banner, 'info', 'Enter the 6-digit code from your authenticator app.');
        else setBanner(banner, 'error', 'That code was not accepted; enter the current one.');
        return;
      }
      setBanner(banner, 'error', loginErrorMessage(err));
      if (err instanceof ApiError && err.status === 401) {
        password.focus();
        password.select();
      }
    }
  });

  view.append(el('section', { class: 'login' }, heading('Sign in to Dossier'), banner, form));
  user.focus();
}

function loginErrorMessage(err) {
  if (!(err instanceof ApiError)) return describeError(err);
  if (err.status === 401) return 'Unknown user or wrong password.';
  if (err.status === 403) return 'This account is disabled; ask an administrator.';
  return describeError(err);
}

logoutButton.addEventListener('click', async () => {
  logoutButton.disabled = true;
  try {
    await request('POST', apiPath('auth', 'logout'), { sessionCheck: false });
    showLogin('You are signed out.', 'success');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin('You are signed out.', 'success');
    else showLogin(`This page forgot your session, but the server could not confirm the sign-out: ${describeError(err)}`, 'error');
  } finally {
    logoutButton.disabled = false;
  }
});

// ---------------------------------------------------------------------------
// Document.

async function documentPage(view, ctx, [id], params) {
  const { signal } = ctx;
  const title = heading('Document');
  // Opened from a list of hits: the way to the neighbouring ones comes
  // first, and stays even if this document cannot be shown.
  const hitNav = params.get('from') === 'search' ? hitNavigation(id, ctx) : null;
  view.append(title);
  if (hitNav) view.append(hitNav);
  let doc;
  try {
    doc = await request('GET', apiPath('documents', id), { signal });
  } catch (err) {
    if (err.status === 404) err.message = 'This document does not exist or you may not see it.';
    throw err;
  }
  title.textContent = doc.filename || '(no file name)';

  const caseLink = doc.case_id ? link(caseHref(doc.case_id), `Case ${doc.case_id}`) : null;
  if (caseLink) {
    request('GET', apiPath('cases', doc.case_id), { signal })
      .then((c) => { if (c.title) caseLink.textContent = c.title; })
      .catch(() => { /* The id stays as the link's text. */ });
  }

  const banner = bannerSlot();
  if (doc.error) setBanner(banner, 'error', `Processing this document failed: ${doc.error}`);

  const docLink = (docId) => (docId ? link(docHref(docId), docId) : null);
  const metadata = propertyTable([
    ['File name', doc.filename],
    ['Path', doc.path],
    ['Case', caseLink],
    ['Type', doc.mime],
    ['Size', `${formatBytes(doc.size)} (${Number(doc.size || 0).toLocaleString()} bytes)`],
    ['Language', doc.language],
    ['Custodian', doc.custodian],
    ['Date', doc.dates && doc.dates.document],
    ['Ingested', formatDate(doc.dates && doc.dates.ingested)],
    ['Status', humanize(doc.status)],
    ['Indexed text', formatBytes(doc.indexed_bytes)],
    ['Duplicate of', docLink(doc.duplicate_of)],
    ['Entities', entityList(doc.entities)],
  ]);
  const custody = propertyTable([
    ['SHA-256', el('code', { class: 'hash' }, orDash(doc.sha256))],
    ['MD5', el('code', { class: 'hash' }, orDash(doc.md5))],
  ]);
  const fields = Object.entries(doc.fields || {});
  const text = el('pre', { class: 'doc-text', tabindex: '0', 'aria-label': 'Extracted text' }, 'Loading the text…');

  view.append(
    el('p', { class: 'actions' },
      el('a', { class: 'button', href: apiPath('documents', doc.id, 'content'), download: '' }, 'Download original'),
      state.me.admin || state.me.roles.includes('auditor')
        ? [' ', el('a', { class: 'button', href: withQuery(apiPath('documents', doc.id, 'custody'), { format: 'csv' }), download: '' },
          'Chain of custody (CSV)'), ' ',
        el('a', { class: 'button', href: withQuery(apiPath('documents', doc.id, 'custody'), { format: 'pdf' }), download: '' },
          'Chain of custody (PDF)')]
        : null),
    banner,
    el('section', { class: 'doc-tags' }, el('h2', {}, 'Tags'), tagEditor(doc, ctx)),
    el('section', {}, el('h2', {}, 'Text'), text),
    el('div', { class: 'columns' },
      el('section', {}, el('h2', {}, 'Metadata'), metadata),
      el('section', {}, el('h2', {}, 'Custody hashes'), custody,
        el('h2', {}, 'Fields'),
        fields.length
          ? propertyTable(fields.map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
          : el('p', { class: 'empty' }, 'No fields were extracted.'))),
    el('section', {}, el('h2', {}, 'Family'), familyTree(doc)));

  // Only ask for text the document has: nothing was extracted from a file
  // that failed, was skipped or is of a type the extractor does not read.
  if (!hasText(doc)) {
    text.textContent = FAILED_STATUSES.has(doc.status) || doc.status === 'pending'
      ? `No text is available: the document is ${humanize(doc.status)}.`
      : 'No text was extracted from this document.';
    return;
  }
  try {
    const body = await request('GET', apiPath('documents', doc.id, 'text'), { signal });
    text.textContent = body ? String(body) : 'No text was extracted from this document.';
    // Opened from a list of hits: the query's matches are marked in the
    // text, with a way from one to the next.
    const q = hitNav && body ? hitQuery(id) : null;
    if (q) {
      try {
        const found = await request('GET', apiPath('documents', doc.id, 'matches'), { signal, query: { q } });
        const marks = markText(text, String(body), Array.isArray(found.matches) ? found.matches : []);
        const nav = matchNavigation(marks, q, found);
        text.before(nav.element);
        if (marks.length) nav.first();
      } catch (err) {
        if (isQuiet(err)) throw err;
        text.before(el('p', { class: 'note' }, `The matches could not be marked: ${describeError(err)}`));
      }
    }
  } catch (err) {
    if (isQuiet(err)) throw err;
    text.textContent = err.status === 404 ? 'No text is available for this document.' : `The text could not be loaded: ${describeError(err)}`;
  }
}

/** The document's tags, each with a Remove button, and a box to add more. */
function tagEditor(doc, ctx) {
  const banner = bannerSlot();
  const list = el('ul', { class: 'tags tag-editor', 'aria-label': 'Tags of this document' });
  const input = el('input', { type: 'text', name: 'tags', autocomplete: 'off', spellcheck: 'false', maxlength: '300' });
  const form = el('form', { class: 'inline-form' },
    field('Add tags', input),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Add')),
    el('p', { class: 'hint' }, 'Letters, digits, - and _; several tags separated by spaces.'));
  const root = el('div', {}, list, banner, form);

  function render(tags) {
    list.replaceChildren(...tags.map((tag) => el('li', { class: 'tag' }, String(tag),
      el('button', {
        type: 'button', class: 'tag-remove', 'aria-label': `Remove tag ${tag}`, title: 'Remove this tag',
        onclick: () => change([], [tag]),
      }, '×'))));
    if (!tags.length) list.append(el('li', { class: 'empty' }, 'No tags yet.'));
  }

  async function change(add, remove) {
    setBusy(root, true);
    setBanner(banner);
    try {
      const answer = await request('POST', apiPath('documents', doc.id, 'tags'), { signal: ctx.signal, json: { add, remove } });
      render(Array.isArray(answer && answer.tags) ? answer.tags : []);
      if (add.length) input.value = '';
      setBanner(banner, 'success', add.length ? `Tagged ${add.join(', ')}.` : `Removed ${remove.join(', ')}.`);
    } catch (err) {
      if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
    } finally {
      setBusy(root, false);
    }
    // A removed tag's button is gone: the box keeps the focus for the next one.
    if (!root.contains(document.activeElement)) input.focus({ preventScroll: true });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const tags = parseTags(input.value);
    if (!tags.length) {
      setBanner(banner, 'error', 'Type the tags to add.');
      input.focus();
      return;
    }
    change(tags, []);
  });

  render(Array.isArray(doc.tags) ? doc.tags : []);
  return root;
}

/** Whether a document has extracted text to fetch (when the server says how much, it must be some). */
function hasText(doc) {
  if (FAILED_STATUSES.has(doc.status) || doc.status === 'pending') return false;
  const indexed = Number(doc.indexed_bytes);
  return !(doc.indexed_bytes !== undefined && doc.indexed_bytes !== null && Number.isFinite(indexed) && indexed <= 0);
}

/** The page of one entity: `#/entity?type=&value=`. */
const entityHref = (type, value) => `#/entity?${new URLSearchParams({ type, value })}`;

function entityList(entities) {
  if (!Array.isArray(entities) || !entities.length) return null;
  return el('ul', { class: 'plain entity-list' }, entities.map((e) => {
    if (!e || typeof e !== 'object') return el('li', {}, String(e));
    const type = String(e.type ?? ''), value = String(e.value ?? '');
    const count = Number(e.count) > 1 ? ` ×${Number(e.count)}` : '';
    return el('li', {}, el('span', { class: 'entity-type' }, type), ' ', link(entityHref(type, value), value), count);
  }));
}

/** Where an entity occurs among the documents and cases the user may open. */
async function entityPage(view, ctx, _args, params) {
  const type = params.get('type') || '';
  const value = params.get('value') || '';
  view.append(heading(`Entity ${type}: ${value}`));
  const body = el('div', {}, el('p', {}, 'Loading…'));
  view.append(body);
  const data = await request('GET', apiPath('entities'), { signal: ctx.signal, query: { type, value, limit: 200 } });
  const total = Number(data.total) || 0;
  const cases = Array.isArray(data.cases) ? data.cases : [];
  const docs = Array.isArray(data.documents) ? data.documents : [];
  body.replaceChildren(
    el('p', { class: 'result-count' },
      `${total.toLocaleString()} document${total === 1 ? '' : 's'} in ${cases.length.toLocaleString()} case${cases.length === 1 ? '' : 's'} you can open hold${total === 1 ? 's' : ''} ${String(data.type)} ${String(data.value)}.`),
    el('h2', {}, 'Cases'),
    cases.length
      ? dataTable([
        { label: 'Case', cell: (c) => link(caseHref(String(c.case_id)), String(c.case_id)) },
        { label: 'Documents', cell: (c) => String(Number(c.documents) || 0) },
      ], cases)
      : el('p', { class: 'empty' }, 'None.'),
    el('h2', {}, 'Documents'),
    docs.length
      ? dataTable([
        { label: 'Document', cell: (d) => link(docHref(String(d.document_id)), String(d.filename || d.document_id)) },
        { label: 'Case', cell: (d) => link(caseHref(String(d.case_id)), String(d.case_id)) },
        { label: 'Date', cell: (d) => orDash(d.date) },
      ], docs)
      : el('p', { class: 'empty' }, 'None.'),
    el('p', {}, link(`#/search?${new URLSearchParams({ q: `entity:"${type}:${String(data.value)}"` })}`, 'Search for it')));
}

/** Parent → this document → children, then the duplicates found elsewhere. */
function familyTree(doc) {
  const family = doc.family || {};
  const children = Array.isArray(family.children) ? family.children : [];
  const duplicates = Array.isArray(family.duplicates) ? family.duplicates : [];
  const describe = (d) => [d.path && d.path !== d.filename ? d.path : null, d.mime, humanize(d.status)].filter(Boolean).join(' · ');
  const childList = children.length
    ? el('ul', {}, children.map((c) =>
      el('li', {}, link(docHref(c.id), c.filename || c.path || c.id), el('span', { class: 'muted' }, ` ${describe(c)}`))))
    : null;
  const self = el('li', {}, el('strong', { 'aria-current': 'page' }, doc.filename || '(this document)'),
    children.length ? null : el('span', { class: 'muted' }, ' (no attachments or archive members)'), childList);
  const tree = family.parent
    ? el('ul', { class: 'tree' }, el('li', {}, link(docHref(family.parent.id), family.parent.filename || family.parent.path || family.parent.id),
      el('ul', {}, self)))
    : el('ul', { class: 'tree' }, self);
  const dupes = duplicates.length
    ? dataTable([
      { label: 'Identical copy', cell: (d) => link(docHref(d.id), d.filename || d.id) },
      { label: 'Path', cell: (d) => orDash(d.path) },
      { label: 'Case', cell: (d) => (d.case_id ? link(caseHref(d.case_id), d.case_id) : '—') },
    ], duplicates)
    : el('p', { class: 'empty' }, 'No identical copies elsewhere.');
  return el('div', {}, tree, el('h3', {}, 'Duplicates'), dupes);
}

// ---------------------------------------------------------------------------
// Cases.

async function casesPage(view, ctx, _args, params) {
  const { signal } = ctx;
  const listSlot = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const listBanner = bannerSlot();
  // Filters on what the server keeps in clear (stage, risk, status) and the title.
  const wanted = {};
  for (const key of ['stage', 'risk', 'status', 'q']) if (params.get(key)) wanted[key] = params.get(key);
  const pick = (name, label, values) => field(label, el('select', { name },
    el('option', { value: '' }, 'Any'), values.map((v) => el('option', { value: v, selected: v === wanted[name] }, humanize(v)))));
  const q = el('input', { type: 'search', name: 'q', value: wanted.q || '', maxlength: '200' });
  const filters = el('form', { class: 'inline-form case-filters', role: 'search' },
    pick('stage', 'Stage', STAGES), pick('risk', 'Risk', ['none', 'low', 'moderate', 'high']),
    pick('status', 'Status', ['open', 'closed']), field('Title', q), el('button', { type: 'submit' }, 'Filter'));
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const control of filters.querySelectorAll('select, input')) if (control.value.trim()) next.set(control.name, control.value.trim());
    location.hash = `#/cases${next.toString() ? `?${next}` : ''}`;
  });
  view.append(heading('Cases'), filters, listBanner, listSlot);

  async function load() {
    const data = await request('GET', apiPath('cases'), { signal, query: wanted });
    listSlot.replaceChildren(casesTable(data.cases || []));
  }

  // New case: the roles offered are the creator's own.
  const banner = bannerSlot();
  const titleInput = el('input', { type: 'text', name: 'title', required: true, maxlength: '300' });
  const description = el('textarea', { name: 'description', rows: '3' });
  const risk = el('select', { name: 'risk' },
    el('option', { value: '' }, 'Not assessed'), el('option', { value: 'low' }, 'Low'),
    el('option', { value: 'moderate' }, 'Moderate'), el('option', { value: 'high' }, 'High'));
  const roles = el('fieldset', { class: 'checks' }, el('legend', {}, 'Roles that may open its documents'),
    state.me.roles.length
      ? state.me.roles.map((r) => checkbox(r, r, state.me.roles.length === 1))
      : el('p', { class: 'hint' }, 'You hold no role, so the case could not be opened by anyone; ask an administrator.'));
  const form = el('form', { class: 'stack' }, banner, field('Title', titleInput), field('Description', description),
    field('Risk', risk), roles, el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Create case')));
  view.append(el('section', { class: 'panel' }, el('h2', {}, 'New case'), form));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const chosen = checkedValues(roles);
    if (!chosen.length) {
      setBanner(banner, 'error', 'Choose at least one role that may open the case.');
      return;
    }
    setBusy(form, true);
    setBanner(banner);
    try {
      const created = await request('POST', apiPath('cases'), {
        signal, json: { title: titleInput.value.trim(), description: description.value, risk: risk.value, roles: chosen },
      });
      form.reset();
      setBanner(banner, 'success', 'Case created: ', link(caseHref(created.id), created.title || created.id), '.');
      await load().catch((err) => { if (!isQuiet(err)) setBanner(listBanner, 'error', describeError(err)); });
    } catch (err) {
      if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
    } finally {
      setBusy(form, false);
    }
  });

  await load();
}

function casesTable(cases) {
  return dataTable([
    { label: 'Title', cell: (c) => link(caseHref(c.id), c.title || '(untitled)') },
    { label: 'Stage', cell: (c) => [humanize(c.stage), c.stage_state && c.stage_state !== 'on_track' ? [' ', deadlineBadge(c.stage_state)] : ''] },
    { label: 'Risk', cell: (c) => humanize(c.risk) },
    { label: 'Status', cell: (c) => humanize(c.status) },
    { label: 'Owner', cell: (c) => orDash(c.owner) },
    { label: 'Roles', cell: (c) => orDash(c.roles) },
    { label: 'Documents', class: 'num', cell: (c) => Number(c.document_count || 0).toLocaleString() },
    { label: 'Updated', cell: (c) => formatDate(c.updated_at) },
  ], cases, { empty: 'You can see no case yet.' });
}

// ---------------------------------------------------------------------------
// Case: details, documents, upload and (for administrators) grants.

async function casePage(view, ctx, [caseId]) {
  const { signal } = ctx;
  const title = heading('Case');
  const details = el('div', { class: 'case-details' }, el('p', { class: 'muted' }, 'Loading…'));
  view.append(title, details);

  let caseData;
  let documents;
  let roles;
  try {
    [caseData, documents, roles] = await Promise.all([
      request('GET', apiPath('cases', caseId), { signal }),
      request('GET', apiPath('cases', caseId, 'documents'), { signal }),
      // Without the role list the case still shows; only granting is unavailable.
      state.me.admin
        ? request('GET', apiPath('roles'), { signal }).catch((err) => {
          if (isQuiet(err)) throw err;
          return { roles: [], error: err };
        })
        : { roles: [] },
    ]);
  } catch (err) {
    if (err.status === 404) {
      err.message = 'This case does not exist or you may not see it.';
      details.replaceChildren();
    }
    throw err;
  }

  const docsBanner = bannerSlot();
  const docsSlot = el('div');
  const grants = state.me.admin ? grantsPanel(caseId, ctx, (roles.roles || []).map((r) => r.name), reloadCase) : null;

  if (grants && roles.error) grants.warn(`The list of roles could not be loaded: ${describeError(roles.error)}`);

  function showCase(c) {
    title.textContent = c.title || '(untitled case)';
    details.replaceChildren(caseSummary(c));
    if (grants) grants.render(c);
  }

  async function reloadCase() {
    showCase(await request('GET', apiPath('cases', caseId), { signal }));
  }

  async function reloadDocuments() {
    try {
      const data = await request('GET', apiPath('cases', caseId, 'documents'), { signal });
      docsSlot.replaceChildren(documentsTable(data.documents || []));
      setBanner(docsBanner);
      await reloadCase(); // the document count changed
    } catch (err) {
      if (!isQuiet(err)) setBanner(docsBanner, 'error', `The document list could not be refreshed: ${describeError(err)}`);
    }
  }

  showCase(caseData);
  docsSlot.replaceChildren(documentsTable(documents.documents || []));
  const auditLink = caseData.owner === state.me.user || state.me.admin || state.me.roles.includes('auditor')
    ? el('p', {}, link(`#/audit?case=${encodeURIComponent(caseId)}`, 'The audit events of this case')) : '';
  view.append(
    workflowPanel(caseData, ctx, showCase),
    auditLink,
    tasksPanel(caseId, ctx),
    notesPanel(caseId, ctx),
    el('section', {}, el('h2', {}, 'Documents'), docsBanner, docsSlot),
    uploadPanel(caseId, ctx, reloadDocuments),
    linksPanel(caseId, ctx));
  if (grants) view.append(grants.root);
}

function caseSummary(c) {
  const facts = [
    ['Stage', humanize(c.stage)],
    ['In stage since', formatDate(c.stage_since)],
    ['Stage target', c.stage_due ? `${formatDate(c.stage_due)} (${humanize(c.stage_state)})` : ''],
    ['Risk', humanize(c.risk)],
    ['Status', humanize(c.status)],
    ['Owner', c.owner],
    ['Assignees', c.assignees],
    ['Roles', c.roles],
    ['Documents', Number(c.document_count || 0).toLocaleString()],
    ['Created', formatDate(c.created_at)],
    ['Updated', formatDate(c.updated_at)],
  ];
  return el('div', { class: 'summary' },
    c.description ? el('p', { class: 'description' }, c.description) : null,
    el('dl', { class: 'facts' }, facts.map(([label, value]) => el('div', {}, el('dt', {}, label), el('dd', {}, orDash(value))))));
}

function statusBadge(status) {
  return el('span', { class: FAILED_STATUSES.has(status) ? 'status status-bad' : 'status' }, humanize(status));
}

function documentsTable(documents) {
  return dataTable([
    { label: 'File name', cell: (d) => link(docHref(d.id), d.filename || '(no file name)') },
    { label: 'Path', cell: (d) => orDash(d.path) },
    { label: 'Type', cell: (d) => orDash(d.mime) },
    { label: 'Size', class: 'num', cell: (d) => formatBytes(d.size) },
    { label: 'Status', cell: (d) => statusBadge(d.status) },
  ], documents, { empty: 'No documents yet. Add some below.' });
}

/**
 * A job's progress as a list item: a <progress> bar, a status line that
 * screen readers announce when it changes, and at the end the job's
 * documents and failure report.
 */
function jobCard(title) {
  const bar = el('progress', { max: '1', 'aria-label': `Progress: ${title}` });
  const status = el('p', { class: 'job-status', 'aria-live': 'polite' }, 'Waiting…');
  const counts = el('p', { class: 'job-counts' });
  const result = el('div', { class: 'job-result' });
  const root = el('li', { class: 'job' }, el('p', { class: 'job-title' }, title), bar, status, counts, result);

  const say = (text) => {
    if (status.textContent !== text) status.textContent = text;
  };

  function update(job) {
    const p = job.progress || {};
    if (p.files_total > 0) {
      bar.max = p.files_total;
      bar.value = Math.min(p.files_done || 0, p.files_total);
    } else if (p.bytes_total > 0) {
      bar.max = p.bytes_total;
      bar.value = Math.min(p.bytes_done || 0, p.bytes_total);
    } else {
      bar.removeAttribute('value'); // indeterminate
    }
    const label = { queued: 'Queued', running: 'Running', done: 'Finished', failed: 'Failed', cancelled: 'Cancelled' }[job.state] || humanize(job.state);
    say(job.state === 'running' && job.phase ? `${label}: ${humanize(job.phase)}` : label);
    counts.textContent = [
      p.files_total > 0 ? `${p.files_done || 0} of ${p.files_total} ${p.files_total === 1 ? 'file' : 'files'}` : null,
      p.bytes_total > 0 ? `${formatBytes(p.bytes_done)} of ${formatBytes(p.bytes_total)}` : null,
      p.items > 0 ? `${p.items} ${p.items === 1 ? 'item' : 'items'}` : null,
      p.errors > 0 ? `${p.errors} ${p.errors === 1 ? 'error' : 'errors'}` : null,
    ].filter(Boolean).join(' · ');
  }

  function finish(job) {
    update(job);
    if (job.state === 'done') {
      if (!bar.hasAttribute('value')) bar.max = 1;
      bar.value = bar.max;
    }
    const parts = [];
    if (job.state === 'failed') {
      parts.push(el('div', { class: 'banner banner-error', role: 'alert' }, `The job failed${job.error ? `: ${job.error}` : '.'}`));
    } else if (job.state === 'cancelled') {
      parts.push(el('p', {}, 'Cancelled. Documents stored before the cancellation stay in the case.'));
    }
    const docs = job.summary && Array.isArray(job.summary.documents) ? job.summary.documents : null;
    if (docs) parts.push(...jobReport(job.id, docs));
    result.replaceChildren(...parts);
  }

  function fail(message) {
    bar.max = 1;
    bar.value = 0;
    say('Not uploaded');
    result.replaceChildren(el('div', { class: 'banner banner-error', role: 'alert' }, message));
  }

  return { root, say, update, finish, fail };
}

function jobReport(jobId, docs) {
  const byStatus = new Map();
  for (const d of docs) byStatus.set(d.status, (byStatus.get(d.status) || 0) + 1);
  const breakdown = [...byStatus].map(([status, n]) => `${n} ${humanize(status)}`).join(', ');
  const failures = docs.filter((d) => FAILED_STATUSES.has(d.status));
  const pathCell = (d) => (d.id ? link(docHref(d.id), d.path || d.id) : orDash(d.path));
  const table = dataTable([
    { label: 'Path', cell: pathCell },
    { label: 'Type', cell: (d) => orDash(d.mime) },
    { label: 'Status', cell: (d) => statusBadge(d.status) },
    {
      label: 'Details',
      cell: (d) => (d.duplicate_of ? el('span', {}, 'duplicate of ', link(docHref(d.duplicate_of), d.duplicate_of)) : orDash(d.error)),
    },
  ], docs);
  const parts = [
    el('p', {}, `${docs.length} ${docs.length === 1 ? 'document' : 'documents'}${breakdown ? ` (${breakdown})` : ''}.`),
    el('details', { class: 'job-docs', open: docs.length <= 10 }, el('summary', {}, 'Documents of this job'), table),
  ];
  if (failures.length) {
    parts.push(el('div', { class: 'failures' },
      el('h4', {}, `Failure report (${failures.length})`),
      el('ul', {}, failures.map((d) => el('li', {}, el('span', { class: 'path' }, d.path || '(no path)'),
        ` — ${humanize(d.status)}${d.error ? `: ${d.error}` : ''}`)))),
      el('p', {}, el('a', { href: `${apiPath('jobs', jobId)}?failures=csv`, download: 'failures.csv' }, 'Download the failure report (CSV)')));
  }
  return parts;
}

/**
 * Upload box: files, a folder or a drop of both. Files go one at a time;
 * each is followed until its ingest job ends before the next one is sent.
 */
function uploadPanel(caseId, ctx, onBatchDone) {
  const banner = bannerSlot();
  const filesInput = el('input', { type: 'file', multiple: true });
  const folderInput = el('input', { type: 'file', webkitdirectory: true });
  const custodian = el('input', { type: 'text', name: 'custodian', autocomplete: 'off' });
  const zone = el('div', { class: 'drop-zone' }, 'Drop files or folders here');
  const overall = el('p', { class: 'upload-status', 'aria-live': 'polite' });
  const cancel = el('button', { type: 'button', class: 'danger', hidden: true }, 'Cancel');
  const jobs = el('ol', { class: 'jobs' });

  const queue = [];
  let running = false;
  let cancelled = false;
  let currentJob = null;
  let uploadAbort = null;
  let sent = 0;
  let total = 0;

  function enqueue(items) {
    if (!items.length) return;
    setBanner(banner);
    queue.push(...items);
    total += items.length;
    if (!running) drain();
  }

  async function drain() {
    running = true;
    cancelled = false;
    cancel.hidden = false;
    try {
      while (queue.length && !ctx.signal.aborted) {
        const item = queue.shift();
        sent += 1;
        overall.textContent = `File ${sent} of ${total}: ${item.path}`;
        await uploadOne(item);
      }
    } finally {
      running = false;
      cancel.hidden = true;
    }
    if (ctx.signal.aborted) return;
    const outcome = cancelled ? `Stopped after ${sent} of ${total} files.` : `Done: ${total} ${total === 1 ? 'file' : 'files'} sent.`;
    sent = 0;
    total = 0;
    // The outcome is announced once the document table shows the new files.
    overall.textContent = 'Refreshing the document list…';
    await onBatchDone();
    if (!running) overall.textContent = outcome;
  }

  async function uploadOne({ file, path }) {
    const card = jobCard(path);
    jobs.prepend(card.root);
    uploadAbort = new AbortController();
    const stop = () => uploadAbort.abort();
    ctx.signal.addEventListener('abort', stop, { once: true });
    try {
      card.say(`Uploading ${formatBytes(file.size)}…`);
      const answer = await request('POST', apiPath('cases', caseId, 'documents'), {
        query: { filename: file.name, path, custodian: custodian.value.trim() || undefined },
        body: file,
        contentType: 'application/octet-stream',
        signal: uploadAbort.signal,
      });
      currentJob = answer.job_id;
      if (cancelled) cancelJob(currentJob);
      card.finish(await pollJob(currentJob, { signal: ctx.signal, onUpdate: card.update }));
    } catch (err) {
      if (ctx.signal.aborted || err.sessionEnded) {
        queue.length = 0;
      } else if (err.name === 'AbortError') {
        card.fail('Cancelled before the server received the whole file.');
      } else {
        card.fail(describeError(err));
      }
    } finally {
      currentJob = null;
      ctx.signal.removeEventListener('abort', stop);
    }
  }

  function cancelJob(jobId) {
    request('DELETE', apiPath('jobs', jobId), { signal: ctx.signal }).catch((err) => {
      if (!isQuiet(err)) setBanner(banner, 'error', `The job could not be cancelled: ${describeError(err)}`);
    });
  }

  // Cancel drops the files not yet sent, aborts a transfer under way, and
  // asks the server to cancel a running job (which is then followed to its end).
  cancel.addEventListener('click', () => {
    cancelled = true;
    queue.length = 0;
    if (currentJob) cancelJob(currentJob);
    else if (uploadAbort) uploadAbort.abort();
  });

  function takeFiles(input, pathOf) {
    const items = [...input.files].map((file) => ({ file, path: pathOf(file) }));
    input.value = ''; // the same files can be chosen again
    enqueue(items);
  }
  filesInput.addEventListener('change', () => takeFiles(filesInput, (f) => f.name));
  folderInput.addEventListener('change', () => takeFiles(folderInput, (f) => f.webkitRelativePath || f.name));

  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    zone.classList.add('dragover');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragover'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragover');
    // Entries must be taken during the event: the DataTransfer is emptied after it.
    const entries = [];
    const items = event.dataTransfer.items || [];
    for (let i = 0; i < items.length; i += 1) {
      const entry = items[i].kind === 'file' && items[i].webkitGetAsEntry ? items[i].webkitGetAsEntry() : null;
      if (entry) entries.push(entry);
    }
    if (!entries.length) {
      enqueue([...event.dataTransfer.files].map((file) => ({ file, path: file.name })));
      return;
    }
    collectEntries(entries).then(enqueue, (err) => {
      setBanner(banner, 'error', `The dropped items could not be read${err && err.message ? `: ${err.message}` : '.'}`);
    });
  });

  // A drop that misses the zone must not make the browser open the file.
  const keepPage = (event) => {
    if (!zone.contains(event.target)) event.preventDefault();
  };
  document.addEventListener('dragover', keepPage);
  document.addEventListener('drop', keepPage);
  ctx.onClose(() => {
    document.removeEventListener('dragover', keepPage);
    document.removeEventListener('drop', keepPage);
  });

  return el('section', { class: 'panel upload' },
    el('h2', {}, 'Add documents'),
    banner,
    el('div', { class: 'upload-inputs' },
      field('Files', filesInput), field('A folder', folderInput),
      field('Custodian (optional)', custodian, 'Recorded on every document sent from here.')),
    zone,
    el('div', { class: 'upload-bar' }, overall, cancel),
    jobs);
}

/** Files under dropped entries, with their paths relative to the drop ("folder/sub/file.txt"). */
async function collectEntries(entries) {
  const files = [];
  async function walk(entry) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      files.push({ file, path: entry.fullPath.replace(/^\/+/, '') || file.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      // readEntries answers in batches; an empty batch ends the listing.
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  }
  for (const entry of entries) await walk(entry);
  return files;
}

/** Administrators: the roles granted on the case, Revoke and Grant; both run as jobs. */
function grantsPanel(caseId, ctx, allRoles, reloadCase) {
  const banner = bannerSlot();
  const list = el('ul', { class: 'grant-list' });
  const select = el('select', { name: 'role' });
  const grantButton = el('button', { type: 'submit' }, 'Grant access');
  const form = el('form', { class: 'inline-form' }, field('Role to grant', select), el('div', { class: 'actions' }, grantButton));
  const noneLeft = el('p', { class: 'hint', hidden: true });
  const jobs = el('ol', { class: 'jobs' });
  const root = el('section', { class: 'panel' }, el('h2', {}, 'Access'),
    el('p', { class: 'hint' }, 'Members of these roles may open the case’s documents. Granting or revoking re-seals its keys.'),
    banner, list, form, noneLeft, jobs);
  let busy = false;
  let available = [];

  function applyAvailability() {
    select.disabled = grantButton.disabled = busy || !available.length;
  }

  function render(c) {
    const granted = Array.isArray(c.roles) ? c.roles : [];
    list.replaceChildren(...granted.map((role) => el('li', {},
      el('span', { class: 'role' }, role),
      el('button', {
        type: 'button', class: 'small', 'aria-label': `Revoke ${role}`,
        onclick: () => run('DELETE', apiPath('cases', caseId, 'grants', role), undefined, `Revoking ${role}`),
      }, 'Revoke'))));
    if (!granted.length) list.append(el('li', { class: 'empty' }, 'No role is granted.'));
    available = allRoles.filter((r) => !granted.includes(r));
    select.replaceChildren(...available.map((r) => el('option', { value: r }, r)));
    // Say why the form is unavailable rather than leave an empty list.
    noneLeft.hidden = available.length > 0;
    noneLeft.textContent = allRoles.length ? 'Every role already has access to this case.' : 'There is no role to grant.';
    applyAvailability();
  }

  async function run(method, path, json, label) {
    if (busy) return;
    busy = true;
    setBusy(root, true);
    setBanner(banner);
    try {
      const answer = await request(method, path, { json, signal: ctx.signal });
      if (answer && answer.job_id) {
        const card = jobCard(label);
        jobs.replaceChildren(card.root);
        card.finish(await pollJob(answer.job_id, { signal: ctx.signal, onUpdate: card.update }));
      } else {
        setBanner(banner, 'success', 'Access updated.');
      }
      await reloadCase();
    } catch (err) {
      if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
    } finally {
      busy = false;
      setBusy(root, false);
      applyAvailability();
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (select.value) run('POST', apiPath('cases', caseId, 'grants'), { role: select.value }, `Granting ${select.value}`);
  });
  return { root, render, warn: (message) => setBanner(banner, 'error', message) };
}

// ---------------------------------------------------------------------------
// Administration: users and roles.

async function adminPage(view, ctx) {
  const { signal } = ctx;
  view.append(heading('Administration'));
  if (!state.me.admin) {
    const slot = bannerSlot();
    view.append(slot);
    setBanner(slot, 'error', 'Only administrators can open this page.');
    return;
  }
  const usersBanner = bannerSlot();
  const rolesBanner = bannerSlot();
  const usersSlot = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const rolesSlot = el('div');
  view.append(
    el('section', {}, el('h2', {}, 'Users'), usersBanner, usersSlot),
    el('section', {}, el('h2', {}, 'Roles'), rolesBanner, rolesSlot));

  async function load() {
    const [u, r] = await Promise.all([
      request('GET', apiPath('users'), { signal }),
      request('GET', apiPath('roles'), { signal }),
    ]);
    const users = u.users || [];
    const roles = r.roles || [];
    usersSlot.replaceChildren(usersTable(users),
      el('div', { class: 'form-grid' }, newUserForm(roles), resetPasswordForm(users)));
    rolesSlot.replaceChildren(rolesTable(roles),
      el('div', { class: 'form-grid' }, newRoleForm(), addMemberForm(roles, users)));
  }

  /** Runs an action; on success reloads both lists and says so in `banner`. */
  async function act(banner, action, success) {
    setBanner(banner);
    await action();
    await load();
    setBanner(banner, 'success', success);
  }

  /** A form whose submit runs `action`; errors stay in the form. */
  function adminForm(title, controls, submitLabel, banner, action) {
    const formBanner = bannerSlot();
    const form = el('form', { class: 'stack' }, formBanner, ...controls,
      el('div', { class: 'actions' }, el('button', { type: 'submit' }, submitLabel)));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      setBusy(form, true);
      setBanner(formBanner);
      try {
        const success = await action();
        await load();
        setBanner(banner, 'success', success);
      } catch (err) {
        if (!isQuiet(err)) setBanner(formBanner, 'error', describeError(err));
      } finally {
        setBusy(form, false);
      }
    });
    return el('div', { class: 'panel' }, el('h3', {}, title), form);
  }

  function usersTable(users) {
    return dataTable([
      { label: 'User', cell: (u) => u.user },
      { label: 'Administrator', cell: (u) => (u.admin ? 'Yes' : 'No') },
      { label: 'Status', cell: (u) => (u.disabled ? el('span', { class: 'status status-bad' }, 'Disabled') : 'Active') },
      { label: 'Two-factor', cell: (u) => (u.totp ? 'On' : 'Off') },
      { label: 'Roles', cell: (u) => orDash(u.roles) },
      { label: 'Actions', cell: (u) => (u.disabled ? '' : disableControl(u.user)) },
    ], users, { empty: 'No users.' });
  }

  // Disabling cannot be undone from here, so it asks for a second click.
  function disableControl(user) {
    const cell = el('div', { class: 'row-actions' });
    function idle() {
      cell.replaceChildren(el('button', { type: 'button', class: 'small', 'aria-label': `Disable ${user}`, onclick: ask }, 'Disable'));
    }
    function ask() {
      const confirm = el('button', { type: 'button', class: 'danger small', onclick: disable }, `Confirm: disable ${user}`);
      cell.replaceChildren(confirm, el('button', { type: 'button', class: 'small', onclick: idle }, 'Keep'));
      confirm.focus();
    }
    function disable(event) {
      event.currentTarget.disabled = true;
      act(usersBanner, () => request('POST', apiPath('users', user, 'disable'), { signal }), `${user} is disabled.`)
        .catch((err) => {
          if (!isQuiet(err)) setBanner(usersBanner, 'error', describeError(err));
          idle();
        });
    }
    idle();
    return cell;
  }

  function newUserForm(roles) {
    const name = el('input', { type: 'text', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', required: true });
    const password = el('input', { type: 'password', autocomplete: 'new-password', required: true });
    const admin = checkbox('Administrator', 'admin');
    const roleBoxes = el('fieldset', { class: 'checks' }, el('legend', {}, 'Roles'),
      roles.length ? roles.map((r) => checkbox(r.name, r.name)) : el('p', { class: 'hint' }, 'No roles yet.'));
    return adminForm('New user', [field('User name', name), field('Password', password), admin, roleBoxes], 'Create user',
      usersBanner, async () => {
        const user = name.value.trim();
        await request('POST', apiPath('users'), {
          signal,
          json: { user, password: password.value, roles: checkedValues(roleBoxes), admin: admin.querySelector('input').checked },
        });
        return `User ${user} created.`;
      });
  }

  function resetPasswordForm(users) {
    const select = el('select', { required: true },
      users.filter((u) => !u.disabled).map((u) => el('option', { value: u.user }, u.user)));
    const password = el('input', { type: 'password', autocomplete: 'new-password', required: true });
    return adminForm('Reset a forgotten password', [field('User', select), field('New password', password)], 'Set password',
      usersBanner, async () => {
        const user = select.value;
        await request('POST', apiPath('users', user, 'password'), { signal, json: { new_password: password.value } });
        return `The password of ${user} is changed; tell them the new one in person.`;
      });
  }

  function rolesTable(roles) {
    const members = (r) => {
      const names = Array.isArray(r.members) ? r.members : [];
      if (!names.length) return '—';
      return el('ul', { class: 'members' }, names.map((member) => el('li', {}, member, ' ',
        el('button', {
          type: 'button', class: 'small', 'aria-label': `Remove ${member} from ${r.name}`,
          onclick: (event) => {
            const button = event.currentTarget;
            button.disabled = true;
            act(rolesBanner, () => request('DELETE', apiPath('roles', r.name, 'members', member), { signal }),
              `${member} is no longer a member of ${r.name}.`)
              .catch((err) => {
                if (!isQuiet(err)) setBanner(rolesBanner, 'error', describeError(err));
                button.disabled = false;
              });
          },
        }, 'Remove'))));
    };
    return dataTable([
      { label: 'Role', cell: (r) => r.name },
      { label: 'Members', cell: members },
    ], roles, { empty: 'No roles yet.' });
  }

  function newRoleForm() {
    const name = el('input', { type: 'text', autocomplete: 'off', required: true });
    return adminForm('New role', [field('Role name', name)], 'Create role', rolesBanner, async () => {
      const role = name.value.trim();
      await request('POST', apiPath('roles'), { signal, json: { name: role } });
      return `Role ${role} created.`;
    });
  }

  function addMemberForm(roles, users) {
    const role = el('select', { required: true }, roles.map((r) => el('option', { value: r.name }, r.name)));
    const user = el('select', { required: true },
      users.filter((u) => !u.disabled).map((u) => el('option', { value: u.user }, u.user)));
    return adminForm('Add a member to a role', [field('Role', role), field('User', user)], 'Add member', rolesBanner, async () => {
      await request('POST', apiPath('roles', role.value, 'members'), { signal, json: { user: user.value } });
      return `${user.value} is now a member of ${role.value}.`;
    });
  }

  await load();
}

// ---------------------------------------------------------------------------
// Account: password and two-factor authentication.

function accountPage(view, ctx) {
  const { signal } = ctx;
  const me = state.me;
  const totpSection = el('section', { class: 'panel' });
  view.append(
    heading('Account'),
    el('div', { class: 'summary' }, propertyTable([['User', me.user], ['Roles', me.roles], ['Administrator', me.admin ? 'Yes' : 'No']])),
    passwordSection(signal),
    totpSection);
  renderTotp(totpSection, signal);
}

function passwordSection(signal) {
  const banner = bannerSlot();
  const current = el('input', { type: 'password', autocomplete: 'current-password', required: true });
  const fresh = el('input', { type: 'password', autocomplete: 'new-password', required: true });
  const again = el('input', { type: 'password', autocomplete: 'new-password', required: true });
  const form = el('form', { class: 'stack' }, banner,
    field('Current password', current), field('New password', fresh), field('New password again', again),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Change password')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (fresh.value !== again.value) {
      setBanner(banner, 'error', 'The two new passwords differ.');
      again.focus();
      return;
    }
    setBusy(form, true);
    setBanner(banner);
    try {
      // sessionCheck: a refusal here is about the current password, shown in the form.
      await request('POST', apiPath('me', 'password'), {
        signal, sessionCheck: false, json: { old_password: current.value, new_password: fresh.value },
      });
      // Every session of the user has ended, this one included.
      showLogin('Your password is changed. Sign in with the new one.', 'success');
    } catch (err) {
      setBusy(form, false);
      if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
    }
  });
  return el('section', { class: 'panel' }, el('h2', {}, 'Change password'),
    el('p', { class: 'hint' }, 'Changing it signs you out everywhere, this page included.'), form);
}

function codeInput() {
  return el('input', {
    type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6', required: true, class: 'code',
  });
}

function renderTotp(section, signal, message) {
  const banner = bannerSlot();
  section.replaceChildren(el('h2', {}, 'Two-factor authentication'), banner);
  if (message) setBanner(banner, 'success', message);

  if (state.me.totp) {
    const code = codeInput();
    const form = el('form', { class: 'stack' },
      el('p', {}, 'Two-factor authentication is on: signing in asks for a code from your authenticator app.'),
      field('Current code', code, 'Enter a code from the app to turn it off.'),
      el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'danger' }, 'Turn off two-factor authentication')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      setBusy(form, true);
      try {
        await request('DELETE', apiPath('me', 'totp'), { signal, sessionCheck: false, json: { code: code.value.trim() } });
        state.me.totp = false;
        renderTotp(section, signal, 'Two-factor authentication is off.');
      } catch (err) {
        setBusy(form, false);
        if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
      }
    });
    section.append(form);
    return;
  }

  const start = el('button', { type: 'button', class: 'primary' }, 'Set up two-factor authentication');
  const enrolment = el('div');
  start.addEventListener('click', async () => {
    start.disabled = true;
    setBanner(banner);
    try {
      const secret = await request('POST', apiPath('me', 'totp'), { signal });
      start.hidden = true;
      enrolment.replaceChildren(enrolForm(secret));
      enrolment.querySelector('input')?.focus();
    } catch (err) {
      start.disabled = false;
      if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
    }
  });

  function enrolForm(secret) {
    const code = codeInput();
    const form = el('form', { class: 'stack' },
      el('ol', { class: 'steps' },
        el('li', {}, 'Scan this code with an authenticator app, or type the secret into it.'),
        el('li', {}, 'Enter the 6-digit code the app then shows.')),
      qrCanvas(secret.qr),
      el('p', {}, 'Secret: ', el('code', { class: 'secret' }, orDash(secret.secret))),
      secret.uri ? el('details', {}, el('summary', {}, 'Setup link'), el('code', { class: 'hash' }, String(secret.uri))) : null,
      field('Code from the app', code),
      el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Turn on')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      setBusy(form, true);
      try {
        await request('POST', apiPath('me', 'totp', 'confirm'), { signal, sessionCheck: false, json: { code: code.value.trim() } });
        state.me.totp = true;
        renderTotp(section, signal, 'Two-factor authentication is on.');
      } catch (err) {
        setBusy(form, false);
        if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
      }
    });
    return form;
  }

  section.append(el('p', {}, 'Two-factor authentication is off. With it on, signing in also asks for a code from an authenticator app.'),
    start, enrolment);
}

/**
 * Draws a QR code from its modules ("0101…", size×size, row-major, '1' dark)
 * with the standard 4-module quiet zone, 4 pixels per module.
 */
function qrCanvas(qr) {
  const size = qr && Number(qr.size);
  const modules = qr && typeof qr.modules === 'string' ? qr.modules : '';
  if (!Number.isInteger(size) || size <= 0 || modules.length !== size * size) {
    return el('p', { class: 'hint' }, 'The QR code could not be drawn; type the secret into the app instead.');
  }
  const scale = 4;
  const quiet = 4;
  const side = (size + 2 * quiet) * scale;
  const canvas = el('canvas', { width: side, height: side, class: 'qr', role: 'img', 'aria-label': 'QR code for the authenticator app' });
  const g = canvas.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, side, side);
  g.fillStyle = '#000000';
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      if (modules[y * size + x] === '1') g.fillRect((x + quiet) * scale, (y + quiet) * scale, scale, scale);
    }
  }
  return canvas;
}

// ---------------------------------------------------------------------------
// Start.

async function boot() {
  onSessionEnded(() => showLogin('Your session ended. Please sign in again.'));
  window.addEventListener('hashchange', route);
  // GET /auth/session answers 200 whether or not a session is live, so a
  // first visit does not start with a refused request.
  let session;
  try {
    session = await request('GET', apiPath('auth', 'session'), { sessionCheck: false });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin();
    else showLogin(`Could not check whether you are signed in: ${describeError(err)}`, 'error');
    return;
  }
  if (session && session.authenticated === true) startSession(session);
  else showLogin();
}

boot();
