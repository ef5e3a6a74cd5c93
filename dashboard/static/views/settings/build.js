// Build settings: framework preset, commands, directories, the Node.js version, the
// production branch and network access while building. Empty means "detect". A form for those who may write,
// a list of the values for the others.

import { patch } from '../../api.js';
import { field, form, h, section, toast } from '../../ui.js';

const FRAMEWORKS = ['vite', 'create-react-app', 'nextjs', 'astro', 'sveltekit', 'nuxt',
  'gatsby', 'docusaurus', 'vitepress', 'eleventy', 'angular', 'react-router', 'hugo',
  'mkdocs', 'static'];
const TEXTS = [
  ['root_directory', 'Root directory', 255, 'Where the app is in the repository; empty: its top'],
  ['install_command', 'Install command', 1000, 'Empty: detected from the lockfile'],
  ['build_command', 'Build command', 1000, "Empty: the framework's, or the build script"],
  ['output_directory', 'Output directory', 255, "Empty: the framework's"],
  ['node_version', 'Node.js version', 64,
    'Empty: from the repository (.nvmrc, .node-version, engines.node); e.g. 22, lts, 20.x'],
];

function readOnly(project) {
  const shown = (v) => (v ? h('code', {}, v) : h('span', { class: 'muted' }, 'detected'));
  return h('dl', { class: 'facts' },
    h('dt', {}, 'Framework'), h('dd', {}, shown(project.framework)),
    TEXTS.map(([name, label]) => [h('dt', {}, label), h('dd', {}, shown(project[name]))]),
    h('dt', {}, 'Production branch'), h('dd', {}, h('code', {}, project.branch)),
    h('dt', {}, 'Network while building'), h('dd', {}, project.build_network ? 'yes' : 'no'));
}

function body(values) {
  const out = { framework: values.framework || null, branch: values.branch.trim(),
    build_network: values.build_network === 'on' };
  for (const [name] of TEXTS) out[name] = values[name].trim() || null;
  return out;
}

function fill(el, answer) {
  const s = answer.settings;
  el.elements.framework.value = s.framework || '';
  for (const [name] of TEXTS) el.elements[name].value = s[name] || '';
  el.elements.branch.value = answer.branch;
  el.elements.build_network.checked = s.build_network;
}

function editor(project) {
  return form({ class: 'card', 'aria-label': 'Build settings' }, [
    field('Framework', 'framework', { tag: 'select', value: project.framework || '' },
      [['', 'Detect automatically'], ...FRAMEWORKS.map((f) => [f, f])]),
    TEXTS.map(([name, label, max, hint]) => field(label, name, {
      value: project[name] || '', maxlength: max, hint, autocomplete: 'off',
      spellcheck: 'false' })),
    field('Production branch', 'branch', { value: project.branch, required: true,
      maxlength: 255, hint: 'Its deployments go to production; other branches are previews' }),
    field('Network while building', 'build_network', { type: 'checkbox',
      checked: project.build_network, hint: 'The install step always has network' }),
  ], async (values, el) => {
    fill(el, await patch(`/v1/projects/${project.id}`, body(values)));
    toast('Build settings saved: they apply to the next deployment');
  }, 'Save build settings');
}

export function buildSection(project, may) {
  return section('Build settings', may.write ? editor(project) : readOnly(project));
}
