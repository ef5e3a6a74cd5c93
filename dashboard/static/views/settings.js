// A project's settings (#/projects/<id>/settings): build settings, environment
// variables, domains, deploy hooks, git and outgoing webhooks, and deleting the project.
// Each section is a module of views/settings/; write controls show only to those whose
// role allows writing (deleting: admins), and the API refuses the others anyway.

import { h } from '../ui.js';
import { loadProject, projectHeader } from './project_nav.js';
import { buildSection } from './settings/build.js';
import { dangerSection } from './settings/danger.js';
import { domainsSection } from './settings/domains.js';
import { envSection } from './settings/env.js';
import { hooksSection } from './settings/hooks.js';
import { webhooksSection } from './settings/webhooks.js';

export async function render(main, [id], ctx) {
  const project = await loadProject(main, id);
  if (!project) return;
  const may = { write: ctx.may(project.team_id, 'write'),
    admin: ctx.may(project.team_id, 'admin') };
  const sections = await Promise.all([
    buildSection(project, may), envSection(project, may), domainsSection(project, may),
    hooksSection(project, may), webhooksSection(project, may, ctx)]);
  main.append(...[...projectHeader(project, 'settings'),
    may.write ? null : h('p', { class: 'notice' }, 'Your role in this team lets you read '
      + 'these settings, not change them.'),
    ...sections.flat(), may.admin ? dangerSection(project) : null].filter(Boolean));
}
