// Deploy hooks (a URL that deploys when POSTed to, shown once when made) and the push
// webhook addresses for GitHub and GitLab with their secret (also shown once).

import { del, get, post } from '../../api.js';
import {
  actionButton, confirmAction, field, form, h, section, toast, when,
} from '../../ui.js';

// A secret the API shows only in this answer, in a box to copy it from.
function shownOnce(label, value, note) {
  const box = h('div', { class: 'card once' });
  box.append(
    field(label, 'once', { value, readonly: true, spellcheck: 'false',
      hint: note, class: 'wide' }),
    h('button', { type: 'button', class: 'secondary', onclick: () => box.remove() }, 'Done'));
  return box;
}

function gitWebhooks(hooks, may, project, onChange) {
  const rotate = async () => {
    if (hooks.secret_set && !await confirmAction('Make a new webhook secret? Deliveries '
      + 'signed with the old one are refused from now on.', 'Make new secret')) return;
    const made = await post(`/v1/projects/${project.id}/webhook-secret`);
    onChange(shownOnce('Webhook secret', made.secret, 'Shown only now: set it as the '
      + "webhook's secret (GitHub) or secret token (GitLab)."));
  };
  return [
    h('dl', { class: 'facts' },
      h('dt', {}, 'GitHub payload URL'), h('dd', {}, h('code', {}, hooks.github_url)),
      h('dt', {}, 'GitLab URL'), h('dd', {}, h('code', {}, hooks.gitlab_url)),
      h('dt', {}, 'Secret'), h('dd', {}, hooks.secret_set
        ? ['set ', when(hooks.secret_set_at)] : 'not set: pushes are not accepted')),
    may.write ? h('div', { class: 'actions' }, actionButton(
      hooks.secret_set ? 'Rotate webhook secret' : 'Make webhook secret', rotate,
      { class: 'secondary' })) : null,
  ];
}

export async function hooksSection(project, may) {
  const url = `/v1/projects/${project.id}/hooks`;
  const body = h('tbody', {});
  const table = h('table', { class: 'deploy-hooks' },
    h('caption', { class: 'sr-only' }, 'Deploy hooks'),
    h('thead', {}, h('tr', {}, ['Name', 'Branch', 'Created', may.write ? 'Actions' : null]
      .filter(Boolean).map((c) => h('th', { scope: 'col' }, c)))), body);
  const empty = h('p', { class: 'muted' }, 'No deploy hooks.');
  const once = h('div', {});
  const git = h('div', {});
  const gitOnce = h('div', {});
  const show = (slot, box) => {
    slot.replaceChildren(box);
    box.querySelector('input').focus();
  };

  const revoke = async (hook) => {
    if (!await confirmAction(`Delete the deploy hook ${hook.name}? Its URL stops working.`,
      'Delete', { danger: true })) return;
    await del(`/v1/projects/${project.id}/deploy-hooks/${hook.id}`);
    toast(`Deploy hook ${hook.name} deleted`);
    await reload();
  };
  const row = (hook) => h('tr', { dataset: { hook: hook.id } },
    h('td', {}, hook.name), h('td', {}, hook.branch || project.branch),
    h('td', {}, when(hook.created_at)),
    may.write ? h('td', {}, actionButton('Delete', () => revoke(hook), {
      class: 'secondary small', 'aria-label': `Delete deploy hook ${hook.name}` })) : null);
  async function reload() {
    const hooks = await get(url);
    body.replaceChildren(...hooks.deploy_hooks.map(row));
    table.hidden = !hooks.deploy_hooks.length;
    empty.hidden = hooks.deploy_hooks.length > 0;
    git.replaceChildren(...gitWebhooks(hooks, may, project, async (box) => {
      await reload();
      show(gitOnce, box);
    }).filter(Boolean));
  }
  await reload();

  const adder = form({ class: 'card', 'aria-label': 'Make a deploy hook' }, [
    field('Name', 'name', { required: true, maxlength: 100, placeholder: 'CMS',
      hint: 'What will call it' }),
    field('Branch', 'branch', { maxlength: 255, placeholder: project.branch,
      hint: `Empty: the project's branch (${project.branch})` }),
  ], async (values, el) => {
    const branch = values.branch.trim();
    const made = await post(`/v1/projects/${project.id}/deploy-hooks`,
      { name: values.name.trim(), ...(branch ? { branch } : {}) });
    el.reset();
    await reload();
    show(once, shownOnce('Deploy hook URL', made.url, 'Shown only now: copy it. A POST to it '
      + 'deploys.'));
  }, 'Make deploy hook');
  return [
    section('Deploy hooks', table, empty, once, may.write ? adder : null),
    section('Git push webhooks', git, gitOnce),
  ];
}
