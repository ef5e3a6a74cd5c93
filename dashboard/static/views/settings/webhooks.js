// Outgoing webhooks: the URLs that receive the project's deployment events, each with
// its delivery log (every attempt's answer, refreshed while open); add one (its signing
// secret is shown once) or delete one.

import { del, get, post } from '../../api.js';
import {
  actionButton, confirmAction, field, form, h, section, table, toast, when,
} from '../../ui.js';

const EVENTS = ['deployment.created', 'deployment.ready', 'deployment.failed',
  'deployment.promoted', 'deployment.rolled_back'];

function lastAnswer(delivery) {
  const a = delivery.attempts[delivery.attempts.length - 1];
  if (!a) return '-';
  const answer = a.status_code ? `HTTP ${a.status_code}` : a.error || 'no answer';
  return `${answer} (${a.duration_ms} ms)`;
}

function deliveryTable(deliveries) {
  if (!deliveries.length) return h('p', { class: 'muted' }, 'Nothing delivered yet.');
  return table(['Event', 'State', 'Created', 'Attempts', 'Last answer', 'Next retry'],
    deliveries.map((d) => [h('code', {}, d.type),
      h('span', { class: `state state-${d.state}` }, d.state), when(d.created_at),
      String(d.attempts.length), lastAnswer(d), when(d.next_attempt_at)]),
    'Deliveries, newest first');
}

// A <details> that loads the webhook's deliveries when opened; `loaders` gets its load
// function, which the section calls every few seconds (it does nothing while closed).
function deliveryLog(url, loaders) {
  const box = h('div', { 'aria-live': 'polite' });
  const log = h('details', { class: 'deliveries' }, h('summary', {}, 'Delivery log'), box);
  const load = async () => {
    if (!log.open || !log.isConnected) return;
    box.replaceChildren(deliveryTable(await get(url, { limit: 50 })));
  };
  log.addEventListener('toggle', () => load().catch((err) => toast(err.message, true)));
  loaders.set(log, load);
  return log;
}

function eventChoices() {
  return h('fieldset', { class: 'field events', dataset: { field: 'events' } },
    h('legend', {}, 'Events'),
    EVENTS.map((e) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'events', value: e }), ' ', e)),
    h('small', { class: 'hint' }, 'None checked: every event'),
    h('p', { class: 'error', 'aria-live': 'polite' }));
}

export async function webhooksSection(project, may, ctx) {
  const url = `/v1/projects/${project.id}/webhooks`;
  const list = h('div', { class: 'webhooks' });
  const once = h('div', {});
  const loaders = new Map(); // <details> -> its load()
  ctx.every(3000, () => loaders.forEach((load, log) => {
    if (!log.isConnected) loaders.delete(log);
    else load().catch(() => { /* the next poll tries again */ });
  }));
  const remove = async (w) => {
    if (!await confirmAction(`Delete the webhook to ${w.url}? Nothing more is sent to it.`,
      'Delete', { danger: true })) return;
    await del(`${url}/${w.id}`);
    toast('Webhook deleted');
    await reload();
  };
  const item = (w) => h('div', { class: 'card webhook', dataset: { webhook: w.id } },
    h('h3', {}, h('code', {}, w.url)),
    h('p', {}, 'Sends ', w.events.map((e, i) => [i ? ', ' : '', h('code', {}, e)]),
      '; added ', when(w.created_at), '.'),
    may.write ? h('div', { class: 'actions' }, actionButton('Delete', () => remove(w), {
      class: 'secondary small', 'aria-label': `Delete the webhook to ${w.url}` })) : null,
    deliveryLog(`${url}/${w.id}/deliveries`, loaders));
  async function reload() {
    const hooks = await get(url);
    list.replaceChildren(...(hooks.length ? hooks.map(item)
      : [h('p', { class: 'muted' }, 'No webhooks.')]));
  }
  await reload();

  const adder = form({ class: 'card', 'aria-label': 'Add a webhook' }, [
    field('Payload URL', 'url', { type: 'url', required: true, maxlength: 2048,
      placeholder: 'https://example.com/hooks/buildspace', autocomplete: 'off' }),
    eventChoices(),
  ], async (values, el) => {
    const events = new FormData(el).getAll('events');
    const made = await post(url, { url: values.url.trim(),
      ...(events.length ? { events } : {}) });
    el.reset();
    await reload();
    const box = h('div', { class: 'card once' },
      field('Signing secret', 'secret', { value: made.secret, readonly: true,
        spellcheck: 'false', hint: 'Shown only now: each delivery carries '
          + 'X-Buildspace-Signature-256, the HMAC-SHA256 of its body with this secret.' }),
      h('button', { type: 'button', class: 'secondary', onclick: () => box.remove() }, 'Done'));
    once.replaceChildren(box);
    box.querySelector('input').focus();
  }, 'Add webhook');
  return section('Outgoing webhooks', list, once, may.write ? adder : null);
}
