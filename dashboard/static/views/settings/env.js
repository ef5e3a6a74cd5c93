// Build variables: their names with masked values; add or update one, remove one (for
// those who may write); "Reveal" for admins. A value is in the page only while revealed,
// and the form's value box is emptied once it is saved.

import { ApiError, get, patch } from '../../api.js';
import { actionButton, confirmAction, field, form, h, section, toast } from '../../ui.js';

// The API names a variable's problem by its place in the body (set.NAME, unset.0):
// beside the form's Name box is where it belongs.
function onNameField(err) {
  if (err instanceof ApiError) {
    err.fields = err.fields.map((f) => (/^(set|unset|vars)\b/.test(String(f.field))
      ? { ...f, field: 'name' } : f));
  }
  return err;
}

async function change(project, body) {
  try {
    return await patch(`/v1/projects/${project.id}/env`, body);
  } catch (err) {
    throw onNameField(err);
  }
}

export async function envSection(project, may) {
  const url = `/v1/projects/${project.id}/env`;
  const state = { vars: (await get(url)).vars, values: null };
  const body = h('tbody', {});
  const table = h('table', { class: 'env' },
    h('caption', { class: 'sr-only' }, 'Build variables'),
    h('thead', {}, h('tr', {}, ['Name', 'Value', may.write ? 'Actions' : null]
      .filter(Boolean).map((c) => h('th', { scope: 'col' }, c)))), body);
  const empty = h('p', { class: 'muted' }, 'No build variables.');
  const reveal = actionButton('Reveal values', async () => {
    state.values = state.values ? null : (await get(`${url}/values`)).vars;
    draw();
  }, { class: 'secondary' });
  const revealBar = may.admin ? h('div', { class: 'actions' }, reveal) : null;

  const remove = async (name) => {
    if (!await confirmAction(`Remove the variable ${name}? The next deployment builds `
      + 'without it.', 'Remove', { danger: true })) return;
    await settle(await change(project, { unset: [name] }));
    toast(`${name} removed`);
  };
  const row = (name) => h('tr', { dataset: { env: name } },
    h('td', {}, h('code', {}, name)),
    h('td', {}, state.values ? h('code', { class: 'value' }, state.values[name] ?? '')
      : [h('span', { 'aria-hidden': 'true' }, state.vars[name]),
        h('span', { class: 'sr-only' }, 'hidden')]),
    may.write ? h('td', {}, actionButton('Remove', () => remove(name), {
      class: 'secondary small', 'aria-label': `Remove ${name}` })) : null);
  function draw() {
    const names = Object.keys(state.vars).sort();
    body.replaceChildren(...names.map(row));
    table.hidden = !names.length;
    empty.hidden = names.length > 0;
    if (revealBar) revealBar.hidden = !names.length;
    reveal.textContent = state.values ? 'Hide values' : 'Reveal values';
  }
  async function settle(answer) {
    state.vars = answer.vars;
    if (state.values) state.values = (await get(`${url}/values`)).vars;
    draw();
  }
  draw();

  const adder = form({ class: 'card', 'aria-label': 'Add or update a variable' }, [
    field('Name', 'name', { required: true, maxlength: 128, autocomplete: 'off',
      spellcheck: 'false', placeholder: 'API_URL' }),
    field('Value', 'value', { maxlength: 65536, autocomplete: 'off', spellcheck: 'false',
      hint: 'Stored encrypted; the same name replaces the value' }),
  ], async (values, el) => {
    const name = values.name.trim();
    await settle(await change(project, { set: { [name]: values.value } }));
    el.reset();
    toast(`${name} saved: it applies to the next deployment`);
  }, 'Save variable');
  return section('Environment variables', revealBar, table, empty, may.write ? adder : null);
}
