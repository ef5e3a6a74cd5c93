// A team: its members and their roles (changed, removed and invited by its admins, the
// invitation link shown to copy since mail may not be set up), the user's personal access
// tokens (views/team_tokens.js) and, for admins, the team's audit trail
// (views/team_audit.js).

import { del, get, patch, post } from '../api.js';
import {
  actionButton, confirmAction, copyable, field, form, h, heading, keepFocus, section, toast,
  when,
} from '../ui.js';
import { tokens } from './team_tokens.js';
import { audit } from './team_audit.js';

const ROLES = ['viewer', 'member', 'admin', 'owner'];

function switcher(team, teams) {
  if (teams.length < 2) return null;
  return h('nav', { class: 'team-switcher', 'aria-label': 'Your teams' },
    h('ul', {}, teams.map((t) => h('li', {}, h('a', {
      href: `#/teams/${t.id}`, 'aria-current': t.id === team.id ? 'page' : null,
    }, t.personal ? `${t.name} (personal)` : t.name)))));
}

// Only an owner makes, unmakes or removes an owner, and the last owner stays one; the
// API says so too.
function editable(team, member, owners) {
  if (member.role === 'owner') return team.role === 'owner' && owners > 1;
  return true;
}

function roleSelect(team, member, reload) {
  const choices = ROLES.filter((r) => r !== 'owner' || team.role === 'owner');
  const select = h('select', { 'aria-label': `Role of ${member.email}`, name: 'role',
    dataset: { key: `role-${member.user_id}` } },
    choices.map((r) => h('option', { value: r }, r)));
  select.value = member.role;
  select.addEventListener('change', async () => {
    try {
      await patch(`/v1/teams/${team.id}/members/${member.user_id}`, { role: select.value });
      toast(`${member.email} is now ${select.value}`);
    } catch (err) {
      toast(err.message, true);
    }
    await reload();
  });
  return select;
}

function removeButton(team, member, reload) {
  return actionButton(['Remove', h('span', { class: 'sr-only' }, ` ${member.email}`)],
    async () => {
      const question = `Remove ${member.email} from ${team.name}? They lose access to its `
        + 'projects at once.';
      if (!await confirmAction(question, 'Remove', { danger: true })) return;
      await del(`/v1/teams/${team.id}/members/${member.user_id}`);
      toast(`${member.email} was removed`);
      await reload();
    }, { class: 'danger' });
}

function memberRow(team, member, ctx, reload, owners) {
  const admin = ctx.may(team.id, 'admin') && editable(team, member, owners);
  const you = member.user_id === ctx.me.id ? h('span', { class: 'muted' }, ' (you)') : null;
  return h('tr', { dataset: { member: member.email } },
    h('td', {}, member.email, you),
    h('td', {}, admin ? roleSelect(team, member, reload) : member.role),
    ctx.may(team.id, 'admin') ? h('td', {}, admin ? removeButton(team, member, reload) : null)
      : null);
}

async function members(team, ctx) {
  const body = h('tbody', {});
  const show = (list) => {
    const owners = list.filter((m) => m.role === 'owner').length;
    keepFocus(body, () => body.replaceChildren(
      ...list.map((m) => memberRow(team, m, ctx, reload, owners))));
  };
  const reload = async () => show(await get(`/v1/teams/${team.id}/members`));
  const list = await get(`/v1/teams/${team.id}/members`);
  show(list);
  const head = ['Email', 'Role', ctx.may(team.id, 'admin') ? 'Actions' : null]
    .filter(Boolean).map((c) => h('th', { scope: 'col' }, c));
  const table = h('table', { class: 'members' }, h('caption', { class: 'sr-only' }, 'Members'),
    h('thead', {}, h('tr', {}, head)), body);
  return { table, reload, emails: new Map(list.map((m) => [m.user_id, m.email])) };
}

function signupLink(invitation) {
  const query = new URLSearchParams({ invitation: invitation.invitation,
    email: invitation.email });
  return `${location.origin}${location.pathname}#/signup?${query}`;
}

function inviter(team) {
  const shown = h('div', { class: 'invitation' });
  const roles = ROLES.filter((r) => r !== 'owner' || team.role === 'owner');
  const invite = form({ class: 'card inline-form', 'aria-label': 'Invite someone' }, [
    field('Email', 'email', { type: 'email', required: true, maxlength: 254,
      autocomplete: 'off' }),
    field('Role', 'role', { tag: 'select', value: 'member' }, roles.map((r) => [r, r])),
  ], async (values, el) => {
    const made = await post(`/v1/teams/${team.id}/invitations`, values);
    shown.replaceChildren(h('div', { class: 'card notice' },
      h('p', {}, `Invitation for ${made.email} as ${made.role}, valid until `,
        when(made.expires_at), '. Send them this link: it is shown only now.'),
      copyable('Invitation link', signupLink(made), { name: 'invitation_link' })));
    el.querySelector('input[name=email]').value = '';
    shown.querySelector('input').focus();
  }, 'Invite');
  return [invite, shown];
}

export async function render(main, [teamId], ctx) {
  const team = ctx.teams.find((t) => t.id === teamId);
  if (!team) {
    main.append(heading('Team not found'),
      h('p', {}, 'You are not in this team, or it no longer exists. ',
        h('a', { href: '#/' }, 'Back to the projects')));
    return;
  }
  const admin = ctx.may(team.id, 'admin');
  const people = await members(team, ctx);
  main.append(
    heading(team.name, h('span', { class: 'muted role' }, `Your role: ${team.role}`)),
    switcher(team, ctx.teams),
    section('Members', people.table, admin ? h('h3', {}, 'Invite someone') : null,
      admin ? inviter(team) : null),
    await tokens(team, ctx),
    admin ? await audit(team, people.emails) : null);
}
