// One deployment (#/deployments/<id>): its facts, what the user may do with it (redeploy,
// cancel, promote, roll back), and its build log, live over Server-Sent Events. A
// dropped stream is reopened here, after the last line held (?after_seq), rather than by
// the browser: its Last-Event-ID is not sent on every retry (Chromium under test).

import { get, post } from '../api.js';
import { go } from '../app.js';
import { badge, confirmAction, duration, h, heading, renew, shortSha, toast, when } from '../ui.js';
import { LogView } from './log_view.js';

const FINAL = ['READY', 'FAILED', 'CANCELED'];
const CANCELABLE = ['QUEUED', 'BUILDING'];
const RANK = { QUEUED: 0, BUILDING: 1, READY: 2, FAILED: 2, CANCELED: 2 };
const RETRY_MAX_MS = 30_000;
const SETTLE_TRIES = 10; // GETs, a second apart, for the read model to reach the stream

const path = (id) => `/v1/deployments/${encodeURIComponent(id)}`;

async function load(id) {
  const deployment = await get(path(id));
  const project = await get(`/v1/projects/${encodeURIComponent(deployment.project_id)}`);
  const live = project.production_deployment_id;
  const production = live && live !== id ? await get(path(live)).catch(() => null) : null;
  return { deployment, project, production };
}

function facts({ deployment: d, project }) {
  const rows = [
    ['Project', h('a', { href: `#/projects/${encodeURIComponent(project.id)}` }, project.name)],
    ['Target', project.production_deployment_id === d.id ? `${d.target} (live)` : d.target],
    ['Branch', d.branch || '-'],
    ['Commit', d.commit_sha ? h('code', { title: d.commit_sha }, shortSha(d.commit_sha))
      : `${d.ref} (not resolved yet)`],
    ['Created', when(d.created_at)],
    ['Duration', d.started_at ? duration(d.started_at, d.finished_at) : '-'],
    ['URL', h('a', { href: d.url, target: '_blank', rel: 'noopener' }, d.url)],
  ];
  if (d.queue_position) rows.push(['Queue position', String(d.queue_position)]);
  if (d.failure_reason || d.failure_step) {
    rows.push(['Failed at', d.failure_step || '-'], ['Reason', d.failure_reason || '-']);
  }
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// A button whose failure is shown in `error` (beside the buttons), not lost.
function act(error, key, text, fn, props = {}) {
  const button = h('button', { type: 'button', dataset: { key }, ...props }, text);
  button.addEventListener('click', async () => {
    button.disabled = true;
    error.textContent = '';
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      error.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// The actions that make sense for the deployment as it is, for a user who may deploy.
function actions({ deployment: d, project, production }, error, refresh) {
  const live = project.production_deployment_id === d.id;
  const pid = encodeURIComponent(project.id);
  const asked = (question, yes) => confirmAction(question, yes);
  const list = [];
  if (CANCELABLE.includes(d.status)) {
    list.push(act(error, 'cancel', 'Cancel deployment', async () => {
      if (!await confirmAction(`Stop building deployment #${d.number}?`, 'Cancel deployment',
        { danger: true })) return;
      await post(`${path(d.id)}/cancel`);
      toast(`Canceling deployment #${d.number}`);
    }, { class: 'danger' }));
  }
  if (FINAL.includes(d.status) && (d.commit_sha || d.ref !== 'upload')) {
    list.push(act(error, 'redeploy', 'Redeploy', async () => {
      const made = await post(`${path(d.id)}/redeploy`);
      go(`/deployments/${made.id}`);
    }, { class: 'secondary' }));
  }
  if (d.status === 'READY' && !live) {
    list.push(act(error, 'promote', 'Promote to production', async () => {
      if (!await asked(`Serve deployment #${d.number} in production now?`, 'Promote')) return;
      await post(`/v1/projects/${pid}/promote`, { deployment_id: d.id });
      toast(`Deployment #${d.number} is in production`);
      await refresh();
    }));
  }
  if (d.status === 'READY' && !live && d.target === 'production' && production
      && d.number < production.number) {
    list.push(act(error, 'rollback', 'Roll back to this deployment', async () => {
      if (!await asked(`Put production back to deployment #${d.number}? Automatic promotion `
        + 'pauses until a deployment is promoted.', 'Roll back')) return;
      await post(`/v1/projects/${pid}/rollback`, { deployment_id: d.id });
      toast(`Production rolled back to deployment #${d.number}`);
      await refresh();
    }, { class: 'secondary' }));
  }
  return list.length ? h('div', { class: 'actions', role: 'group',
    'aria-label': 'Deployment actions' }, list) : null;
}

// The log stream into `log`; `on.status` and `on.end` hear the rest. Closed on leaving.
function stream(id, log, on, ctx) {
  let source = null;
  let timer = 0;
  let tries = 0;
  let over = false;
  const open = () => {
    const after = log.last;
    source = new EventSource(`${path(id)}/logs/stream${after ? `?after_seq=${after}` : ''}`);
    source.addEventListener('open', () => { tries = 0; log.state('Live'); });
    source.addEventListener('line', (e) => log.add(JSON.parse(e.data)));
    source.addEventListener('status', (e) => on.status(JSON.parse(e.data)));
    source.addEventListener('end', () => {
      over = true;
      source.close();
      log.state('Complete');
      on.end();
    });
    source.addEventListener('error', () => {
      if (over) return;
      source.close(); // reopened here, after the last line held, whatever the browser kept
      log.state('Reconnecting…');
      timer = setTimeout(open, Math.min(RETRY_MAX_MS, 1000 * 2 ** tries));
      tries += 1;
    });
  };
  log.state('Connecting…');
  open();
  ctx.onLeave(() => { over = true; clearTimeout(timer); source.close(); });
}

function notFound(main) {
  main.append(heading('Deployment not found'),
    h('p', {}, 'There is no such deployment, or you may not see it. ',
      h('a', { href: '#/' }, 'All projects')));
}

export async function render(main, [id], ctx) {
  let state;
  try {
    state = await load(id);
  } catch (err) {
    if (err.status !== 404) throw err;
    notFound(main);
    return;
  }
  let streamed = null; // the newest status the stream told, ahead of the read model at times
  const badgeBox = h('span', { class: 'live-status', role: 'status' });
  const factsBox = h('div', {});
  const actionsBox = h('div', {});
  const error = h('p', { class: 'error', role: 'alert' });
  const may = ctx.may(state.project.team_id, 'deploy');
  // The read model as loaded, with the stream's status where that is further along.
  const shown = () => {
    const d = state.deployment;
    return streamed && RANK[streamed] > RANK[d.status]
      ? { ...state, deployment: { ...d, status: streamed } } : state;
  };
  const show = () => {
    const now = shown();
    const s = now.deployment.status;
    renew(badgeBox, s, () => badge(s));
    renew(factsBox, [now.deployment, now.project.production_deployment_id], () => facts(now));
    if (may) {
      renew(actionsBox, [s, now.project.production_deployment_id, now.production?.number],
        () => actions(now, error, refresh));
    }
  };
  const refresh = async () => {
    const next = await load(id);
    if (!ctx.active()) return;
    state = next;
    show();
  };
  const settle = async (tries = SETTLE_TRIES) => {
    await refresh().catch(() => {});
    if (tries > 1 && ctx.active() && !FINAL.includes(state.deployment.status)) {
      setTimeout(() => settle(tries - 1), 1000);
    }
  };
  const log = new LogView(`${id}.log`);
  ctx.onLeave(() => log.close());
  show();
  main.append(heading(`${state.project.name} #${state.deployment.number}`, badgeBox),
    factsBox, actionsBox, error, h('section', {}, h('h2', {}, 'Build log'), log.element));
  stream(id, log, {
    status: ({ status }) => {
      if (status === shown().deployment.status) return;
      streamed = status;
      show();
      refresh().catch(() => {});
    },
    end: () => settle(),
  }, ctx);
}
