// The dashboard's shell: a hash router (#/projects/<id> …), the signed-in user, and the
// navigation. Each view module exports render(main, params, ctx); ctx.every() and
// ctx.onLeave() tie polling and streams to the view, so leaving it stops them.

import { get, post } from './api.js';
import { h } from './ui.js';

const ROUTES = [
  [/^\/login$/, 'login', false],
  [/^\/signup$/, 'signup', false],
  [/^\/?$/, 'projects', true],
  [/^\/projects\/([^/]+)$/, 'project', true],
  [/^\/projects\/([^/]+)\/settings$/, 'settings', true],
  [/^\/projects\/([^/]+)\/analytics$/, 'analytics', true],
  [/^\/deployments\/([^/]+)$/, 'deployment', true],
  [/^\/teams\/([^/]+)$/, 'team', true],
  [/^\/account$/, 'account', true],
];

const ROLE_SCOPES = {
  viewer: ['read'], member: ['read', 'deploy'],
  admin: ['read', 'deploy', 'write', 'admin'], owner: ['read', 'deploy', 'write', 'admin'],
};
let current = null; // the view shown: its cleanups

export function go(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

function parse() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = raw.split('?');
  return { path, query: new URLSearchParams(search) };
}

async function whoAmI() {
  try {
    return await get('/v1/auth/me');
  } catch {
    return null;
  }
}

function navigation(me, teams) {
  const nav = document.getElementById('nav');
  nav.replaceChildren();
  if (!me) return;
  const team = teams[0];
  nav.append(h('ul', {},
    h('li', {}, h('a', { href: '#/' }, 'Projects')),
    team ? h('li', {}, h('a', { href: `#/teams/${team.id}` }, 'Team')) : null,
    h('li', {}, h('a', { href: '#/account' }, me.email)),
    h('li', {}, h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'))));
}

async function signOut() {
  try { await post('/v1/auth/logout'); } catch { /* already signed out */ }
  go('/login');
}

function leave() {
  if (current) current.forEach((fn) => { try { fn(); } catch { /* gone */ } });
  current = [];
}

async function route() {
  leave();
  const cleanups = current;
  const { path, query } = parse();
  const found = ROUTES.find(([re]) => re.test(path)) || ROUTES[2];
  const [re, name, needsSignIn] = found;
  const params = (path.match(re) || []).slice(1).map(decodeURIComponent);
  const main = document.getElementById('main');
  const me = await whoAmI();
  if (needsSignIn && !me) {
    go(`/login?next=${encodeURIComponent(path)}`);
    return;
  }
  const teams = me ? await get('/v1/teams').catch(() => []) : [];
  navigation(me, teams);
  const ctx = {
    me, teams, query,
    onLeave: (fn) => cleanups.push(fn),
    every: (ms, fn) => {
      const timer = setInterval(() => { if (!document.hidden) fn(); }, ms);
      cleanups.push(() => clearInterval(timer));
    },
    active: () => current === cleanups,
    // May the user do `scope` in this team? The API decides anyway: this only hides
    // what it would refuse. A project without a team is the instance owner's.
    may: (teamId, scope) => {
      const team = teams.find((t) => t.id === teamId);
      const role = team ? team.role : (!teamId && me && me.instance_owner ? 'owner' : null);
      return Boolean(role && ROLE_SCOPES[role].includes(scope));
    },
  };
  const view = await import(`./views/${name}.js`);
  if (current !== cleanups) return; // navigated away while loading
  main.replaceChildren();
  await view.render(main, params, ctx);
  const title = main.querySelector('h1');
  document.title = title ? `${title.textContent} · Buildspace` : 'Buildspace';
  if (document.activeElement === document.body) main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
window.addEventListener('signed-out', () => {
  if (!location.hash.startsWith('#/login')) go('/login');
});
route();
