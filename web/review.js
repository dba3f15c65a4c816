// Review pages beside Search: the documents not fully searchable, saved
// searches, and the search-term report.
//
// Routes: #/exceptions?case=&offset=, #/searches, #/terms. Names of saved
// searches, queries, terms and file names come from people and documents:
// they reach the DOM as text only.

import { apiPath, describeError, isQuiet, request } from './api.js';
import {
  bannerSlot, caseHref, dataTable, docHref, el, field, formatDate, heading, humanize, link, setBanner, setBusy,
} from './ui.js';
import {
  PAGE_SIZE, answerNotes, caseFilter, exceptionsHash, exceptionsLink, hitItem, loadCases, rememberHits, searchHash,
} from './search.js';

const EXCEPTIONS_PAGE = 100;

const count = (n) => Number(n || 0).toLocaleString();

/** Offers `text` as a file to save, without a round trip to the server. */
function saveFile(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const anchor = el('a', { href: url, download: name, hidden: true });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  // The download has started by the next turn; the address is then freed.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---------------------------------------------------------------------------
// Documents not fully searchable.

export function exceptionsPage(view, ctx, _args, params) {
  const { signal } = ctx;
  const banner = bannerSlot();
  const cases = caseFilter();
  const filter = el('form', { class: 'inline-form' }, field('Case', cases.select),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Show')));
  const total = el('p', { class: 'result-count', 'aria-live': 'polite' });
  const slot = el('div');
  const previous = el('button', { type: 'button' }, 'Previous');
  const next = el('button', { type: 'button' }, 'Next');
  const range = el('span', { class: 'range' });
  const pager = el('nav', { class: 'pager', 'aria-label': 'Result pages', hidden: true }, previous, range, next);
  view.append(heading('Not fully searchable'),
    el('p', { class: 'hint' },
      'Documents in scope whose text is missing, failed to extract or is only partly indexed: a search of words can miss them, so review them by other means.'),
    filter, banner, total, slot, pager);

  let caseTitles = new Map();
  const casesReady = loadCases(signal, banner).then((titles) => {
    caseTitles = titles;
    cases.fill(titles);
  });
  let shown = { caseId: '', offset: 0 };
  let seq = 0;

  filter.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = exceptionsHash(cases.select.value);
  });
  previous.addEventListener('click', () => { location.hash = exceptionsHash(shown.caseId, Math.max(0, shown.offset - EXCEPTIONS_PAGE)); });
  next.addEventListener('click', () => { location.hash = exceptionsHash(shown.caseId, shown.offset + EXCEPTIONS_PAGE); });

  ctx.update = async (p) => {
    shown = { caseId: p.get('case') || '', offset: Math.max(0, Number.parseInt(p.get('offset') || '0', 10) || 0) };
    cases.choose(shown.caseId);
    const mine = ++seq;
    setBanner(banner);
    total.textContent = 'Loading…';
    try {
      const [data] = await Promise.all([
        request('GET', apiPath('search', 'exceptions'), {
          signal, query: { case: shown.caseId || undefined, limit: EXCEPTIONS_PAGE, offset: shown.offset },
        }),
        casesReady,
      ]);
      if (mine !== seq) return;
      const n = Number(data.total) || 0;
      const docs = Array.isArray(data.documents) ? data.documents : [];
      total.textContent = `${count(n)} ${n === 1 ? 'document' : 'documents'} not fully searchable`;
      slot.replaceChildren(dataTable([
        { label: 'File name', cell: (d) => link(docHref(d.document_id), d.filename || '(no file name)') },
        { label: 'Case', cell: (d) => (d.case_id ? link(caseHref(d.case_id), caseTitles.get(d.case_id) || `Case ${d.case_id}`) : '—') },
        { label: 'Status', cell: (d) => humanize(d.status) },
        { label: 'Why', cell: (d) => d.reason || '—' },
      ], docs, { empty: 'Every document in scope is fully searchable.' }));
      const last = shown.offset + docs.length;
      range.textContent = docs.length ? `${count(shown.offset + 1)}–${count(last)} of ${count(n)}` : '';
      previous.disabled = shown.offset <= 0;
      next.disabled = last >= n || !docs.length;
      pager.hidden = n <= EXCEPTIONS_PAGE && shown.offset === 0;
    } catch (err) {
      if (mine !== seq || isQuiet(err)) return;
      total.textContent = '';
      slot.replaceChildren();
      setBanner(banner, 'error', describeError(err));
    }
  };
  ctx.update(params);
}

// ---------------------------------------------------------------------------
// Saved searches.

export async function savedSearchesPage(view, ctx) {
  const { signal } = ctx;
  const banner = bannerSlot();
  const listSlot = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const runSlot = el('section', { class: 'saved-run', hidden: true });
  view.append(heading('Saved searches'),
    el('p', { class: 'hint' },
      'Save a search from the Search page. Running it shows its hits and how many of them arrived since it last ran.'),
    banner, listSlot, runSlot);
  const casesReady = loadCases(signal, banner);
  let running = ''; // id of the search whose results are shown

  async function load() {
    const [data, titles] = await Promise.all([request('GET', apiPath('searches'), { signal }), casesReady]);
    listSlot.replaceChildren(dataTable([
      { label: 'Name', cell: (s) => el('span', { class: 'saved-name' }, s.name || '(unnamed)') },
      { label: 'Query', cell: (s) => (s.query ? el('code', {}, s.query) : el('span', { class: 'muted' }, '(every document)')) },
      {
        label: 'Case',
        cell: (s) => (s.case_id ? link(caseHref(s.case_id), titles.get(s.case_id) || `Case ${s.case_id}`) : 'All cases'),
      },
      { label: 'Saved', cell: (s) => formatDate(s.created_at) },
      {
        label: 'Last run',
        cell: (s) => (s.last_run_at ? `${formatDate(s.last_run_at)}: ${count(s.last_total)} ${Number(s.last_total) === 1 ? 'result' : 'results'}` : 'Never'),
      },
      { label: 'Actions', cell: (s) => actions(s) },
    ], data.searches || [], { empty: 'No saved searches yet. Run a search, then choose Save search.' }));
  }

  // Deleting cannot be undone, so it asks for a second click.
  function actions(s) {
    const cell = el('div', { class: 'row-actions' });
    const name = s.name || '(unnamed)';
    function idle() {
      cell.replaceChildren(
        el('button', { type: 'button', class: 'small primary', 'aria-label': `Run ${name}`, onclick: (e) => run(s, e.currentTarget) }, 'Run'),
        link(searchHash({ q: s.query || '', caseId: s.case_id || '', sort: 'relevance', family: false, offset: 0 }), 'Open in Search'),
        el('button', { type: 'button', class: 'small', 'aria-label': `Delete ${name}`, onclick: ask }, 'Delete'));
    }
    function ask() {
      const confirm = el('button', { type: 'button', class: 'danger small', onclick: remove }, `Confirm: delete ${name}`);
      cell.replaceChildren(confirm, el('button', { type: 'button', class: 'small', onclick: idle }, 'Keep'));
      confirm.focus();
    }
    async function remove(event) {
      event.currentTarget.disabled = true;
      setBanner(banner);
      try {
        await request('DELETE', apiPath('searches', s.id), { signal });
        if (running === s.id) {
          running = '';
          runSlot.hidden = true;
          runSlot.replaceChildren();
        }
        await load();
        setBanner(banner, 'success', `The saved search “${name}” is deleted.`);
      } catch (err) {
        if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
        idle();
      }
    }
    idle();
    return cell;
  }

  async function run(s, button) {
    const name = s.name || '(unnamed)';
    const title = el('h2', { tabindex: '-1' }, `Results of “${name}”`);
    button.disabled = true;
    running = s.id;
    runSlot.hidden = false;
    runSlot.replaceChildren(title, el('p', { class: 'muted' }, 'Running…'));
    setBanner(banner);
    try {
      const [data, titles] = await Promise.all([
        request('GET', apiPath('searches', s.id, 'run'), { signal, query: { limit: PAGE_SIZE, offset: 0 } }),
        casesReady,
      ]);
      const saved = data.search || s;
      const search = {
        q: String(saved.query ?? ''), caseId: saved.case_id ? String(saved.case_id) : '', sort: 'relevance', family: false, offset: 0,
      };
      const total = Number(data.total) || 0;
      const list = Array.isArray(data.hits) ? data.hits : [];
      const fresh = Number(data.new_since_last_run) || 0;
      // The saved search as it was before this run: when it last ran.
      const before = saved.last_run_at;
      rememberHits(search, total, 0, list.map((hit) => String(hit.document_id)));
      runSlot.replaceChildren(title, ...answerNotes(data),
        el('div', { class: 'result-summary' },
          el('p', { class: 'result-count' }, `${count(total)} ${total === 1 ? 'result' : 'results'}`),
          el('p', { class: fresh > 0 ? 'new-since fresh' : 'new-since' }, before
            ? `${count(fresh)} new since last run (${formatDate(before)})`
            : 'First run: the next run counts what is new since this one.'),
          exceptionsLink(data.exceptions, search.caseId)),
        el('ol', { class: 'hits' }, list.length
          ? list.map((hit) => hitItem(hit, { caseTitles: titles }))
          : el('li', { class: 'empty' }, 'No document matches this search.')),
        el('p', { class: 'hint' }, total > list.length ? `These are the first ${count(list.length)}. ` : '',
          link(searchHash(search), 'Open in Search'), ' to filter these hits by facets, see their families or tag them.'));
      title.focus({ preventScroll: true });
      await load(); // its last run changed
    } catch (err) {
      if (isQuiet(err)) return;
      runSlot.replaceChildren(title);
      setBanner(banner, 'error', `“${name}” could not be run: ${describeError(err)}`);
      button.disabled = false;
    }
  }

  await load();
}

// ---------------------------------------------------------------------------
// Search-term report.

export function termsPage(view, ctx) {
  const { signal } = ctx;
  const terms = el('textarea', { name: 'terms', rows: '8', spellcheck: 'false', required: true, class: 'terms' });
  const cases = caseFilter();
  const banner = bannerSlot();
  const form = el('form', { class: 'stack terms-form' },
    field('Search terms, one per line', terms,
      'Each line is a query of its own: words, "phrases", operators and fields work as on the Search page.'),
    field('Case', cases.select),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Run report')));
  const result = el('section', { class: 'term-report', hidden: true });
  view.append(heading('Search-term report'), form, banner, result);
  loadCases(signal, banner).then((titles) => cases.fill(titles));
  let last = null; // {terms, caseId, data} of the report shown

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const list = terms.value.split(/\r?\n/u).map((t) => t.trim()).filter(Boolean);
    if (!list.length) {
      setBanner(banner, 'error', 'Type at least one term, one per line.');
      terms.focus();
      return;
    }
    const caseId = cases.select.value;
    setBusy(form, true);
    setBanner(banner);
    try {
      const data = await request('POST', apiPath('search', 'terms'), { signal, json: { terms: list, case: caseId || undefined } });
      last = { terms: list, caseId, data };
      showReport(data, caseId);
    } catch (err) {
      if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
    } finally {
      setBusy(form, false);
    }
  });

  const csvButton = el('button', { type: 'button' }, 'Download CSV');
  const jsonButton = el('button', { type: 'button' }, 'Download JSON');
  csvButton.addEventListener('click', async () => {
    if (!last) return;
    csvButton.disabled = true;
    setBanner(banner);
    try {
      const csv = await request('POST', apiPath('search', 'terms'), {
        signal, query: { format: 'csv' }, json: { terms: last.terms, case: last.caseId || undefined },
      });
      saveFile('search-terms.csv', 'text/csv;charset=utf-8', String(csv));
    } catch (err) {
      if (!isQuiet(err)) setBanner(banner, 'error', `The CSV could not be made: ${describeError(err)}`);
    } finally {
      csvButton.disabled = false;
    }
  });
  jsonButton.addEventListener('click', () => {
    if (last) saveFile('search-terms.json', 'application/json', `${JSON.stringify(last.data, null, 2)}\n`);
  });

  function showReport(data, caseId) {
    const rows = Array.isArray(data.rows) ? data.rows : [];
    const head = el('tr', {}, ['Term', 'Hits', 'Unique hits', 'Families', 'With families'].map((label, i) =>
      el('th', { scope: 'col', class: i ? 'num' : null }, label)));
    const body = rows.map((r) => el('tr', {},
      el('th', { scope: 'row', class: 'term' }, el('code', {}, String(r.term ?? '')),
        r.query_note ? el('p', { class: 'hint' }, String(r.query_note)) : null),
      el('td', { class: 'num' }, count(r.hits)),
      el('td', { class: 'num' }, count(r.unique_hits)),
      el('td', { class: 'num' }, count(r.families)),
      el('td', { class: 'num' }, count(r.family_documents))));
    const totals = el('tr', { class: 'totals' },
      el('th', { scope: 'row' }, 'Any term'),
      el('td', { class: 'num' }, count(data.total_documents)),
      el('td', { class: 'num' }, '—'),
      el('td', { class: 'num' }, '—'),
      el('td', { class: 'num' }, count(data.total_family_documents)));
    const exceptions = Number(data.exceptions) || 0;
    result.hidden = false;
    result.replaceChildren(
      el('h2', {}, 'Report'),
      el('div', { class: 'table-wrap' }, el('table', { class: 'data terms-table' },
        el('thead', {}, head), el('tbody', {}, body), el('tfoot', {}, totals))),
      el('dl', { class: 'legend' },
        el('dt', {}, 'Hits'), el('dd', {}, 'documents the term finds'),
        el('dt', {}, 'Unique hits'), el('dd', {}, 'documents this term finds and no other term does'),
        el('dt', {}, 'Families'), el('dd', {}, 'families holding at least one hit'),
        el('dt', {}, 'With families'), el('dd', {}, 'the hits and every other member of their families')),
      el('p', { class: 'report-exceptions' }, exceptions
        ? [`${count(exceptions)} ${exceptions === 1 ? 'document' : 'documents'} in scope cannot be searched fully, so a term can miss them: `,
          link(exceptionsHash(caseId), 'list them'), '.']
        : 'Every document in scope is fully searchable.'),
      el('div', { class: 'actions' }, csvButton, jsonButton));
  }

  terms.focus();
}
