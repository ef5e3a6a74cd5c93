// The project list: each project's production URL and latest deployment status,
// refreshed every few seconds while the page is shown; and a form for a new project.

import { get, post } from '../api.js';
import { badge, field, form, h, heading, section, when } from '../ui.js';
import { go } from '../app.js';

function row(p) {
  return h('tr', { dataset: { project: p.name } },
    h('td', {}, h('a', { href: `#/projects/${p.id}` }, p.name)),
    h('td', {}, h('a', { href: p.url, target: '_blank', rel: 'noopener' }, p.url)),
    h('td', { class: 'status' }, p.latest_deployment_id
      ? h('a', { href: `#/deployments/${p.latest_deployment_id}`,
        'aria-label': `latest deployment: ${p.latest_status}` }, badge(p.latest_status))
      : badge(null)),
    h('td', {}, when(p.created_at)));
}

function creator(ctx) {
  const teams = ctx.teams.filter((t) => ctx.may(t.id, 'write'));
  if (!teams.length) return null;
  return section('New project', form({ 'aria-label': 'New project', class: 'card' }, [
    field('Name', 'name', { required: true, maxlength: 63, placeholder: 'my-site' }),
    field('Git repository URL', 'git_url', { required: true, maxlength: 2048,
      placeholder: 'https://git.example.com/me/site.git' }),
    field('Branch', 'branch', { maxlength: 255, value: 'main' }),
    field('Team', 'team_id', { tag: 'select', value: teams[0].id },
      teams.map((t) => [t.id, t.personal ? `${t.name} (personal)` : t.name])),
  ], async (values) => {
    const { team_id: team, ...body } = values;
    const made = await post(`/v1/projects?${new URLSearchParams({ team_id: team })}`, body);
    go(`/projects/${made.id}`);
  }, 'Create project'));
}

export async function render(main, _params, ctx) {
  const body = h('tbody', {});
  const list = h('table', { class: 'projects' },
    h('caption', { class: 'sr-only' }, 'Projects'),
    h('thead', {}, h('tr', {}, ['Project', 'Production URL', 'Latest', 'Created']
      .map((c) => h('th', { scope: 'col' }, c)))), body);
  const empty = h('p', { class: 'muted', hidden: true }, 'No projects yet.');
  const refresh = async () => {
    const projects = await get('/v1/projects', { limit: 500 });
    body.replaceChildren(...projects.map(row));
    empty.hidden = projects.length > 0;
  };
  await refresh();
  main.append(heading('Projects'), list, empty, creator(ctx));
  ctx.every(3000, refresh);
}
