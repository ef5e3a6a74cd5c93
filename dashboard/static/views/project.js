// A project's page (#/projects/<id>): where it is served and from which repository, its
// production deployment, its previews and every deployment, refreshed every few seconds
// while shown. Deploy, roll back and each deployment's buttons show only to those whose
// role allows deploying (the API refuses the others anyway).

import { get, post } from '../api.js';
import {
  actionButton, badge, confirmAction, field, form, h, renew, section, shortSha, toast, when,
} from '../ui.js';
import { deploymentTable } from './project_deployments.js';
import { loadProject, projectHeader } from './project_nav.js';

const LIMIT = 50;

function facts(project, ctx) {
  const team = ctx.teams.find((t) => t.id === project.team_id);
  return h('dl', { class: 'facts' },
    h('dt', {}, 'Production URL'),
    h('dd', {}, h('a', { href: project.url, target: '_blank', rel: 'noopener' }, project.url)),
    h('dt', {}, 'Git repository'), h('dd', {}, project.git_url ? h('code', {}, project.git_url)
      : 'none (deployed from uploaded files)'),
    h('dt', {}, 'Branch'), h('dd', {}, h('code', {}, project.branch)),
    team ? [h('dt', {}, 'Team'), h('dd', {}, h('a', { href: `#/teams/${team.id}` }, team.name))]
      : null);
}

function deployer(view) {
  return form({ class: 'card inline-form', 'aria-label': 'Deploy' }, [
    field('Branch, tag or commit', 'ref', { maxlength: 255, placeholder: view.project.branch,
      hint: `Empty: the project's branch (${view.project.branch})`, autocomplete: 'off' }),
  ], async (values, el) => {
    const ref = values.ref.trim();
    const made = await post(`/v1/projects/${view.project.id}/deployments`, ref ? { ref } : {});
    toast(`Deployment #${made.number} queued`);
    el.reset();
    await view.refresh();
  }, 'Deploy');
}

async function rollBackPrevious(view) {
  if (!await confirmAction('Roll production back to the deployment that was in production '
    + 'before this one? New deployments are not promoted until you promote one.',
  'Roll back')) return;
  await post(`/v1/projects/${view.project.id}/rollback`);
  await view.refresh();
  toast(`Production rolled back to deployment #${view.production?.number ?? '?'}`);
}

function production(view) {
  const { project, production: d } = view;
  if (!d) return h('p', { class: 'muted' }, 'Nothing is in production yet.');
  return [
    h('dl', { class: 'facts' },
      h('dt', {}, 'Deployment'), h('dd', {}, h('a', { href: `#/deployments/${d.id}` },
        `#${d.number}`), ' ', badge(d.status)),
      h('dt', {}, 'Commit'), h('dd', {}, d.commit_sha
        ? h('code', { title: d.commit_sha }, shortSha(d.commit_sha)) : '-'),
      h('dt', {}, 'Branch'), h('dd', {}, d.branch || '-'),
      h('dt', {}, 'Finished'), h('dd', {}, when(d.finished_at))),
    project.auto_promotion ? null : h('p', { class: 'notice' }, 'Automatic promotion is '
      + 'paused after a rollback: new deployments stay out of production until one is '
      + 'promoted.'),
    view.canDeploy ? h('div', { class: 'actions' }, actionButton('Roll back',
      () => rollBackPrevious(view), { class: 'secondary', dataset: { key: 'rollback' },
        'aria-label': 'Roll back to the previous production deployment' })) : null,
  ];
}

// The newest preview deployment of each branch.
function previews(deployments) {
  const seen = new Map();
  for (const d of deployments) {
    if (d.target === 'preview' && !seen.has(d.branch)) seen.set(d.branch, d);
  }
  const rows = [...seen.values()];
  if (!rows.length) {
    return h('p', { class: 'muted' }, 'No previews: deploy another branch to get one.');
  }
  return h('table', { class: 'previews' },
    h('caption', { class: 'sr-only' }, 'Previews, the newest of each branch'),
    h('thead', {}, h('tr', {}, ['Branch', 'Status', 'Deployment', 'URL', 'Created']
      .map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((d) => h('tr', { dataset: { deployment: d.id } },
      h('td', {}, d.branch || shortSha(d.ref)), h('td', {}, badge(d.status)),
      h('td', {}, h('a', { href: `#/deployments/${d.id}` }, `#${d.number}`)),
      h('td', {}, d.status === 'READY'
        ? h('a', { href: d.url, target: '_blank', rel: 'noopener' }, d.url) : '-'),
      h('td', {}, when(d.created_at))))));
}

async function fetchAll(id) {
  const [project, deployments] = await Promise.all([
    get(`/v1/projects/${id}`), get(`/v1/projects/${id}/deployments`, { limit: LIMIT })]);
  const prodId = project.production_deployment_id;
  const production = !prodId ? null : deployments.find((d) => d.id === prodId)
    || await get(`/v1/deployments/${prodId}`);
  return { project, deployments, production };
}

export async function render(main, [id], ctx) {
  const first = await loadProject(main, id);
  if (!first) return;
  const view = { project: first, production: null,
    canDeploy: ctx.may(first.team_id, 'deploy') };
  const prodBox = h('div', {});
  const previewBox = h('div', {});
  const { table, update } = deploymentTable(view);
  const empty = h('p', { class: 'muted', hidden: true }, 'No deployments yet.');
  let loading = false;
  const load = async () => {
    loading = true;
    try {
      const got = await fetchAll(first.id);
      if (!ctx.active()) return;
      Object.assign(view, { project: got.project, production: got.production });
      renew(prodBox, [got.production, got.project.auto_promotion], () => production(view));
      renew(previewBox, got.deployments.filter((d) => d.target === 'preview'),
        () => previews(got.deployments));
      update(got.deployments);
      empty.hidden = got.deployments.length > 0;
    } finally {
      loading = false;
    }
  };
  let chain = Promise.resolve();
  // After an action, a refresh waits for the one running: the page then shows the action.
  view.refresh = () => {
    chain = chain.catch(() => {}).then(load);
    return chain;
  };
  await view.refresh();
  main.append(...[...projectHeader(first, 'overview'), facts(first, ctx),
    view.canDeploy ? section('Deploy', deployer(view)) : null,
    section('Production', prodBox), section('Previews', previewBox),
    section('Deployments', table, empty)].filter(Boolean));
  ctx.every(2500, () => {
    if (!loading) view.refresh().catch(() => { /* the next poll tries again */ });
  });
}
