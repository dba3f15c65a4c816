// Case management on the page: the case's stage, risk, owner, assignees and
// history, its tasks and notes (panels of the case page); the board of
// cases by stage (#/board), the task list across cases (#/tasks?overdue=),
// the notification inbox (#/inbox) and the reports with charts (#/reports).
//
// Titles, notes and task text come from users: they reach the DOM as text
// only (ui.js), and into Chart.js only as labels it draws on a canvas.

import { apiPath, describeError, isQuiet, request, withQuery } from './api.js';
import {
  bannerSlot, caseHref, dataTable, el, field, formatDate, heading, humanize, link, orDash, setBanner, setBusy,
} from './ui.js';

export const STAGES = ['screening', 'assessment', 'risk_assessment', 'planning', 'implementation', 'follow_up', 'evaluation'];
const RISKS = ['', 'low', 'moderate', 'high'];
const DAY = 24 * 3600;

/** A deadline's state as a badge ("overdue", "due soon", …). */
export function deadlineBadge(state) {
  if (!state) return '';
  return el('span', { class: `deadline deadline-${String(state).replace(/[^a-z_]/g, '')}` }, humanize(state));
}

const days = (seconds) => `${(Number(seconds || 0) / DAY).toFixed(1)} d`;

function select(name, values, current, label = humanize) {
  return el('select', { name }, values.map((v) => el('option', { value: v, selected: v === (current || '') }, v ? label(v) : 'Not assessed')));
}

/**
 * The workflow panel of a case page: a form to move the stage, open or
 * close, set risk, owner and assignees with a reason; the case's history.
 * `onChanged(case)` is called with the case after a change.
 */
export function workflowPanel(caseData, ctx, onChanged) {
  const { signal } = ctx;
  const banner = bannerSlot();
  const historySlot = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const form = el('form', { class: 'stack workflow-form' });
  const root = el('section', { class: 'panel', id: 'workflow' }, el('h2', {}, 'Stage, risk and people'), banner, form,
    el('h3', {}, 'History'), historySlot);

  function renderForm(c) {
    const stage = select('stage', STAGES, c.stage);
    const status = select('status', ['open', 'closed'], c.status);
    const risk = select('risk', RISKS, c.risk || '');
    const owner = el('input', { type: 'text', name: 'owner', value: c.owner || '', maxlength: '64' });
    const assignees = el('input', { type: 'text', name: 'assignees', value: (c.assignees || []).join(', '), maxlength: '2000' });
    const reason = el('input', { type: 'text', name: 'reason', maxlength: '2000', placeholder: 'optional' });
    const since = c.stage_since ? ['In this stage since ', formatDate(c.stage_since),
      c.stage_due ? [', target ', formatDate(c.stage_due), ' '] : '', deadlineBadge(c.stage_state)] : '';
    form.replaceChildren(
      el('p', { class: 'muted stage-since' }, since),
      el('div', { class: 'inline-form' }, field('Stage', stage), field('Status', status), field('Risk', risk)),
      el('div', { class: 'inline-form' }, field('Owner', owner), field('Assignees', assignees, 'User names, separated by commas; each must be able to open the case.')),
      field('Reason', reason, 'Kept with each change in the history, readable by the case’s roles only.'),
      el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Save changes')));
    form.onsubmit = async (event) => {
      event.preventDefault();
      const patch = {};
      if (stage.value !== c.stage) patch.stage = stage.value;
      if (status.value !== c.status) patch.status = status.value;
      if (risk.value !== (c.risk || '')) patch.risk = risk.value || 'none';
      if (owner.value.trim() !== (c.owner || '')) patch.owner = owner.value.trim();
      const list = assignees.value.split(',').map((s) => s.trim()).filter(Boolean);
      if (list.slice().sort().join(',') !== (c.assignees || []).slice().sort().join(',')) patch.assignees = list;
      if (!Object.keys(patch).length) {
        setBanner(banner, 'info', 'Nothing changed.');
        return;
      }
      if (reason.value.trim()) patch.reason = reason.value.trim();
      setBusy(form, true);
      try {
        const updated = await request('PATCH', apiPath('cases', c.id), { signal, json: patch });
        setBanner(banner, 'success', 'Saved.');
        renderForm(updated);
        await loadHistory(updated.id);
        onChanged?.(updated);
      } catch (err) {
        if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
      } finally {
        setBusy(form, false);
      }
    };
  }

  async function loadHistory(id) {
    const data = await request('GET', apiPath('cases', id, 'history'), { signal });
    historySlot.replaceChildren(dataTable([
      { label: 'When', cell: (e) => formatDate(e.at) },
      { label: 'Who', cell: (e) => orDash(e.user) },
      { label: 'Field', cell: (e) => humanize(e.field) },
      { label: 'From', cell: (e) => (e.from || e.to ? orDash(humanize(e.from)) : 'changed') },
      { label: 'To', cell: (e) => (e.from || e.to ? orDash(humanize(e.to)) : '') },
      { label: 'Reason', cell: (e) => orDash(e.reason) },
    ], (data.events || []).slice().reverse(), { empty: 'No change recorded yet.' }));
  }

  renderForm(caseData);
  loadHistory(caseData.id).catch((err) => { if (!isQuiet(err)) setBanner(banner, 'error', describeError(err)); });
  return root;
}

/** The titles of the cases one may open, by id (for lists across cases). */
async function caseTitles(signal) {
  const data = await request('GET', apiPath('cases'), { signal });
  return new Map((data.cases || []).map((c) => [String(c.id), String(c.title || c.id)]));
}

function taskTable(tasks, { titles = null, onDone } = {}) {
  return dataTable([
    titles ? { label: 'Case', cell: (t) => link(caseHref(t.case_id), titles.get(t.case_id) || t.case_id) } : null,
    { label: 'Task', cell: (t) => t.title },
    { label: 'Assignee', cell: (t) => orDash(t.assignee) },
    { label: 'Due', cell: (t) => formatDate(t.due) },
    { label: 'State', cell: (t) => (t.state ? deadlineBadge(t.state) : 'open') },
    onDone ? {
      label: 'Done',
      cell: (t) => el('input', {
        type: 'checkbox', checked: !!t.done, 'aria-label': `Done: ${t.title}`, onchange: (ev) => onDone(t, ev.target),
      }),
    } : null,
  ].filter(Boolean), tasks, { empty: 'No tasks.' });
}

/**
 * A panel's "add" form: on submit it POSTs `body()` to `path`, then clears
 * itself and reloads the panel's list (`load`); errors go to `banner`.
 * The list is loaded once at the start too.
 */
function addForm(form, banner, signal, path, body, load) {
  const showError = (err) => { if (!isQuiet(err)) setBanner(banner, 'error', describeError(err)); };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setBusy(form, true);
    try {
      await request('POST', path, { signal, json: body() });
      form.reset();
      setBanner(banner);
      await load();
    } catch (err) {
      showError(err);
    } finally {
      setBusy(form, false);
    }
  });
  load().catch(showError);
}

/** The tasks panel of a case page: its tasks (tick to mark done) and a form to add one. */
export function tasksPanel(caseId, ctx) {
  const { signal } = ctx;
  const banner = bannerSlot();
  const list = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const title = el('input', { type: 'text', name: 'title', required: true, maxlength: '500' });
  const due = el('input', { type: 'date', name: 'due' });
  const assignee = el('input', { type: 'text', name: 'assignee', maxlength: '64' });
  const form = el('form', { class: 'inline-form task-form' }, field('New task', title), field('Due', due),
    field('Assignee', assignee), el('button', { type: 'submit' }, 'Add task'));
  const root = el('section', { class: 'panel', id: 'tasks' }, el('h2', {}, 'Tasks'), banner, list, form);

  async function markDone(task, box) {
    box.disabled = true;
    try {
      await request('PATCH', apiPath('tasks', task.id), { signal, json: { done: box.checked } });
      await load();
    } catch (err) {
      box.checked = !box.checked;
      box.disabled = false;
      if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
    }
  }
  async function load() {
    const data = await request('GET', apiPath('cases', caseId, 'tasks'), { signal });
    list.replaceChildren(taskTable(data.tasks || [], { onDone: markDone }));
  }
  addForm(form, banner, signal, apiPath('cases', caseId, 'tasks'), () => {
    const body = { title: title.value.trim() };
    if (due.value) body.due = due.value;
    if (assignee.value.trim()) body.assignee = assignee.value.trim();
    return body;
  }, load);
  return root;
}

/** The notes panel of a case page: notes oldest first, and a form to add one. */
export function notesPanel(caseId, ctx) {
  const { signal } = ctx;
  const banner = bannerSlot();
  const list = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const text = el('textarea', { name: 'note', rows: '3', required: true, maxlength: '20000' });
  const form = el('form', { class: 'stack' }, field('New note', text),
    el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Add note')));
  const root = el('section', { class: 'panel', id: 'notes' }, el('h2', {}, 'Notes'), banner, list, form);
  async function load() {
    const data = await request('GET', apiPath('cases', caseId, 'notes'), { signal });
    const notes = data.notes || [];
    list.replaceChildren(notes.length
      ? el('ol', { class: 'notes' }, notes.map((n) => el('li', {},
        el('p', { class: 'note-meta muted' }, orDash(n.author), ' · ', formatDate(n.at)),
        el('p', { class: 'note-text' }, n.text))))
      : el('p', { class: 'empty' }, 'No notes yet.'));
  }
  addForm(form, banner, signal, apiPath('cases', caseId, 'notes'), () => ({ text: text.value }), load);
  return root;
}

/** #/board: open cases in a column per stage. */
export async function boardPage(view, ctx) {
  view.append(heading('Board'), el('p', { class: 'muted' }, 'Open cases by stage. Open a case to move it.'));
  const data = await request('GET', apiPath('cases'), { signal: ctx.signal, query: { status: 'open' } });
  const cases = data.cases || [];
  const columns = STAGES.map((stage) => {
    const here = cases.filter((c) => c.stage === stage);
    return el('section', { class: 'board-column', 'aria-label': humanize(stage) },
      el('h2', {}, humanize(stage), ' ', el('span', { class: 'count' }, String(here.length))),
      here.length ? el('ul', { class: 'board-cards' }, here.map((c) => el('li', { class: 'board-card' },
        link(caseHref(c.id), c.title || '(untitled)'),
        el('p', { class: 'muted' }, c.risk ? `risk ${humanize(c.risk)}` : 'risk not assessed', ' · ', orDash(c.owner)),
        c.stage_state && c.stage_state !== 'on_track' ? deadlineBadge(c.stage_state) : null)))
        : el('p', { class: 'empty' }, 'None.'));
  });
  view.append(el('div', { class: 'board' }, columns));
}

/** #/tasks?overdue=true&mine=true: tasks across the cases one may open. */
export async function tasksPage(view, ctx, _args, params) {
  const overdue = params.get('overdue') === 'true';
  view.append(heading(overdue ? 'Overdue tasks' : 'Open tasks'),
    el('p', {}, overdue ? link('#/tasks', 'All open tasks') : link('#/tasks?overdue=true', 'Only overdue ones'), ' · ',
      el('a', { href: withQuery(apiPath('tasks'), { format: 'csv', overdue: overdue ? 'true' : undefined }), download: 'tasks.csv' }, 'Export CSV')));
  const [data, titles] = await Promise.all([
    request('GET', apiPath('tasks'), { signal: ctx.signal, query: overdue ? { overdue: 'true' } : {} }),
    caseTitles(ctx.signal),
  ]);
  view.append(taskTable(data.tasks || [], { titles }));
}

/** #/inbox: the user's reminders; marks them read once shown. */
export async function inboxPage(view, ctx) {
  const { signal } = ctx;
  const banner = bannerSlot();
  const list = el('div');
  const markAll = el('button', { type: 'button' }, 'Mark all read');
  view.append(heading('Notifications'), banner, el('div', { class: 'actions' }, markAll), list);
  async function load() {
    const [data, titles] = await Promise.all([request('GET', apiPath('notifications'), { signal }), caseTitles(signal)]);
    list.replaceChildren(dataTable([
      { label: '', cell: (n) => (n.read ? '' : el('span', { class: 'unread', title: 'unread' }, 'new')) },
      { label: 'When', cell: (n) => formatDate(n.at) },
      { label: 'What', cell: (n) => (n.kind === 'task' ? 'A task' : `Stage ${humanize(n.stage)}`) },
      { label: 'State', cell: (n) => deadlineBadge(n.state) },
      { label: 'Due', cell: (n) => formatDate(n.due) },
      { label: 'Case', cell: (n) => link(caseHref(n.case_id), titles.get(n.case_id) || n.case_id) },
    ], data.notifications || [], { empty: 'No reminders: nothing is due soon or overdue.' }));
    markAll.disabled = !Number(data.unread);
    refreshInboxCount(data.unread);
  }
  markAll.addEventListener('click', async () => {
    markAll.disabled = true;
    try {
      await request('POST', apiPath('notifications', 'read'), { signal, json: { all: true } });
      await load();
    } catch (err) {
      if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
    }
  });
  await load();
}

/** The unread count beside the Inbox link in the top bar. */
export function refreshInboxCount(unread) {
  const badge = document.getElementById('inbox-count');
  if (!badge) return;
  const n = Number(unread) || 0;
  badge.textContent = n ? String(n) : '';
  badge.hidden = !n;
}

export async function loadInboxCount() {
  try {
    const data = await request('GET', apiPath('notifications'), { query: { unread: 'true', limit: 100 } });
    refreshInboxCount(data.unread);
  } catch {
    // The count is a convenience; the inbox page shows any error.
  }
}

async function loadChart() {
  if (globalThis.Chart) return globalThis.Chart;
  try {
    await import('/static/chart.js');
  } catch {
    return null;
  }
  return globalThis.Chart || null;
}

const RISK_COLOUR = { '': '#9aa5b1', low: '#2a9d8f', moderate: '#e9c46a', high: '#c1121f' };

function csvLink(name) {
  return el('a', { href: withQuery(apiPath('reports', name), { format: 'csv' }), download: `${name}.csv` }, 'CSV');
}

/** #/reports: where cases stand, with charts (Chart.js) and the same figures as tables. */
export async function reportsPage(view, ctx) {
  view.append(heading('Reports'), el('p', { class: 'muted' }, 'Counted over the cases and documents you may open.'));
  const data = await request('GET', apiPath('reports'), { signal: ctx.signal });
  const Chart = await loadChart();
  const byStage = data['cases-by-stage'] || {};
  const times = data['time-in-stage'] || {};
  const overdue = data.overdue || {};
  const docs = data['documents-per-case'] || {};

  const stageCanvas = el('canvas', { id: 'chart-stages', role: 'img', 'aria-label': 'Open cases by stage and risk' });
  const timeCanvas = el('canvas', { id: 'chart-times', role: 'img', 'aria-label': 'Median and 90th percentile days in each stage' });
  view.append(
    el('section', { class: 'panel report' }, el('h2', {}, 'Open cases by stage and risk ', csvLink('cases-by-stage')),
      el('p', { class: 'muted' }, `${Number(byStage.closed || 0)} closed.`),
      el('div', { class: 'chart' }, stageCanvas),
      dataTable([
        { label: 'Stage', cell: (r) => humanize(r.stage) }, { label: 'Risk', cell: (r) => humanize(r.risk) },
        { label: 'Cases', class: 'num', cell: (r) => String(r.cases) },
      ], byStage.rows || [], { empty: 'No open case.' })),
    el('section', { class: 'panel report' }, el('h2', {}, 'Time in stage ', csvLink('time-in-stage')),
      el('div', { class: 'chart' }, timeCanvas),
      dataTable([
        { label: 'Stage', cell: (r) => humanize(r.stage) }, { label: 'Stays', class: 'num', cell: (r) => String(r.intervals) },
        { label: 'Median', class: 'num', cell: (r) => days(r.median_seconds) }, { label: '90th percentile', class: 'num', cell: (r) => days(r.p90_seconds) },
      ], times.rows || [])),
    el('section', { class: 'panel report' }, el('h2', {}, 'Past their stage target ', csvLink('overdue')),
      dataTable([
        { label: 'Case', cell: (r) => link(caseHref(r.case_id), r.title || r.case_id) }, { label: 'Stage', cell: (r) => humanize(r.stage) },
        { label: 'Since', cell: (r) => formatDate(r.since) }, { label: 'Over by', class: 'num', cell: (r) => days(r.over_seconds) },
      ], overdue.rows || [], { empty: 'No case is past its target.' }),
      el('h3', {}, 'Overdue tasks per assignee'),
      dataTable([
        { label: 'Assignee', cell: (r) => orDash(r.assignee) }, { label: 'Tasks', class: 'num', cell: (r) => String(r.tasks) },
      ], overdue.tasks_per_assignee || [], { empty: 'No overdue task.' }), el('p', {}, link('#/tasks?overdue=true', 'See the overdue tasks'))),
    el('section', { class: 'panel report' }, el('h2', {}, 'Documents per case ', csvLink('documents-per-case')),
      dataTable([
        { label: 'Case', cell: (r) => link(caseHref(r.case_id), r.title || r.case_id) },
        { label: 'Documents', class: 'num', cell: (r) => Number(r.documents).toLocaleString() },
      ], docs.rows || [], { empty: 'No case.' })));

  if (!Chart) {
    for (const c of [stageCanvas, timeCanvas]) c.replaceWith(el('p', { class: 'muted' }, 'The chart library is not installed; the table shows the same figures.'));
    return;
  }
  const labels = STAGES.map(humanize);
  const charts = [
    new Chart(stageCanvas, {
      type: 'bar',
      data: {
        labels,
        datasets: RISKS.map((risk) => ({
          label: risk ? humanize(risk) : 'not assessed',
          backgroundColor: RISK_COLOUR[risk],
          data: STAGES.map((s) => (byStage.rows || []).filter((r) => r.stage === s && (r.risk || '') === risk).reduce((a, r) => a + Number(r.cases), 0)),
        })),
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    }),
    new Chart(timeCanvas, {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'median (days)', backgroundColor: '#1d3557', data: STAGES.map((s) => Number((times.rows || []).find((r) => r.stage === s)?.median_seconds || 0) / DAY) },
          { label: '90th percentile (days)', backgroundColor: '#a8dadc', data: STAGES.map((s) => Number((times.rows || []).find((r) => r.stage === s)?.p90_seconds || 0) / DAY) },
        ],
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
    }),
  ];
  ctx.onClose(() => charts.forEach((c) => c.destroy()));
  view.dataset.charts = String(charts.length);
}
