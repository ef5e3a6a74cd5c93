// Building the page: h() makes elements (text is always text, never parsed as HTML),
// forms show the API's errors next to the field they name, and small formatters.

import { ApiError } from './api.js';

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' || key === 'checked') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let fieldIds = 0;

// A labelled input (or select/textarea when props.tag says so) with its error slot.
export function field(label, name, props = {}, options = []) {
  const id = `f${++fieldIds}`;
  const { tag = 'input', hint, ...rest } = props;
  const control = h(tag, { id, name, 'aria-describedby': `${id}-error`, ...rest },
    options.map(([value, text]) => h('option', { value }, text)));
  if (tag === 'select' && rest.value !== undefined) control.value = rest.value;
  return h('div', { class: 'field', dataset: { field: name } },
    h('label', { for: id }, label), control,
    hint ? h('small', { class: 'hint' }, hint) : null,
    h('p', { class: 'error', id: `${id}-error`, 'aria-live': 'polite' }));
}

export function clearErrors(form) {
  form.querySelectorAll('.error').forEach((p) => { p.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((c) => c.removeAttribute('aria-invalid'));
}

// The API's errors: each named field's message beside it, the rest at the form's foot.
export function showErrors(form, err) {
  clearErrors(form);
  const fields = err instanceof ApiError ? err.fields : [];
  let placed = false;
  for (const { field: name, message } of fields) {
    const key = String(name).split('.').pop();
    const slot = form.querySelector(`[data-field="${CSS.escape(String(name))}"] .error`)
      || form.querySelector(`[data-field="${CSS.escape(key)}"] .error`);
    if (slot) {
      slot.textContent = message;
      slot.parentElement.querySelector('input, select, textarea')
        ?.setAttribute('aria-invalid', 'true');
      placed = true;
    }
  }
  const foot = form.querySelector(':scope > .form-error');
  if (foot) foot.textContent = placed ? '' : err.message;
  if (!placed && !foot) toast(err.message, true);
  form.querySelector('[aria-invalid="true"]')?.focus();
}

// A form whose submit calls fn(values); its errors are shown in it. Returns the form.
export function form(props, children, fn, submitText = 'Save') {
  const el = h('form', { novalidate: true, ...props }, children,
    h('p', { class: 'form-error error', role: 'alert' }),
    h('button', { type: 'submit' }, submitText));
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = el.querySelector('button[type=submit]');
    button.disabled = true;
    clearErrors(el);
    try {
      await fn(Object.fromEntries(new FormData(el)), el);
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      showErrors(el, err);
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

export function badge(status) {
  const s = status || 'NONE';
  return h('span', { class: `badge badge-${s.toLowerCase()}`, dataset: { status: s } }, s);
}

export function when(ts) {
  if (!ts) return '-';
  const d = new Date(ts);
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, d.toLocaleString());
}

export function duration(start, end) {
  if (!start) return '-';
  const ms = (end ? new Date(end) : new Date()) - new Date(start);
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

export function shortSha(sha) {
  return sha ? sha.slice(0, 7) : '-';
}

export function toast(message, isError = false) {
  const box = document.getElementById('toast');
  box.textContent = message;
  box.className = isError ? 'show error-toast' : 'show';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.className = ''; }, 5000);
}

export function heading(text, ...rest) {
  return h('div', { class: 'title' }, h('h1', {}, text), ...rest);
}

// A section with an h2 and content.
export function section(title, ...children) {
  return h('section', { 'aria-label': title }, h('h2', {}, title), ...children);
}

export function table(head, rows, caption) {
  return h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}

// --- Appended for the project and settings views: confirmations, action buttons and
// in-place refreshes that keep the keyboard focus.

let dialogIds = 0;

// A modal question before a destructive or consequential action: resolves true when the
// user confirms, false on Cancel or Escape. Focus starts on Cancel and goes back after.
export function confirmAction(question, confirmText = 'Confirm', { danger = false } = {}) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const id = `confirm${++dialogIds}`;
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': id },
      h('p', { id }, question));
    const cancel = h('button', { type: 'button', class: 'secondary',
      onclick: () => dialog.close('') }, 'Cancel');
    const ok = h('button', { type: 'button', class: danger ? 'danger' : null,
      onclick: () => dialog.close('ok') }, confirmText);
    dialog.append(h('div', { class: 'actions' }, cancel, ok));
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (back && back.isConnected) back.focus();
      resolve(dialog.returnValue === 'ok');
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

// A button that runs fn(button) on click, disabled meanwhile; a failure is a toast.
// Disabling drops the focus: it comes back after, if the button is still on the page.
export function actionButton(text, fn, props = {}) {
  const button = h('button', { type: 'button', ...props }, text);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await fn(button);
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      toast(err.message, true);
    } finally {
      button.disabled = false;
      const lost = !document.activeElement || document.activeElement === document.body;
      if (lost && button.isConnected) button.focus();
    }
  });
  return button;
}

// Run update(), which may replace parts of root: if that took the focus from an element
// with a data-key, the new element with the same key gets it.
export function keepFocus(root, update) {
  const active = document.activeElement;
  const key = active && root.contains(active) ? active.dataset.key : undefined;
  update();
  if (key && !root.contains(document.activeElement)) {
    root.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
  }
}

const shown = new WeakMap(); // element -> the signature of what it shows

// Show build()'s nodes in el, unless el already shows what `signature` describes: a
// poll that finds nothing new changes nothing on the page.
export function renew(el, signature, build) {
  const sig = JSON.stringify(signature);
  if (shown.get(el) === sig) return;
  shown.set(el, sig);
  keepFocus(el, () => el.replaceChildren(...[build()].flat().filter(Boolean)));
}

// An SVG element (h() makes HTML ones): attributes are set as given, children appended;
// text is always text.
const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// A read-only field holding a value to copy (a secret shown once, a link) with a Copy
// button; where the clipboard is not allowed, the value is selected for the user to copy.
export function copyable(label, value, props = {}) {
  const box = field(label, props.name || 'copy', { readonly: true, value, spellcheck: 'false',
    autocomplete: 'off', class: 'copy-value', hint: props.hint });
  const input = box.querySelector('input');
  input.addEventListener('focus', () => input.select());
  box.append(h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try {
      await navigator.clipboard.writeText(value);
      toast(`${label}: copied`);
    } catch {
      input.focus();
      toast('Press Ctrl+C (or ⌘C) to copy the selected text');
    }
  } }, `Copy ${label.toLowerCase()}`));
  box.classList.add('copyable');
  return box;
}
