// The team's audit trail, for its admins: who did what to which resource, when and from
// which address, newest first, a page at a time ("Show older" asks for the next).

import { get } from '../api.js';
import { h, section, toast, when } from '../ui.js';

const PAGE = 25;
const ACTORS = { webhook: 'Git webhook', 'deploy-hook': 'Deploy hook', system: 'Buildspace' };

// "MemberRoleChanged" -> "Member role changed"
function action(type) {
  const words = type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function who(actor, emails) {
  const user = actor.user_id ? (emails.get(actor.user_id) || `user ${actor.user_id}`) : null;
  if (actor.kind === 'user') return user || 'someone';
  if (actor.kind === 'token') return `${user || 'someone'} (access token)`;
  if (actor.kind === 'intake') return `the command intake${actor.id ? ` (${actor.id})` : ''}`;
  return ACTORS[actor.kind] || actor.kind;
}

function resource(text, emails) {
  const [kind, id] = text.split(/:(.*)/s);
  if (kind === 'project') return h('a', { href: `#/projects/${id}` }, `project ${id}`);
  if (kind === 'deployment') return h('a', { href: `#/deployments/${id}` }, `deployment ${id}`);
  if (kind === 'user') return emails.get(id) || `user ${id}`;
  return id ? `${kind} ${id}` : text;
}

function row(entry, emails) {
  return h('tr', { dataset: { action: entry.action } },
    h('td', {}, when(entry.at)), h('td', {}, who(entry.actor, emails)),
    h('td', {}, action(entry.action)), h('td', {}, resource(entry.resource, emails)),
    h('td', {}, entry.actor.ip || '-'));
}

export async function audit(team, emails) {
  const body = h('tbody', {});
  const older = h('button', { type: 'button', class: 'secondary', hidden: true },
    'Show older entries');
  const empty = h('p', { class: 'muted', hidden: true }, 'Nothing recorded yet.');
  let cursor = null;
  const more = async () => {
    const query = { limit: PAGE, ...(cursor ? { cursor } : {}) };
    const page = await get(`/v1/teams/${team.id}/audit`, query);
    body.append(...page.entries.map((e) => row(e, emails)));
    cursor = page.next_cursor;
    older.hidden = !cursor;
    empty.hidden = body.children.length > 0;
  };
  older.addEventListener('click', () => more().catch((err) => toast(err.message, true)));
  await more();
  const table = h('table', { class: 'audit' },
    h('caption', { class: 'sr-only' }, 'Audit trail, newest first'),
    h('thead', {}, h('tr', {}, ['When', 'Who', 'What', 'Resource', 'From']
      .map((c) => h('th', { scope: 'col' }, c)))), body);
  return section('Audit trail', h('p', { class: 'muted' }, 'What was done in this team and ',
    'its projects, newest first.'), table, empty, h('div', { class: 'actions' }, older));
}
