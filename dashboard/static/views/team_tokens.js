// The user's personal access tokens, on the team page: listed (name, scopes, what each
// reaches, created, last used, expiry) and revoked; a new one, limited to this team, is
// shown once. Sign-in sessions are tokens too, but are not listed here.

import { del, get, post } from '../api.js';
import {
  actionButton, confirmAction, copyable, field, form, h, section, toast, when,
} from '../ui.js';

const SCOPES = ['read', 'deploy', 'write', 'admin'];
const EXPIRY = [['90', '90 days'], ['30', '30 days'], ['7', '7 days'], ['365', '1 year'],
  ['never', 'Never']];

function reach(token, ctx) {
  if (token.project_id) {
    return h('a', { href: `#/projects/${token.project_id}` }, 'one project');
  }
  if (!token.team_id) return 'all your teams';
  const team = ctx.teams.find((t) => t.id === token.team_id);
  return team ? `team ${team.name}` : 'a team you left';
}

function row(token, ctx, reload) {
  const revoke = actionButton(['Revoke', h('span', { class: 'sr-only' }, ` ${token.name}`)],
    async () => {
      const question = `Revoke the token ${token.name}? Whatever uses it stops working.`;
      if (!await confirmAction(question, 'Revoke', { danger: true })) return;
      await del(`/v1/tokens/${token.id}`);
      toast(`${token.name} was revoked`);
      await reload();
    }, { class: 'danger' });
  return h('tr', { dataset: { token: token.name } },
    h('td', {}, token.name), h('td', {}, token.scopes.join(', ')),
    h('td', {}, reach(token, ctx)), h('td', {}, when(token.created_at)),
    h('td', {}, token.last_used_at ? when(token.last_used_at) : 'never'),
    h('td', {}, token.expires_at ? when(token.expires_at) : 'never'), h('td', {}, revoke));
}

function scopes() {
  return h('fieldset', { class: 'field scopes', dataset: { field: 'scopes' } },
    h('legend', {}, 'Scopes'),
    SCOPES.map((s) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'scopes', value: s, checked: s === 'read' }), s)),
    h('small', { class: 'hint' }, 'It can never do more than your role in the team allows.'),
    h('p', { class: 'error', 'aria-live': 'polite' }));
}

function shownOnce(made) {
  return h('div', { class: 'card notice', role: 'group', 'aria-label': 'Token created' },
    h('p', {}, h('strong', {}, 'Copy this token now: it is not shown again. '),
      'Send it as ', h('code', {}, 'Authorization: Bearer …'), '; anyone who holds it can ',
      `${made.scopes.join(', ')} in this team.`),
    copyable('New token', made.token, { name: 'new_token' }));
}

function creator(team, shown, reload) {
  return form({ class: 'card inline-form', 'aria-label': 'Create a token' }, [
    field('Name', 'name', { required: true, maxlength: 100, autocomplete: 'off',
      placeholder: 'ci' }),
    scopes(),
    field('Expires after', 'expires_in_days', { tag: 'select', value: '90' }, EXPIRY),
  ], async (values, el) => {
    const days = values.expires_in_days;
    const made = await post('/v1/tokens', {
      name: values.name, scopes: new FormData(el).getAll('scopes'), team_id: team.id,
      expires_in_days: days === 'never' ? 'never' : Number(days),
    });
    el.querySelector('input[name=name]').value = '';
    shown.replaceChildren(shownOnce(made));
    await reload();
    shown.querySelector('input').focus();
  }, 'Create token');
}

export async function tokens(team, ctx) {
  const body = h('tbody', {});
  const empty = h('p', { class: 'muted' }, 'No tokens yet.');
  const reload = async () => {
    const mine = (await get('/v1/tokens')).filter((t) => t.kind === 'personal');
    body.replaceChildren(...mine.map((t) => row(t, ctx, reload)));
    empty.hidden = mine.length > 0;
    table.hidden = !mine.length;
  };
  const shown = h('div', { class: 'shown-once' });
  const table = h('table', { class: 'tokens' },
    h('caption', { class: 'sr-only' }, 'Your access tokens'),
    h('thead', {}, h('tr', {}, ['Name', 'Scopes', 'Reaches', 'Created', 'Last used',
      'Expires', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))), body);
  await reload();
  return section('Your access tokens',
    h('p', { class: 'muted' }, 'For the API and the CLI. A new one reaches this team only.'),
    table, empty, h('h3', {}, 'New token'), creator(team, shown, reload), shown);
}
