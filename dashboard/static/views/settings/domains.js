// Custom domains: each with its status and, until verified, the TXT record to create;
// Verify looks the record up, Remove frees the name. Adding one shows its record.

import { del, get, post } from '../../api.js';
import { actionButton, confirmAction, field, form, h, section, toast } from '../../ui.js';

function status(d) {
  return d.verified ? h('span', { class: 'badge badge-ready' }, 'Verified')
    : h('span', { class: 'badge badge-queued' }, 'Pending verification');
}

function record(d) {
  if (d.verified) return h('span', { class: 'muted' }, 'verified');
  return h('dl', { class: 'facts txt' },
    h('dt', {}, 'Type'), h('dd', {}, h('code', {}, d.verification.type)),
    h('dt', {}, 'Name'), h('dd', {}, h('code', { class: 'txt-name' }, d.verification.name)),
    h('dt', {}, 'Value'), h('dd', {}, h('code', { class: 'txt-value' }, d.verification.value)));
}

export async function domainsSection(project, may) {
  const url = `/v1/projects/${project.id}/domains`;
  const body = h('tbody', {});
  const table = h('table', { class: 'domains' },
    h('caption', { class: 'sr-only' }, 'Custom domains'),
    h('thead', {}, h('tr', {}, ['Domain', 'Status', 'TXT record to create',
      may.write ? 'Actions' : null].filter(Boolean).map((c) => h('th', { scope: 'col' }, c)))),
    body);
  const empty = h('p', { class: 'muted' }, 'No custom domains.');
  const reload = async () => {
    const domains = await get(url);
    body.replaceChildren(...domains.map(row));
    table.hidden = !domains.length;
    empty.hidden = domains.length > 0;
  };

  const verify = async (d, slot) => {
    slot.textContent = '';
    try {
      await post(`${url}/${encodeURIComponent(d.hostname)}/verify`);
    } catch (err) {
      slot.textContent = err.message;
      return;
    }
    toast(`${d.hostname} is verified`);
    await reload();
  };
  const remove = async (d) => {
    if (!await confirmAction(`Remove ${d.hostname}? It stops serving this project.`,
      'Remove', { danger: true })) return;
    await del(`${url}/${encodeURIComponent(d.hostname)}`);
    toast(`${d.hostname} removed`);
    await reload();
  };
  function actions(d) {
    const slot = h('p', { class: 'error', 'aria-live': 'polite' });
    return [h('div', { class: 'row-actions' },
      d.verified ? null : actionButton('Verify', () => verify(d, slot), {
        class: 'secondary small', 'aria-label': `Verify ${d.hostname}` }),
      actionButton('Remove', () => remove(d), { class: 'secondary small',
        'aria-label': `Remove ${d.hostname}` })), slot];
  }
  function row(d) {
    return h('tr', { dataset: { domain: d.hostname } },
      h('td', {}, d.verified ? h('a', { href: d.url, target: '_blank', rel: 'noopener' },
        d.hostname) : d.hostname),
      h('td', {}, status(d)), h('td', {}, record(d)),
      may.write ? h('td', {}, actions(d)) : null);
  }
  await reload();

  const adder = form({ class: 'card', 'aria-label': 'Add a domain' }, [
    field('Domain', 'hostname', { required: true, maxlength: 300, autocomplete: 'off',
      placeholder: 'www.example.com', hint: 'Then create the TXT record shown, and verify' }),
  ], async (values, el) => {
    const made = await post(url, { hostname: values.hostname.trim() });
    el.reset();
    await reload();
    toast(made.verified ? `${made.hostname} added` : `${made.hostname} added: create its `
      + 'TXT record, then verify');
  }, 'Add domain');
  return section('Domains', table, empty, may.write ? adder : null);
}
