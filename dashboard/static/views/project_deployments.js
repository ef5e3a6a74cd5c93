// The deployment table of a project's page, kept in place while it refreshes: a row is
// rebuilt only when its deployment changed, so the focus and a half-read row stay put.
// Its buttons (redeploy, cancel, promote, roll back) show only to those who may deploy.

import { post } from '../api.js';
import {
  actionButton, badge, confirmAction, duration, h, keepFocus, shortSha, toast, when,
} from '../ui.js';

const CANCELABLE = ['QUEUED', 'BUILDING'];
const FINISHED = ['READY', 'FAILED', 'CANCELED'];
const HEAD = ['Deployment', 'Status', 'Branch', 'Commit', 'Duration', 'By', 'Created'];

// `view` is what the page knows besides the deployments: { project, production (its
// deployment, which may be older than the list), canDeploy, refresh }.

// A READY production deployment older than the one in production: one to roll back to.
export function isEarlierProduction(d, view) {
  const prod = view.production;
  return d.target === 'production' && d.status === 'READY' && Boolean(prod)
    && d.id !== prod.id && d.number < prod.number;
}

function button(text, label, key, fn) {
  return actionButton(text, fn, { class: 'secondary small', 'aria-label': label,
    dataset: { key } });
}

async function cancel(d, view) {
  if (!await confirmAction(`Cancel deployment #${d.number}? Its build is stopped.`,
    'Cancel deployment', { danger: true })) return;
  await post(`/v1/deployments/${d.id}/cancel`);
  toast(`Deployment #${d.number} canceled`);
  await view.refresh();
}

async function promote(d, view) {
  if (!await confirmAction(`Put deployment #${d.number} in production now? Automatic `
    + 'promotion turns back on.', 'Promote')) return;
  await post(`/v1/projects/${view.project.id}/promote`, { deployment_id: d.id });
  toast(`Deployment #${d.number} is in production`);
  await view.refresh();
}

async function rollBack(d, view) {
  if (!await confirmAction(`Roll production back to deployment #${d.number}? New `
    + 'deployments are not promoted until you promote one.', 'Roll back')) return;
  await post(`/v1/projects/${view.project.id}/rollback`, { deployment_id: d.id });
  toast(`Production rolled back to deployment #${d.number}`);
  await view.refresh();
}

async function redeploy(d, view) {
  const made = await post(`/v1/deployments/${d.id}/redeploy`);
  toast(`Deployment #${made.number} queued`);
  await view.refresh();
}

function actions(d, view) {
  const n = `#${d.number}`;
  const found = [];
  if (CANCELABLE.includes(d.status)) {
    found.push(button('Cancel', `Cancel deployment ${n}`, `cancel:${d.id}`,
      () => cancel(d, view)));
  }
  if (isEarlierProduction(d, view)) {
    found.push(button('Roll back', `Roll back to deployment ${n}`, `rollback:${d.id}`,
      () => rollBack(d, view)));
  } else if (d.status === 'READY' && d.id !== view.project.production_deployment_id) {
    found.push(button('Promote', `Promote deployment ${n}`, `promote:${d.id}`,
      () => promote(d, view)));
  }
  if (FINISHED.includes(d.status)) {
    found.push(button('Redeploy', `Redeploy deployment ${n}`, `redeploy:${d.id}`,
      () => redeploy(d, view)));
  }
  return h('div', { class: 'row-actions' }, found);
}

function isProduction(d, view) {
  return d.id === view.project.production_deployment_id;
}

function signature(d, view) {
  return JSON.stringify([d.status, d.branch, d.commit_sha, d.requested_by, d.started_at,
    isProduction(d, view), isEarlierProduction(d, view), view.canDeploy]);
}

function row(d, view) {
  const cells = [
    h('a', { href: `#/deployments/${d.id}` }, `#${d.number}`),
    [badge(d.status), isProduction(d, view) ? h('span', { class: 'tag' }, 'Production') : null,
      d.target === 'preview' ? h('span', { class: 'tag tag-muted' }, 'Preview') : null],
    d.branch || '-',
    d.commit_sha ? h('code', { title: d.commit_sha }, shortSha(d.commit_sha)) : '-',
    h('span', { class: 'duration' }, duration(d.started_at, d.finished_at)),
    d.requested_by || '-',
    when(d.created_at),
    view.canDeploy ? actions(d, view) : null,
  ];
  const tr = h('tr', { dataset: { deployment: d.id, number: d.number } },
    cells.filter((c) => c !== null).map((c) => h('td', {}, c)));
  tr.dataset.sig = signature(d, view);
  return tr;
}

export function deploymentTable(view) {
  const head = view.canDeploy ? [...HEAD, 'Actions'] : HEAD;
  const body = h('tbody', {});
  const table = h('table', { class: 'deployments' },
    h('caption', { class: 'sr-only' }, 'Deployments, newest first'),
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))), body);
  return { table, update: (deployments) => updateRows(body, deployments, view) };
}

// The rows in the deployments' order, each kept while its signature is the same.
function updateRows(body, deployments, view) {
  const old = new Map([...body.rows].map((tr) => [tr.dataset.deployment, tr]));
  keepFocus(body, () => {
    deployments.forEach((d, i) => {
      const kept = old.get(d.id);
      const tr = kept && kept.dataset.sig === signature(d, view) ? kept : row(d, view);
      if (kept && tr !== kept) kept.remove();
      if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null);
      if (tr === kept) {
        tr.querySelector('.duration').textContent = duration(d.started_at, d.finished_at);
      }
    });
    while (body.rows.length > deployments.length) body.lastElementChild.remove();
  });
}
