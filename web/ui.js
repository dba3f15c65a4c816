// DOM helpers for the Dossier web page.
//
// Everything shown on the page comes from documents and users and is treated
// as hostile: text only ever reaches the DOM through text nodes. Nothing here
// parses HTML; search snippets are rebuilt element by element.

let nextId = 0;

/** A page-unique id for pairing a <label> with its control. */
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/**
 * Creates an element. `props` maps attribute names to values, with three
 * special keys: `class`, `text` (textContent) and `on<event>` (a listener).
 * `true` sets a boolean attribute; `false`, `null` and `undefined` skip it.
 * Children are nodes or strings (appended as text); null/false are skipped
 * and arrays are flattened.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') {
      node.className = value;
    } else if (key === 'text') {
      node.textContent = String(value);
    } else if (key.startsWith('on')) {
      // Listeners only: a string here would be inline script, which the
      // Content-Security-Policy forbids anyway.
      if (typeof value !== 'function') throw new TypeError(`${key} must be a function`);
      node.addEventListener(key.slice(2), value);
    } else if (key === 'style') {
      throw new TypeError('inline styles are not allowed; use a class');
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  appendChildren(node, children);
  return node;
}

function appendChildren(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) appendChildren(node, child);
    else if (child instanceof Node) node.append(child);
    else node.append(document.createTextNode(String(child)));
  }
}

/** A link inside the page (hash route) or to an API download. */
export function link(href, text, props = {}) {
  return el('a', { ...props, href }, text);
}

/** The page's address of a document and of a case. */
export const docHref = (id) => `#/doc/${encodeURIComponent(id)}`;
export const caseHref = (id) => `#/case/${encodeURIComponent(id)}`;

/** A page's title; it takes the focus when the page opens (see app.js). */
export function heading(text) {
  return el('h1', { tabindex: '-1' }, text);
}

/** The value, or an em dash when there is nothing to show. */
export function orDash(value) {
  if (value === undefined || value === null || value === '') return '—';
  if (Array.isArray(value)) return value.length ? value.join(', ') : '—';
  return String(value);
}

// Search snippets: HTML-escaped text whose only markup is <mark>…</mark>.
const ENTITIES = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/** Reverses the server's escaping of the five HTML-special characters. */
export function unescapeHtml(text) {
  return text.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]);
}

/**
 * Turns a snippet into text nodes and <mark> elements without an HTML
 * parser: the string is split on the two literal tags, and every other
 * piece, whatever it contains, becomes text.
 */
export function renderSnippet(snippet) {
  const fragment = document.createDocumentFragment();
  let inMark = false;
  for (const piece of String(snippet ?? '').split(/(<mark>|<\/mark>)/)) {
    if (piece === '<mark>') {
      inMark = true;
    } else if (piece === '</mark>') {
      inMark = false;
    } else if (piece) {
      const text = document.createTextNode(unescapeHtml(piece));
      fragment.append(inMark ? el('mark', {}, text) : text);
    }
  }
  return fragment;
}

/** "1.4 MB" style sizes (binary multiples, as file managers show them). */
export function formatBytes(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** An RFC 3339 time in the reader's locale; the raw value if it does not parse. */
export function formatDate(value) {
  if (value === undefined || value === null || value === '') return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Identifiers such as "risk_assessment" as words: "risk assessment". */
export function humanize(value) {
  return value ? String(value).replace(/_/g, ' ') : '—';
}

/** A labelled form control, with an optional hint tied to it by aria-describedby. */
export function field(labelText, control, hint) {
  if (!control.id) control.id = uid();
  const wrapper = el('div', { class: 'field' }, el('label', { for: control.id }, labelText), control);
  if (hint) {
    const hintId = uid('hint');
    control.setAttribute('aria-describedby', hintId);
    wrapper.append(el('p', { class: 'hint', id: hintId }, hint));
  }
  return wrapper;
}

/** A checkbox with its label, for lists of roles. */
export function checkbox(labelText, value, checked = false) {
  const input = el('input', { type: 'checkbox', id: uid('cb'), value, checked });
  return el('div', { class: 'check' }, input, el('label', { for: input.id }, labelText));
}

/** The values of the checked boxes inside a container. */
export function checkedValues(container) {
  return [...container.querySelectorAll('input[type=checkbox]:checked')].map((box) => box.value);
}

/**
 * Shows a message in a slot: kind is 'error' (role=alert, announced at once),
 * 'success' or 'info' (role=status). Without content, the slot is cleared.
 */
export function setBanner(slot, kind, ...content) {
  if (!content.length) {
    slot.replaceChildren();
    return;
  }
  const role = kind === 'error' ? 'alert' : 'status';
  slot.replaceChildren(el('div', { class: `banner banner-${kind}`, role }, ...content));
}

/** An empty slot for banners. */
export function bannerSlot() {
  return el('div', { class: 'banner-slot' });
}

/**
 * A data table. `columns` is a list of {label, cell(row) → node|string,
 * class?}; with no rows, `empty` is shown instead.
 */
export function dataTable(columns, rows, { caption, empty = 'Nothing to show.' } = {}) {
  if (!rows.length) return el('p', { class: 'empty' }, empty);
  const head = el('tr', {}, columns.map((c) => el('th', { scope: 'col', class: c.class }, c.label)));
  const body = rows.map((row) => el('tr', {}, columns.map((c) => el('td', { class: c.class }, c.cell(row)))));
  return el(
    'div',
    { class: 'table-wrap' },
    el('table', { class: 'data' }, caption ? el('caption', {}, caption) : null, el('thead', {}, head), el('tbody', {}, body)),
  );
}

/** A two-column table of label/value pairs (metadata). */
export function propertyTable(pairs, caption) {
  const rows = pairs.map(([label, value]) =>
    el('tr', {}, el('th', { scope: 'row' }, label), el('td', {}, value instanceof Node ? value : orDash(value))),
  );
  return el('table', { class: 'properties' }, caption ? el('caption', {}, caption) : null, el('tbody', {}, rows));
}

/**
 * Disables a form's controls while a request runs, so it is not sent twice;
 * controls that were already disabled stay so afterwards.
 */
export function setBusy(form, busy) {
  for (const control of form.querySelectorAll('button, input, select, textarea')) {
    if (busy && !control.disabled) {
      control.disabled = true;
      control.dataset.busy = '1';
    } else if (!busy && control.dataset.busy) {
      control.disabled = false;
      delete control.dataset.busy;
    }
  }
  form.setAttribute('aria-busy', String(busy));
}
