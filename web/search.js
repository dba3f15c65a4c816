// The search page: the query form, the hits (with date, custodian, tags
// and, on request, their families), facets as filters, the documents not
// fully searchable, export, tagging every hit and saving the search. Also
// what the other review pages share: the hit list, the case filter, and
// the memory of the hits on screen that lets the document page move from
// hit to hit.
//
// Route: #/search?q=&case=&sort=date&family=true&offset=. File names, tags,
// custodians and facet values come from documents: they reach the DOM as
// text only, and reach a query only through fieldClause().

import { ApiError, apiPath, describeError, isQuiet, request, withQuery } from './api.js';
import {
  bannerSlot, caseHref, checkbox, docHref, el, field, heading, link, renderSnippet, setBanner, setBusy,
} from './ui.js';

export const PAGE_SIZE = 20;

// ---------------------------------------------------------------------------
// Searches and their addresses.

/** The search an address names: {q, caseId, sort, family, offset}. */
export function searchOf(params) {
  return {
    q: params.get('q') ?? '',
    caseId: params.get('case') || '',
    sort: params.get('sort') === 'date' ? 'date' : 'relevance',
    family: params.get('family') === 'true',
    offset: Math.max(0, Number.parseInt(params.get('offset') || '0', 10) || 0),
  };
}

export function searchHash({ q, caseId, sort, family, offset }) {
  const params = new URLSearchParams({ q });
  if (caseId) params.set('case', caseId);
  if (sort === 'date') params.set('sort', 'date');
  if (family) params.set('family', 'true');
  if (offset > 0) params.set('offset', String(offset));
  return `#/search?${params}`;
}

/** The query string of GET /search and /search/export for a search (no paging). */
function searchQuery(search) {
  return {
    q: search.q,
    case: search.caseId || undefined,
    sort: search.sort,
    family: search.family ? 'true' : undefined,
  };
}

/** A document opened from a list of hits: its page then offers the previous and next hit. */
export const hitHref = (id) => `${docHref(id)}?from=search`;

export function exceptionsHash(caseId, offset = 0) {
  const params = new URLSearchParams();
  if (caseId) params.set('case', caseId);
  if (offset > 0) params.set('offset', String(offset));
  const qs = params.toString();
  return `#/exceptions${qs ? `?${qs}` : ''}`;
}

// ---------------------------------------------------------------------------
// Filters written into the query.

/**
 * `field:value` as the query syntax writes it, the value quoted when it
 * holds a space or a parenthesis. Null when the value cannot be written:
 * the syntax has no escape for a double quote, and a value ending in *
 * would read as a prefix.
 */
export function fieldClause(name, value) {
  const v = String(value ?? '');
  if (!v.trim() || v.includes('"') || v.endsWith('*')) return null;
  return /[\s()]/u.test(v) ? `${name}:"${v}"` : `${name}:${v}`;
}

/**
 * Where `clause` stands as a whole operand at the top level of `q` (not
 * inside a phrase or parentheses, not negated), or -1.
 */
function clauseAt(q, clause) {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < q.length; i += 1) {
    if (!quoted && depth === 0 && q.startsWith(clause, i)
      && (i === 0 || /\s/u.test(q[i - 1]))
      && (i + clause.length === q.length || /[\s)]/u.test(q[i + clause.length]))) {
      return i;
    }
    const c = q[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '(') depth += 1;
    else if (!quoted && c === ')') depth = Math.max(0, depth - 1);
  }
  return -1;
}

const OPERATOR = /^(?:AND|OR|XOR|NOT|NEAR|ADJ)(?:\/\d+)?$/i;

/** Whether `q` joins its parts with an explicit operator outside parentheses. */
function hasTopLevelOperator(q) {
  let depth = 0;
  let quoted = false;
  let token = '';
  for (const c of `${q} `) {
    if (c === '"') {
      quoted = !quoted;
      token += c;
    } else if (quoted) {
      // Inside a phrase nothing is an operator.
    } else if (/\s/u.test(c) || c === '(' || c === ')') {
      if (depth === 0 && OPERATOR.test(token)) return true;
      token = '';
      if (c === '(') depth += 1;
      else if (c === ')') depth = Math.max(0, depth - 1);
    } else {
      token += c;
    }
  }
  return false;
}

/**
 * The query with a filter added, or taken out when it is there already. A
 * query joined by operators is put in parentheses first, so that the
 * filter narrows all of it: `(invoice OR receipt) type:pdf`.
 */
export function toggleClause(q, clause) {
  const at = clauseAt(q, clause);
  if (at >= 0) return `${q.slice(0, at).trimEnd()} ${q.slice(at + clause.length).trimStart()}`.trim();
  const base = q.trim();
  if (!base) return clause;
  return hasTopLevelOperator(base) ? `(${base}) ${clause}` : `${base} ${clause}`;
}

/** Tags typed in a box: separated by spaces or commas. */
export function parseTags(text) {
  return [...new Set(String(text).split(/[\s,]+/u).filter(Boolean))];
}

// Facets in the order shown: the answer's name, the field that filters
// on it, and the heading.
const FACETS = [
  { name: 'type', field: 'type', label: 'Type' },
  { name: 'custodian', field: 'custodian', label: 'Custodian' },
  { name: 'tag', field: 'tag', label: 'Tag' },
  { name: 'year', field: 'date', label: 'Year' },
  { name: 'language', field: 'lang', label: 'Language' },
  { name: 'case', field: 'case', label: 'Case' },
];

const languageNames = (() => {
  try {
    return new Intl.DisplayNames(undefined, { type: 'language' });
  } catch {
    return null;
  }
})();

function facetLabel(name, value, caseTitles) {
  if (name === 'case') return caseTitles.get(value) || `Case ${value}`;
  if (name === 'language' && languageNames) {
    try {
      const language = languageNames.of(value);
      if (language && language !== value) return `${language} (${value})`;
    } catch {
      // Not a language code: the value as it is.
    }
  }
  return value;
}

/** The facet groups of an answer; a value already filtering `q` is pressed, and a click toggles it. */
function facetGroups(facets, q, caseTitles, onToggle) {
  const groups = [];
  for (const facet of FACETS) {
    const values = facets && Array.isArray(facets[facet.name]) ? facets[facet.name] : [];
    if (!values.length) continue;
    const items = values.map((v) => {
      const value = String(v.value ?? '');
      const label = el('span', { class: 'facet-value' }, facetLabel(facet.name, value, caseTitles));
      const count = el('span', { class: 'facet-count' }, Number(v.count || 0).toLocaleString());
      const clause = fieldClause(facet.field, value);
      if (!clause) {
        return el('li', {}, el('span', { class: 'facet-fixed', title: 'This value cannot be written in a query.' }, label, count));
      }
      const active = clauseAt(q, clause) >= 0;
      return el('li', {}, el('button', {
        type: 'button',
        class: active ? 'facet active' : 'facet',
        'aria-pressed': String(active),
        'data-clause': clause,
        title: active ? `Take ${clause} out of the query` : `Add ${clause} to the query`,
        onclick: () => onToggle(clause),
      }, label, count));
    });
    groups.push(el('section', { class: 'facet-group' }, el('h3', {}, facet.label), el('ul', {}, items)));
  }
  return groups;
}

// ---------------------------------------------------------------------------
// Cases, for filters and for naming the case of a hit.

/** The cases the reader sees, id → title; on failure an empty map, and `banner` says why. */
export function loadCases(signal, banner) {
  return request('GET', apiPath('cases'), { signal })
    .then((data) => new Map((data.cases || []).map((c) => [String(c.id), c.title || String(c.id)])))
    .catch((err) => {
      if (!isQuiet(err)) setBanner(banner, 'error', `The list of cases could not be loaded: ${describeError(err)}`);
      return new Map();
    });
}

/** A case <select> with "All cases"; choose() keeps an id that the list does not (yet) hold. */
export function caseFilter() {
  const select = el('select', { name: 'case' }, el('option', { value: '' }, 'All cases'));
  let wanted = '';
  const optionOf = (id) => [...select.options].find((o) => o.value === id);
  function choose(caseId) {
    wanted = caseId;
    if (caseId && !optionOf(caseId)) select.append(el('option', { value: caseId }, `Case ${caseId}`));
    select.value = caseId;
  }
  function fill(titles) {
    for (const [id, title] of titles) {
      const known = optionOf(id);
      if (known) known.textContent = title;
      else select.append(el('option', { value: id }, title));
    }
    choose(wanted);
  }
  return { select, choose, fill };
}

// ---------------------------------------------------------------------------
// Hits.

function tagList(tags) {
  return el('ul', { class: 'tags', 'aria-label': 'Tags' }, tags.map((t) => el('li', { class: 'tag' }, String(t))));
}

/** The hit's family as a tree (parents above children), the hit itself marked. */
function familyOf(hit) {
  const others = Array.isArray(hit.family) ? hit.family : [];
  if (!others.length) return el('p', { class: 'hint hit-family' }, 'No other document in its family.');
  const members = [{ ...hit, self: true }, ...others].map((m) => ({
    id: String(m.document_id), parent: m.parent_id ? String(m.parent_id) : '', filename: m.filename, self: m.self === true,
  }));
  const ids = new Set(members.map((m) => m.id));
  const children = new Map();
  const roots = [];
  for (const m of members) {
    if (m.parent && m.parent !== m.id && ids.has(m.parent)) {
      if (!children.has(m.parent)) children.set(m.parent, []);
      children.get(m.parent).push(m);
    } else {
      roots.push(m);
    }
  }
  const placed = new Set();
  const item = (m) => {
    placed.add(m.id);
    const kids = (children.get(m.id) || []).filter((k) => !placed.has(k.id));
    return el('li', {},
      m.self
        ? el('span', { class: 'family-self' }, m.filename || '(no file name)', el('span', { class: 'muted' }, ' (this hit)'))
        : link(docHref(m.id), m.filename || '(no file name)', { class: 'family-member' }),
      kids.length ? el('ul', {}, kids.map(item)) : null);
  };
  const n = others.length;
  return el('div', { class: 'hit-family' },
    el('p', { class: 'hint' }, `Family: ${n.toLocaleString()} other ${n === 1 ? 'document' : 'documents'}`),
    el('ul', { class: 'tree' }, roots.map(item)));
}

/** One hit: title, case, date, custodian, tags, score, snippet and (with families on) its family. */
export function hitItem(hit, { caseTitles, sort = 'relevance', family = false }) {
  const caseTitle = caseTitles.get(hit.case_id);
  const score = Number(hit.score);
  const tags = Array.isArray(hit.tags) ? hit.tags : [];
  return el('li', { class: 'hit' },
    el('a', { class: 'hit-title', href: hitHref(hit.document_id) }, hit.filename || '(no file name)'),
    el('div', { class: 'hit-meta' },
      hit.case_id ? link(caseHref(hit.case_id), caseTitle || `Case ${hit.case_id}`) : null,
      el('span', { class: 'hit-date' }, hit.date ? `Dated ${hit.date}` : 'Undated'),
      hit.custodian ? el('span', { class: 'hit-custodian' }, `Custodian: ${hit.custodian}`) : null,
      sort === 'relevance' && Number.isFinite(score) ? el('span', { class: 'score' }, `score ${score.toFixed(2)}`) : null),
    tags.length ? tagList(tags) : null,
    hit.snippet ? el('p', { class: 'snippet' }, renderSnippet(hit.snippet)) : null,
    family ? familyOf(hit) : null);
}

/** How the server read the query (query_note) and what it left out (note): none, one or two paragraphs. */
export function answerNotes(data) {
  return [
    data.query_note
      ? el('p', { class: 'note query-note' }, el('strong', {}, 'How the query was read: '), String(data.query_note))
      : null,
    data.note ? el('p', { class: 'note' }, String(data.note)) : null,
  ].filter(Boolean);
}

/** "N not fully searchable", linked to the list of those documents; null for none. */
export function exceptionsLink(count, caseId) {
  const n = Number(count) || 0;
  if (n <= 0) return null;
  return link(exceptionsHash(caseId), `${n.toLocaleString()} not fully searchable`, {
    class: 'exceptions-link', title: 'Documents in scope whose text is missing or only partly indexed: a search of words can miss them',
  });
}

// ---------------------------------------------------------------------------
// The hits on screen, kept for the document page (per browser tab).

const HITS_KEY = 'dossier.hits';

export function rememberHits(search, total, offset, ids) {
  try {
    sessionStorage.setItem(HITS_KEY, JSON.stringify({ search: { ...search, offset: 0 }, total, offset, ids }));
  } catch {
    // Storage is off or full: the document page then offers no hit navigation.
  }
}

function recallHits() {
  let kept;
  try {
    kept = JSON.parse(sessionStorage.getItem(HITS_KEY) || 'null');
  } catch {
    return null;
  }
  if (!kept || typeof kept !== 'object' || !kept.search || typeof kept.search.q !== 'string' || !Array.isArray(kept.ids)) {
    return null;
  }
  return {
    search: searchOf(new URLSearchParams(searchHash({ ...kept.search, offset: 0 }).split('?')[1])),
    total: Math.max(0, Number(kept.total) || 0),
    offset: Math.max(0, Number.parseInt(kept.offset, 10) || 0),
    ids: kept.ids.map(String),
  };
}

/** The query of the hits a document was opened from, or null if it is not among them. */
export function hitQuery(docId) {
  const kept = recallHits();
  if (!kept || kept.ids.indexOf(docId) < 0) return null;
  return kept.search.q.trim() ? kept.search.q : null;
}

/**
 * Fills `pre` with `text`, the characters of `ranges` ([begin, end) in
 * code points, in order) each in a <mark>; every piece goes in as a text
 * node, never as markup. Returns the marks, in order.
 */
export function markText(pre, text, ranges) {
  const marks = [];
  const parts = [];
  let at = 0;       // UTF-16 index into text
  let chars = 0;    // code points before `at`
  const advance = (target) => {
    const from = at;
    while (chars < target && at < text.length) {
      const code = text.codePointAt(at);
      at += code > 0xffff ? 2 : 1;
      chars += 1;
    }
    return text.slice(from, at);
  };
  for (const range of ranges) {
    if (!Array.isArray(range) || range.length !== 2) continue;
    const [begin, end] = range.map((v) => Number(v) || 0);
    if (begin < chars || end <= begin) continue;  // out of order or empty: left unmarked
    parts.push(document.createTextNode(advance(begin)));
    const mark = el('mark', { class: 'text-match', id: `match-${marks.length + 1}` }, advance(end));
    marks.push(mark);
    parts.push(mark);
  }
  parts.push(document.createTextNode(text.slice(at)));
  pre.replaceChildren(...parts);
  return marks;
}

/**
 * "Match k of N · Previous · Next" over the marks of a document's text;
 * the first match is scrolled into view.
 */
export function matchNavigation(marks, query, data) {
  const n = marks.length;
  const where = el('span', { class: 'match-position' }, '');
  let current = -1;
  const previous = el('button', { type: 'button', onclick: () => go(current - 1) }, '↑ Previous match');
  const next = el('button', { type: 'button', onclick: () => go(current + 1) }, 'Next match ↓');
  function go(i) {
    if (!n) return;
    if (current >= 0) marks[current].classList.remove('current');
    current = (i + n) % n;
    const mark = marks[current];
    mark.classList.add('current');
    mark.scrollIntoView({ block: 'center' });
    where.textContent = `Match ${(current + 1).toLocaleString()} of ${n.toLocaleString()}${data.truncated ? '+' : ''}`;
  }
  previous.disabled = n < 2;
  next.disabled = n < 2;
  const summary = n
    ? `${n.toLocaleString()}${data.truncated ? ' (the first ones)' : ''} match${n === 1 ? '' : 'es'} of “${query}” in this text`
    : `“${query}” matches no word of this text (it may match the file name or another field).`;
  const nav = el('nav', { class: 'match-nav', 'aria-label': 'Matches in the text' },
    el('span', { class: 'match-summary' }, summary),
    n ? where : null, n > 1 ? previous : null, n > 1 ? next : null);
  const note = data.query_note ? el('p', { class: 'note' }, `The query was read as: ${String(data.query_note)}`) : null;
  return { element: el('div', { class: 'match-nav-wrap' }, nav, note), first: () => go(0) };
}

/**
 * "Previous hit · Hit k of N · Next hit" for a document opened from a list
 * of hits, or null when the document is not among the hits kept. Moving
 * past the kept page asks the server for the neighbouring one.
 */
export function hitNavigation(docId, ctx) {
  const kept = recallHits();
  const index = kept ? kept.ids.indexOf(docId) : -1;
  if (index < 0) return null;
  const position = kept.offset + index + 1;
  const total = Math.max(kept.total, position);
  const banner = bannerSlot();
  const previous = el('button', { type: 'button', disabled: position <= 1, onclick: () => move(-1) }, '← Previous hit');
  const next = el('button', { type: 'button', disabled: position >= total, onclick: () => move(1) }, 'Next hit →');
  const where = el('span', { class: 'hit-position' }, `Hit ${position.toLocaleString()} of ${total.toLocaleString()}`);
  const back = link(searchHash({ ...kept.search, offset: kept.offset }), 'Back to the results');

  async function move(delta) {
    const target = index + delta;
    if (target >= 0 && target < kept.ids.length) {
      location.hash = hitHref(kept.ids[target]);
      return;
    }
    previous.disabled = true;
    next.disabled = true;
    setBanner(banner);
    try {
      const limit = delta > 0 ? PAGE_SIZE : Math.min(PAGE_SIZE, kept.offset);
      const offset = delta > 0 ? kept.offset + kept.ids.length : kept.offset - limit;
      const data = await request('GET', apiPath('search'), {
        signal: ctx.signal,
        query: { ...searchQuery(kept.search), family: undefined, facets: '', limit, offset },
      });
      const ids = (Array.isArray(data.hits) ? data.hits : []).map((h) => String(h.document_id));
      if (!ids.length) {
        setBanner(banner, 'info', 'There are no more hits: the results changed since they were shown.');
        return;
      }
      rememberHits(kept.search, Number(data.total) || 0, offset, ids);
      location.hash = hitHref(delta > 0 ? ids[0] : ids[ids.length - 1]);
    } catch (err) {
      if (isQuiet(err)) return;
      setBanner(banner, 'error', `The neighbouring hits could not be loaded: ${describeError(err)}`);
      previous.disabled = position <= 1;
      next.disabled = position >= total;
    }
  }

  return el('div', { class: 'hit-nav-wrap' },
    el('nav', { class: 'hit-nav', 'aria-label': 'Search hits' }, previous, where, next, back), banner);
}

// ---------------------------------------------------------------------------
// The search page.

const SYNTAX = [
  ['invoice payment', 'both words (words are matched by their stem: invoices finds invoice)'],
  ['"phantom container repairs"', 'the exact phrase'],
  ['invoice OR receipt, invoice NOT draft, a AND b', 'boolean operators'],
  ['(invoice OR receipt) NOT draft', 'grouping with parentheses'],
  ['clerk NEAR approval, clerk NEAR/3 approval', 'words close to each other (within 10, or 3, words)'],
  ['invoic*', 'words starting with a prefix'],
  ['filename:ledger, lang:pt, type:pdf, custodian:"Internal Audit"', 'a field’s value (type: pdf, email, html, office, text, archive…)'],
  ['tag:hot, -tag:reviewed, case:ID', 'documents with (or without) a tag, or in one case'],
  ['date:2020, date:2020-01-01..2020-12-31', 'documents dated within a year or a range'],
];

function syntaxHelp() {
  const rows = SYNTAX.map(([syntax, meaning]) => el('tr', {}, el('td', {}, el('code', {}, syntax)), el('td', {}, meaning)));
  return el('details', { class: 'syntax-help' },
    el('summary', {}, 'Query syntax'),
    el('table', { class: 'data' },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Write'), el('th', { scope: 'col' }, 'To find'))),
      el('tbody', {}, rows)));
}

function isEditable(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

const documents = (n) => `${n.toLocaleString()} ${n === 1 ? 'document' : 'documents'}`;

export function searchPage(view, ctx, _args, params) {
  const { signal } = ctx;
  const query = el('input', { type: 'search', name: 'q', autocomplete: 'off', spellcheck: 'false', class: 'query' });
  const cases = caseFilter();
  const sortSelect = el('select', { name: 'sort' },
    el('option', { value: 'relevance' }, 'Relevance'), el('option', { value: 'date' }, 'Date, newest first'));
  const familyBox = checkbox('Families', 'true');
  const familyInput = familyBox.querySelector('input');
  familyBox.title = 'Show each hit’s family: an email with its attachments, an archive with its members';
  const form = el('form', { class: 'search-form', role: 'search' },
    field('Query', query), field('Case', cases.select), field('Sort by', sortSelect), familyBox,
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Search')));
  const banner = bannerSlot();
  const notes = el('div', { class: 'notes', 'aria-live': 'polite' });
  const count = el('p', { class: 'result-count', 'aria-live': 'polite' });
  const exceptionsSlot = el('span', { class: 'exceptions' });
  const exportLink = el('a', { class: 'button secondary', download: 'hits.csv' }, 'Export CSV');
  const saveButton = el('button', { type: 'button' }, 'Save search');
  const resultActions = el('div', { class: 'result-actions', hidden: true }, exportLink, saveButton);
  const summary = el('div', { class: 'result-summary' }, count, exceptionsSlot, resultActions);
  const hits = el('ol', { class: 'hits' });
  const previous = el('button', { type: 'button' }, 'Previous');
  const next = el('button', { type: 'button' }, 'Next');
  const range = el('span', { class: 'range' });
  const pager = el('nav', { class: 'pager', 'aria-label': 'Result pages', hidden: true }, previous, range, next);
  const facets = el('aside', { class: 'facets', 'aria-label': 'Filters', hidden: true });
  const keys = el('p', { class: 'hint keys' },
    el('kbd', {}, '/'), ' jumps to the query box; ', el('kbd', {}, '↑'), ' ', el('kbd', {}, '↓'), ' select a result; ',
    el('kbd', {}, 'Enter'), ' opens it.');

  // Saving the search: a name typed in place.
  const toolsBanner = bannerSlot();
  const saveName = el('input', { type: 'text', name: 'name', maxlength: '200', autocomplete: 'off', required: true });
  const saveForm = el('form', { class: 'inline-form save-search', hidden: true },
    field('Name of the saved search', saveName),
    el('div', { class: 'actions' },
      el('button', { type: 'submit', class: 'primary' }, 'Save'),
      el('button', { type: 'button', onclick: () => { saveForm.hidden = true; saveButton.focus(); } }, 'Cancel')));

  // Tagging every hit of the search (not only this page), after a confirmation.
  const tagInput = el('input', { type: 'text', name: 'tags', autocomplete: 'off', spellcheck: 'false', maxlength: '300' });
  const addAll = el('button', { type: 'button', onclick: () => askBulk('add') }, 'Tag all hits');
  const removeAll = el('button', { type: 'button', onclick: () => askBulk('remove') }, 'Remove from all hits');
  const bulkActions = el('div', { class: 'actions' }, addAll, removeAll);
  const bulkForm = el('form', { class: 'inline-form bulk-tags' },
    field('Tags for all hits', tagInput), bulkActions,
    el('p', { class: 'hint' }, 'Every hit of the search, not only this page. Several tags: separate them with spaces.'));
  const tools = el('div', { class: 'review-tools', hidden: true }, bulkForm);

  view.append(heading('Search'), form, el('div', { class: 'search-aids' }, syntaxHelp(), keys), banner, notes, summary,
    saveForm, tools, toolsBanner,
    el('div', { class: 'results-layout' }, el('div', { class: 'results' }, hits, pager), facets));

  let shown = searchOf(new URLSearchParams()); // the search on screen
  let shownTotal = 0;
  let selected = -1;
  let searchSeq = 0;

  // The case list fills the filter and names the case of every hit.
  let caseTitles = new Map();
  const casesReady = loadCases(signal, banner).then((titles) => {
    caseTitles = titles;
    cases.fill(titles);
  });

  function go(search) {
    const before = location.hash;
    location.hash = searchHash(search);
    // The same search again does not change the hash: run it anyway.
    if (location.hash === before) ctx.update(new URLSearchParams(location.hash.slice(location.hash.indexOf('?') + 1)));
  }

  // The server would answer an empty query with every document; the page
  // asks for one instead.
  const EMPTY_HINT = 'Type a word, a "phrase" or a field such as filename:ledger, then press Enter; Query syntax lists the rest.';

  function clearResults() {
    count.textContent = '';
    notes.replaceChildren();
    exceptionsSlot.replaceChildren();
    resultActions.hidden = true;
    tools.hidden = true;
    saveForm.hidden = true;
    hits.replaceChildren();
    facets.replaceChildren();
    facets.hidden = true;
    pager.hidden = true;
    selected = -1;
  }

  function askForQuery() {
    searchSeq += 1; // a search still under way must not fill the page
    clearResults();
    setBanner(banner, 'info', EMPTY_HINT);
    query.focus();
  }

  /** The search the form describes; `keepOffset` stays on the page shown if only view options changed. */
  function formSearch(keepOffset = false) {
    const search = {
      q: query.value, caseId: cases.select.value, sort: sortSelect.value, family: familyInput.checked, offset: 0,
    };
    if (keepOffset && search.q === shown.q && search.caseId === shown.caseId && search.sort === shown.sort) {
      search.offset = shown.offset;
    }
    return search;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!query.value.trim()) {
      askForQuery();
      return;
    }
    go(formSearch());
  });
  // Sorting and families change the view of a search: they apply at once.
  sortSelect.addEventListener('change', () => { if (query.value.trim()) go(formSearch()); });
  familyInput.addEventListener('change', () => { if (query.value.trim()) go(formSearch(true)); });
  previous.addEventListener('click', () => go({ ...shown, offset: Math.max(0, shown.offset - PAGE_SIZE) }));
  next.addEventListener('click', () => go({ ...shown, offset: shown.offset + PAGE_SIZE }));

  ctx.update = (p) => {
    shown = searchOf(p);
    query.value = shown.q;
    sortSelect.value = shown.sort;
    familyInput.checked = shown.family;
    cases.choose(shown.caseId);
    setBanner(toolsBanner);
    saveForm.hidden = true;
    bulkIdle();
    if (!p.has('q')) return;
    if (shown.q.trim()) runSearch(shown);
    else askForQuery();
  };

  async function runSearch(search) {
    const seq = ++searchSeq;
    setBanner(banner);
    count.textContent = 'Searching…';
    hits.setAttribute('aria-busy', 'true');
    try {
      const [data] = await Promise.all([
        request('GET', apiPath('search'), {
          signal, query: { ...searchQuery(search), limit: PAGE_SIZE, offset: search.offset },
        }),
        casesReady,
      ]);
      if (seq === searchSeq) showResults(data, search);
    } catch (err) {
      if (seq !== searchSeq || isQuiet(err)) return;
      clearResults();
      if (err instanceof ApiError && err.status === 400 && err.position) showQueryError(err, search.q);
      else setBanner(banner, 'error', describeError(err));
    } finally {
      if (seq === searchSeq) hits.removeAttribute('aria-busy');
    }
  }

  /** A malformed query: the server's sentence, the query with the place marked, and the place selected in the box. */
  function showQueryError(err, q) {
    const chars = Array.from(q); // positions count characters, not UTF-16 units
    const at = Math.min(Math.max(err.position - 1, 0), chars.length);
    const before = chars.slice(0, at).join('');
    const here = chars[at] ?? '';
    setBanner(banner, 'error', describeError(err),
      el('code', { class: 'query-echo', 'aria-hidden': 'true' }, before, el('mark', {}, here || ' '), chars.slice(at + 1).join('')));
    if (query.value === q) {
      query.focus();
      query.setSelectionRange(before.length, before.length + here.length);
    }
  }

  function showResults(data, search) {
    const total = Number(data.total) || 0;
    const list = Array.isArray(data.hits) ? data.hits : [];
    shownTotal = total;
    notes.replaceChildren(...answerNotes(data));
    count.textContent = `${total.toLocaleString()} ${total === 1 ? 'result' : 'results'}`;
    exceptionsSlot.replaceChildren(exceptionsLink(data.exceptions, search.caseId) || '');
    exportLink.href = withQuery(apiPath('search', 'export'), { ...searchQuery(search), family: undefined });
    exportLink.hidden = total === 0;
    resultActions.hidden = false;
    tools.hidden = total === 0;
    bulkIdle();
    selected = -1;
    hits.replaceChildren(...list.map((hit) => hitItem(hit, { caseTitles, sort: search.sort, family: search.family })));
    if (!list.length) {
      hits.append(el('li', { class: 'empty' }, total ? 'No more results on this page.' : 'No document matches this query.'));
    }
    const groups = facetGroups(data.facets, search.q, caseTitles,
      (clause) => go({ ...search, q: toggleClause(search.q, clause), offset: 0 }));
    facets.replaceChildren(el('h2', {}, 'Filters'), ...groups);
    facets.hidden = !groups.length;
    const first = search.offset + 1;
    const last = search.offset + list.length;
    range.textContent = list.length ? `${first.toLocaleString()}–${last.toLocaleString()} of ${total.toLocaleString()}` : '';
    previous.disabled = search.offset <= 0;
    next.disabled = last >= total || !list.length;
    pager.hidden = total <= PAGE_SIZE && search.offset === 0;
    rememberHits(search, total, search.offset, list.map((hit) => String(hit.document_id)));
  }

  saveButton.addEventListener('click', () => {
    setBanner(toolsBanner);
    saveForm.hidden = false;
    saveName.focus();
    saveName.select();
  });

  saveForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = saveName.value.trim();
    if (!name) {
      saveName.focus();
      return;
    }
    setBusy(saveForm, true);
    setBanner(toolsBanner);
    try {
      await request('POST', apiPath('searches'), {
        signal, json: { name, query: shown.q, case: shown.caseId || undefined },
      });
      saveForm.hidden = true;
      saveName.value = '';
      setBanner(toolsBanner, 'success', `Saved as “${name}”. Run it again from `, link('#/searches', 'the saved searches page'),
        ' to see what is new.');
    } catch (err) {
      if (!isQuiet(err)) setBanner(toolsBanner, 'error', `The search was not saved: ${describeError(err)}`);
    } finally {
      setBusy(saveForm, false);
    }
  });

  function bulkIdle() {
    bulkActions.replaceChildren(addAll, removeAll);
  }

  function askBulk(mode) {
    const tags = parseTags(tagInput.value);
    setBanner(toolsBanner);
    if (!tags.length) {
      setBanner(toolsBanner, 'error', mode === 'add' ? 'Type the tags to add.' : 'Type the tags to remove.');
      tagInput.focus();
      return;
    }
    const target = shown;
    const n = `${shownTotal.toLocaleString()} ${shownTotal === 1 ? 'hit' : 'hits'}`;
    const confirm = el('button', {
      type: 'button', class: mode === 'add' ? 'primary' : 'danger', onclick: () => runBulk(mode, tags, target),
    }, mode === 'add' ? `Confirm: tag ${n} with ${tags.join(', ')}` : `Confirm: remove ${tags.join(', ')} from ${n}`);
    bulkActions.replaceChildren(confirm, el('button', { type: 'button', onclick: () => { bulkIdle(); tagInput.focus(); } }, 'Cancel'));
    confirm.focus();
  }

  bulkForm.addEventListener('submit', (event) => {
    event.preventDefault();
    askBulk('add');
  });

  async function runBulk(mode, tags, target) {
    setBusy(bulkForm, true);
    setBanner(toolsBanner);
    try {
      const answer = await request('POST', apiPath('search', 'tags'), {
        signal,
        json: {
          q: target.q, case: target.caseId || undefined, add: mode === 'add' ? tags : [], remove: mode === 'add' ? [] : tags,
        },
      });
      const changed = Number(answer && answer.changed) || 0;
      tagInput.value = '';
      setBanner(toolsBanner, 'success', mode === 'add'
        ? `Tagged ${tags.join(', ')}: ${documents(changed)} changed.`
        : `Removed ${tags.join(', ')}: ${documents(changed)} changed.`);
      // The hits and the tag facet show the new tags.
      if (target === shown) runSearch(shown);
    } catch (err) {
      if (!isQuiet(err)) setBanner(toolsBanner, 'error', describeError(err));
    } finally {
      setBusy(bulkForm, false);
      bulkIdle();
    }
  }

  // Keyboard: "/" focuses the query box; arrows move a visible selection
  // (which is also the focus) across the hits; Enter opens the selected hit.
  function hitItems() {
    return [...hits.querySelectorAll(':scope > li.hit')];
  }

  function select(index, focus = true) {
    const items = hitItems();
    if (!items.length) return;
    selected = Math.min(Math.max(index, 0), items.length - 1);
    items.forEach((item, i) => {
      item.classList.toggle('selected', i === selected);
      if (i === selected) item.setAttribute('aria-current', 'true');
      else item.removeAttribute('aria-current');
    });
    if (focus) items[selected].querySelector('a.hit-title').focus({ preventScroll: true });
    items[selected].scrollIntoView({ block: 'nearest' });
  }

  // Tabbing into a hit (its title, or a link of its family) selects it and
  // leaves the focus where it went.
  hits.addEventListener('focusin', (event) => {
    const index = hitItems().indexOf(event.target.closest('li.hit'));
    if (index >= 0 && index !== selected) select(index, false);
  });

  function onKey(event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (event.key === '/' && !isEditable(target)) {
      event.preventDefault();
      query.focus();
      query.select();
      return;
    }
    const inHits = target instanceof Node && hits.contains(target);
    const onPage = target === document.body || target === document.documentElement;
    if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && (inHits || onPage || target === query)) {
      if (!hitItems().length) return;
      event.preventDefault();
      if (selected < 0) select(0);
      else select(selected + (event.key === 'ArrowDown' ? 1 : -1));
      return;
    }
    if (event.key === 'Enter' && selected >= 0 && (onPage || (inHits && target.classList.contains('hit-title')))) {
      const linkEl = hitItems()[selected]?.querySelector('a.hit-title');
      if (!linkEl) return;
      event.preventDefault();
      location.hash = linkEl.getAttribute('href');
    }
  }
  document.addEventListener('keydown', onKey);
  ctx.onClose(() => document.removeEventListener('keydown', onKey));

  ctx.update(params);
  query.focus();
}
