// What every page of one project starts with: its name and the tabs between its
// overview, settings and analytics. The project's views import it; it is not a route.

import { get } from '../api.js';
import { h, heading } from '../ui.js';

const TABS = [['overview', 'Overview', ''], ['settings', 'Settings', '/settings'],
  ['analytics', 'Analytics', '/analytics']];

// The tab list; `current` (overview, settings or analytics) is marked as this page.
export function projectNav(project, current) {
  return h('nav', { 'aria-label': 'Project' },
    h('ul', { class: 'tabs' }, TABS.map(([key, text, suffix]) => h('li', {},
      h('a', { href: `#/projects/${encodeURIComponent(project.id)}${suffix}`,
        'aria-current': key === current ? 'page' : null }, text)))));
}

// The page's h1 (the project's name, with its production URL beside it) and the tabs.
export function projectHeader(project, current) {
  return [
    heading(project.name, h('a', { href: project.url, target: '_blank', rel: 'noopener',
      class: 'production-url' }, project.url)),
    projectNav(project, current),
  ];
}

// The project, or null after saying on the page that there is none (a 404).
export async function loadProject(main, id) {
  try {
    return await get(`/v1/projects/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status !== 404) throw err;
    main.append(heading('Project not found'),
      h('p', {}, 'There is no such project, or you may not see it. ',
        h('a', { href: '#/' }, 'All projects')));
    return null;
  }
}
