// Case links on the case page, and the graph page (#/graph?case=&depth=).
//
// Every value here (titles, entity values, filenames, role names) comes
// from documents and users: it reaches the DOM as text only, and the graph
// library draws labels on a canvas, never as markup.

import { apiPath, describeError, isQuiet, request } from './api.js';
import {
  bannerSlot, caseHref, dataTable, docHref, el, field, formatDate, heading, link, setBanner, setBusy,
} from './ui.js';

const entityHref = (type, value) => `#/entity?${new URLSearchParams({ type, value })}`;
export const graphHref = (caseId, depth = 2) => `#/graph?${new URLSearchParams({ case: caseId, depth: String(depth) })}`;

const STATE_LABEL = {
  confirmed: 'Confirmed', added: 'Added by hand', suggested: 'Suggested', rejected: 'Rejected',
};

function evidence(list, label) {
  const docs = Array.isArray(list) ? list : [];
  if (!docs.length) return null;
  return el('span', { class: 'evidence' }, `${label}: `,
    docs.map((d, i) => [i ? ', ' : '', link(docHref(String(d.document_id)), String(d.filename || d.document_id))]));
}

function sharedList(shared) {
  const list = Array.isArray(shared) ? shared : [];
  if (!list.length) return el('p', { class: 'muted' }, 'No shared entity: the link was added by hand.');
  return el('ul', { class: 'plain shared-entities' }, list.map((e) => {
    const type = String(e.type ?? ''), value = String(e.value ?? '');
    const cases = Number(e.cases) || 0;
    return el('li', {},
      el('span', { class: 'entity-type' }, type), ' ', link(entityHref(type, value), value),
      el('span', { class: 'muted' }, ` · weight ${Number(e.weight || 0).toFixed(2)} · in ${cases} case${cases === 1 ? '' : 's'}`),
      el('div', { class: 'evidence-row' }, evidence(e.here, 'here'), ' ', evidence(e.there, 'there')));
  }));
}

function noticeText(n) {
  const types = (Array.isArray(n.types) ? n.types : []).map(String).join(', ');
  const contact = (Array.isArray(n.contact) ? n.contact : []).map(String).join(', ');
  const shared = Number(n.shared) || 0;
  const entities = `${shared} entit${shared === 1 ? 'y' : 'ies'} of type${n.types?.length === 1 ? '' : 's'} ${types}`;
  if (n.direction === 'incoming') {
    return `${String(n.user)} was told on ${formatDate(n.at)} that a case of ${contact} shares ${entities} with this case.`;
  }
  return `A restricted case shares ${entities}. Contact ${contact}.`;
}

/** The links section of a case page: links with reasons, decisions, notices, stop-entities. */
export function linksPanel(caseId, ctx) {
  const { signal } = ctx;
  const banner = bannerSlot();
  const body = el('div', {}, el('p', { class: 'muted' }, 'Loading links…'));
  const root = el('section', { class: 'links', 'aria-labelledby': 'links-heading' },
    el('h2', { id: 'links-heading' }, 'Linked cases'),
    el('p', {}, link(graphHref(caseId), 'Show the graph of linked cases')),
    banner, body);

  async function decide(other, decision, why, form) {
    if (form) setBusy(form, true);
    try {
      const data = await request('POST', apiPath('cases', caseId, 'links'), { json: { case: other, decision, why }, signal });
      setBanner(banner, 'success', decision === 'clear' ? 'The decision was cleared.' : `The link was ${decision === 'add' ? 'added' : `${decision}ed`}.`);
      render(data);
    } catch (err) {
      if (!isQuiet(err)) setBanner(banner, 'error', describeError(err));
    } finally {
      if (form) setBusy(form, false);
    }
  }

  function decisionForm(l) {
    const why = el('input', {
      type: 'text', name: 'why', maxlength: '2000', placeholder: 'Why (kept with your name)', 'aria-label': 'Why',
    });
    const form = el('form', { class: 'inline-form link-decision' }, why,
      el('button', { type: 'submit', value: 'confirm' }, 'Confirm'),
      el('button', { type: 'submit', value: 'reject' }, 'Reject'),
      l.state !== 'suggested' || l.decided_by ? el('button', { type: 'submit', value: 'clear' }, 'Clear decision') : null);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const decision = ev.submitter?.value || 'confirm';
      if (decision !== 'clear' && !why.value.trim()) {
        setBanner(banner, 'error', 'Say why before you decide.');
        why.focus();
        return;
      }
      decide(String(l.case_id), decision, why.value.trim(), form);
    });
    return form;
  }

  function addForm() {
    const other = el('input', { type: 'text', name: 'case', required: true, placeholder: 'case id' });
    const why = el('input', { type: 'text', name: 'why', required: true, maxlength: '2000' });
    const form = el('form', { class: 'inline-form add-link' },
      field('Case', other), field('Why', why), el('button', { type: 'submit' }, 'Add link'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      decide(other.value.trim(), 'add', why.value.trim(), form);
    });
    return el('details', {}, el('summary', {}, 'Add a link by hand'), form);
  }

  function render(data) {
    const links = Array.isArray(data.links) ? data.links : [];
    const notices = Array.isArray(data.notices) ? data.notices : [];
    const stops = Array.isArray(data.stop_entities) ? data.stop_entities : [];
    const items = links.map((l) => {
      const state = String(l.state || 'suggested');
      return el('li', { class: `link link-${state}` },
        el('div', { class: 'link-head' },
          link(caseHref(String(l.case_id)), String(l.title || l.case_id)),
          el('span', { class: `badge state-${state}` }, STATE_LABEL[state] || state),
          l.reopened ? el('span', { class: 'badge' }, 'New evidence since the rejection') : null,
          el('span', { class: 'score' }, `score ${Number(l.score || 0).toFixed(2)}`)),
        l.decided_by
          ? el('p', { class: 'decision' }, `${String(l.decided_by)}, ${formatDate(l.decided_at)}: ${String(l.why ?? '')}`)
          : null,
        sharedList(l.shared),
        decisionForm(l));
    });
    // el() skips null children; replaceChildren would write them as "null".
    body.replaceChildren(el('div', {},
      items.length ? el('ol', { class: 'plain link-list' }, items) : el('p', { class: 'empty' }, 'No linked case.'),
      notices.length
        ? el('div', { class: 'notices' }, el('h3', {}, 'Deconfliction notices'),
          el('ul', { class: 'plain' }, notices.map((n) => el('li', { class: `notice notice-${n.direction === 'incoming' ? 'incoming' : 'outgoing'}` }, noticeText(n)))))
        : null,
      Number(data.notices_withheld) > 0
        ? el('p', { class: 'muted' }, `${Number(data.notices_withheld)} more notice(s) withheld: at most ${Number(data.settings?.notices_per_hour) || 0} new ones an hour.`)
        : null,
      stops.length
        ? el('div', { class: 'stop-entities' }, el('h3', {}, 'Entities that link no more'),
          dataTable([
            { label: 'Entity', cell: (s) => [el('span', { class: 'entity-type' }, String(s.type)), ' ', String(s.value || '')] },
            { label: 'Why', cell: (s) => (s.manual ? `stopped by ${String(s.set_by)}, ${formatDate(s.set_at)}` : `in ${Number(s.cases) || 0} cases or more`) },
          ], stops))
        : null,
      addForm()));
  }

  request('GET', apiPath('cases', caseId, 'links'), { signal }).then(render).catch((err) => {
    if (isQuiet(err)) return;
    body.replaceChildren();
    setBanner(banner, 'error', `The links could not be loaded: ${describeError(err)}`);
  });
  return root;
}

const TYPE_COLOUR = {
  iban: '#8c2d04', card: '#8c2d04', btc: '#6a3d9a', eth: '#6a3d9a', phone: '#1f78b4', email: '#1f78b4',
  name: '#33a02c', ip: '#666666', url: '#666666', domain: '#999999', money: '#b15928',
};

/** The graph page: the case's neighbourhood, drawn with cytoscape when it is installed. */
export async function graphPage(view, ctx, _args, params) {
  const caseId = params.get('case') || '';
  const depth = Math.min(3, Math.max(1, Number(params.get('depth')) || 2));
  view.append(heading('Linked cases'));
  const controls = el('p', {}, link(caseHref(caseId), 'Back to the case'), ' · depth ',
    [1, 2, 3].map((d) => [d > 1 ? ' ' : '', d === depth ? el('strong', {}, String(d)) : link(graphHref(caseId, d), String(d))]));
  const canvas = el('div', { class: 'graph', id: 'graph', role: 'img', 'aria-label': 'Graph of linked cases and the entities between them' });
  const listing = el('div', { class: 'graph-list' });
  view.append(controls, canvas, listing);
  const data = await request('GET', apiPath('graph'), { signal: ctx.signal, query: { case: caseId, depth } });
  const nodes = Array.isArray(data.nodes) ? data.nodes : [];
  const edges = Array.isArray(data.edges) ? data.edges : [];
  const byId = new Map(nodes.map((n) => [String(n.id), n]));
  const open = (n) => {
    if (n.kind === 'case') location.hash = caseHref(String(n.case_id));
    else location.hash = entityHref(String(n.type), String(n.label));
  };
  // The same graph as a list, for keyboards and screen readers (and when
  // the drawing library is missing).
  listing.replaceChildren(el('div', {},
    el('h2', {}, 'Cases and entities'),
    data.truncated ? el('p', { class: 'muted' }, 'More cases are linked than the graph shows.') : null,
    dataTable([
      { label: 'Case', cell: (e) => link(caseHref(String(byId.get(String(e.from))?.case_id ?? '')), String(byId.get(String(e.from))?.label ?? '')) },
      { label: 'Holds', cell: (e) => { const n = byId.get(String(e.to)); return n?.kind === 'case' ? ['confirmed link to ', String(n.label)] : [el('span', { class: 'entity-type' }, String(n?.type ?? '')), ' ', link(entityHref(String(n?.type ?? ''), String(n?.label ?? '')), String(n?.label ?? ''))]; } },
    ], edges, { empty: 'This case links to no other.' })));
  // cytoscape adds a <style> element unless one with this id exists; the
  // page's Content-Security-Policy refuses inline styles, so style.css
  // holds its one rule and this marker stands in for the element.
  if (!document.getElementById('__________cytoscape_stylesheet')) {
    document.head.append(el('meta', { id: '__________cytoscape_stylesheet', name: 'cytoscape-style', content: 'style.css' }));
  }
  let cytoscape;
  try {
    cytoscape = (await import('/static/cytoscape.js')).default;
  } catch {
    canvas.replaceChildren(el('p', { class: 'muted' }, 'The graph library is not installed; the list below shows the same links.'));
    return;
  }
  const cy = cytoscape({
    container: canvas,
    elements: [
      ...nodes.map((n) => ({
        data: { id: String(n.id), label: String(n.label ?? ''), kind: String(n.kind), root: n.type === 'root' ? 1 : 0, colour: TYPE_COLOUR[n.type] || '#444444' },
      })),
      ...edges.filter((e) => byId.has(String(e.from)) && byId.has(String(e.to))).map((e, i) => ({
        data: { id: `e${i}`, source: String(e.from), target: String(e.to), kind: String(e.kind) },
      })),
    ],
    style: [
      { selector: 'node', style: { label: 'data(label)', 'font-size': 11, 'text-wrap': 'ellipsis', 'text-max-width': 140, 'text-valign': 'bottom', 'text-margin-y': 4 } },
      { selector: 'node[kind = "case"]', style: { shape: 'round-rectangle', 'background-color': '#1d3557', width: 28, height: 20 } },
      { selector: 'node[root = 1]', style: { 'background-color': '#c1121f', width: 36, height: 26 } },
      { selector: 'node[kind = "entity"]', style: { shape: 'ellipse', 'background-color': 'data(colour)', width: 14, height: 14 } },
      { selector: 'edge', style: { width: 1.5, 'line-color': '#b0b0b0' } },
      { selector: 'edge[kind = "link"]', style: { width: 3, 'line-color': '#1d3557' } },
    ],
    layout: {
      name: 'cose', animate: false, randomize: false, nodeDimensionsIncludeLabels: true, idealEdgeLength: () => 110, nodeRepulsion: () => 9000,
    },
    wheelSensitivity: 0.3,
  });
  cy.on('tap', 'node', (ev) => {
    const n = byId.get(ev.target.id());
    if (n) open(n);
  });
  canvas.dataset.nodes = String(cy.nodes().length);
}
