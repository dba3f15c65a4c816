// The audit page (#/audit?user=&action=&target=&since=): the trail's
// events in order, its check against the signed head, and its exports.
// For admins and the auditor role (the server refuses anyone else).
//
// Events name users and ids; they still reach the DOM as text only.

import { apiPath, describeError, isQuiet, request, withQuery } from './api.js';
import { bannerSlot, dataTable, el, field, formatDate, heading, link, setBanner, setBusy } from './ui.js';

const ACTIONS = [
  'login', 'login_failed', 'logout', 'user_added', 'user_disabled', 'role_added', 'member_added', 'member_removed',
  'password_changed', 'password_reset', 'second_factor_changed', 'case_created', 'case_read', 'granted', 'revoked',
  'ingest_started', 'ingest_finished', 'document_added', 'document_read', 'content_read', 'text_read', 'searched',
  'reindexed', 'job_cancelled', 'tagged', 'search_saved', 'hits_exported', 'document_exported', 'term_report', 'links_read',
  'link_decided', 'link_notice', 'stop_entity_set', 'link_settings', 'case_changed', 'task_added', 'task_changed',
  'note_added', 'workflow_read', 'reminded', 'workflow_settings',
];
const PAGE = 100;

function filtersOf(params) {
  const f = {};
  for (const key of ['case', 'user', 'action', 'target', 'since']) {
    const v = (params.get(key) || '').trim();
    if (v) f[key] = v;
  }
  return f;
}

function verdictText(v) {
  const head = v.head || {};
  if (v.ok) {
    const extra = Number(v.unsigned_events) ? `, ${Number(v.unsigned_events)} since then not yet signed` : '';
    return `The trail holds: ${Number(v.events).toLocaleString()} events chained, ${Number(head.size || 0).toLocaleString()} under the head signed ${formatDate(head.at ? new Date(head.at * 1000).toISOString() : '')}${extra}.`;
  }
  return `The trail is damaged: ${String(v.problem || 'unknown problem')}${v.first_bad ? ` (first bad event: ${Number(v.first_bad)})` : ''}.`;
}

export async function auditPage(view, ctx, _args, params) {
  const filters = filtersOf(params);
  const banner = bannerSlot();
  view.append(heading(filters.case ? 'Audit trail of a case' : 'Audit trail'), banner);
  if (filters.case) {
    view.append(el('p', {}, 'The events of case ', link(`#/case/${encodeURIComponent(filters.case)}`, filters.case),
      ' and of its documents. ', link('#/audit', 'All events'), ' (admins and auditors).'));
  }

  const user = el('input', { type: 'text', name: 'user', value: filters.user || '', maxlength: '64' });
  const action = el('select', { name: 'action' }, el('option', { value: '' }, 'Any action'),
    ACTIONS.map((a) => el('option', { value: a, selected: a === filters.action }, a)));
  const target = el('input', { type: 'text', name: 'target', value: filters.target || '', maxlength: '128',
    placeholder: 'case, document, user or role id' });
  const since = el('input', { type: 'text', name: 'since', value: filters.since || '', placeholder: '2026-12-01T00:00:00Z' });
  const form = el('form', { class: 'inline-form audit-filters', role: 'search' },
    field('User', user), field('Action', action), field('Target', target), field('Since', since),
    el('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (filters.case) q.set('case', filters.case);
    for (const [k, c] of [['user', user], ['action', action], ['target', target], ['since', since]]) {
      if (c.value.trim()) q.set(k, c.value.trim());
    }
    location.hash = `#/audit${q.toString() ? `?${q}` : ''}`;
  });

  const verdict = el('p', { class: 'audit-verdict muted', 'aria-live': 'polite' }, 'Not checked yet.');
  const verify = el('button', { type: 'button' }, 'Verify the trail');
  const tools = el('div', { class: 'audit-tools' }, verify,
    link(withQuery(apiPath('audit'), { ...filters, format: 'csv', limit: 1000 }), 'Export CSV', { download: 'audit.csv' }),
    ' ',
    link(withQuery(apiPath('audit'), { ...filters, format: 'jsonl', limit: 1000 }), 'Export JSON lines', { download: 'audit.jsonl' }),
    ' ',
    link(apiPath('audit', 'head'), 'Download the signed head', { download: 'audit-head.json' }));
  verify.addEventListener('click', async () => {
    setBusy(tools, true);
    verdict.textContent = 'Checking every event…';
    try {
      const v = await request('GET', apiPath('audit', 'verify'), { signal: ctx.signal });
      verdict.textContent = verdictText(v);
      verdict.className = `audit-verdict ${v.ok ? 'verdict-ok' : 'verdict-bad'}`;
    } catch (err) {
      if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
    } finally {
      setBusy(tools, false);
    }
  });

  const table = el('div', {}, el('p', { class: 'muted' }, 'Loading events…'));
  const more = el('button', { type: 'button', hidden: true }, 'Next events');
  view.append(form, tools, verdict, table, more);

  let after = 0;
  let rows = [];
  async function load() {
    const data = await request('GET', apiPath('audit'), { signal: ctx.signal, query: { ...filters, after, limit: PAGE } });
    const events = Array.isArray(data.events) ? data.events : [];
    rows = rows.concat(events);
    if (events.length) after = Number(events[events.length - 1].seq) || after;
    more.hidden = events.length < PAGE;
    table.replaceChildren(dataTable([
      { label: '#', class: 'num', cell: (e) => String(Number(e.seq) || 0) },
      { label: 'Time', cell: (e) => String(e.time ?? '') },
      { label: 'User', cell: (e) => String(e.user || '—') },
      { label: 'Action', cell: (e) => el('span', { class: 'badge' }, String(e.action ?? '')) },
      { label: 'Target', cell: (e) => String(e.target || '—') },
      {
        label: 'Detail',
        cell: (e) => (typeof e.detail === 'string' ? el('q', {}, e.detail)
          : e.detail_sealed ? el('span', { class: 'muted' }, 'sealed') : '—'),
      },
      { label: 'Hash', class: 'hash', cell: (e) => el('code', { title: String(e.hash ?? '') }, String(e.hash ?? '').slice(0, 12)) },
    ], rows, { caption: `${rows.length.toLocaleString()} event${rows.length === 1 ? '' : 's'}`, empty: 'No event matches.' }));
  }
  more.addEventListener('click', () => load().catch((err) => {
    if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
  }));
  await load();
}
