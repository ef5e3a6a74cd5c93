// A project's traffic through the edge (#/projects/<id>/analytics?range=24h): totals,
// requests over time, status codes and the most requested paths (views/analytics_charts.js),
// over the last hour, day or week. The range is kept in the address so that a link shows
// the same view; the figures refresh every minute while the page is shown.

import { get } from '../api.js';
import { field, h, renew, toast } from '../ui.js';
import { loadProject, projectHeader } from './project_nav.js';
import { plural, requestsOverTime, statusCodes, topPaths } from './analytics_charts.js';

const HOUR = 3600 * 1000;
const RANGES = { '1h': ['Last hour', HOUR], '24h': ['Last 24 hours', 24 * HOUR],
  '7d': ['Last 7 days', 7 * 24 * HOUR] };
const REFRESH_MS = 60_000;

function size(bytes) {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  const power = Math.min(units.length - 1, Math.floor(Math.log10(Math.max(1, bytes)) / 3));
  const value = bytes / 1000 ** power;
  return `${power ? value.toFixed(value < 10 ? 1 : 0) : value} ${units[power]}`;
}

function totals(data) {
  const failed = Object.entries(data.status_codes)
    .filter(([code]) => Number(code) >= 500).reduce((n, [, c]) => n + c, 0);
  return h('dl', { class: 'stats' },
    h('div', {}, h('dt', {}, 'Requests'), h('dd', { dataset: { stat: 'requests' } },
      data.requests.toLocaleString())),
    h('div', {}, h('dt', {}, 'Data sent'), h('dd', {}, size(data.bytes))),
    h('div', {}, h('dt', {}, 'Server errors (5xx)'), h('dd', {},
      data.requests ? `${((failed / data.requests) * 100).toFixed(1)} %` : '-')));
}

function figures(data) {
  return [
    totals(data),
    requestsOverTime(data.series, data.bucket_seconds),
    statusCodes(data.status_codes),
    topPaths(data.top_paths),
    data.by_host.length ? h('p', { class: 'muted' }, 'Served on ',
      data.by_host.map((x) => `${x.host} (${plural(x.requests, 'request')})`).join(', '), '.')
      : null,
  ];
}

async function load(project, range, box) {
  const from = new Date(Date.now() - RANGES[range][1]).toISOString();
  const data = await get(`/v1/projects/${encodeURIComponent(project.id)}/analytics`, { from });
  // Unchanged figures leave the page as it is (the range's ends move on every load).
  renew(box, { ...data, range, from: null, to: null }, () => figures(data));
}

export async function render(main, [id], ctx) {
  const project = await loadProject(main, id);
  if (!project) return;
  let range = RANGES[ctx.query.get('range')] ? ctx.query.get('range') : '24h';
  const box = h('div', { class: 'analytics', 'aria-live': 'off' });
  const picker = field('Range', 'range', { tag: 'select', value: range },
    Object.entries(RANGES).map(([key, [text]]) => [key, text]));
  picker.querySelector('select').addEventListener('change', async (event) => {
    range = event.target.value;
    // Not a new route: the select keeps the focus while the figures change.
    history.replaceState(null, '', `#/projects/${encodeURIComponent(project.id)}/analytics`
      + `?range=${range}`);
    box.setAttribute('aria-busy', 'true');
    try {
      await load(project, range, box);
    } catch (err) {
      toast(err.message, true);
    } finally {
      box.removeAttribute('aria-busy');
    }
  });
  await load(project, range, box);
  main.append(...projectHeader(project, 'analytics'),
    h('div', { class: 'range-picker' }, picker), box);
  ctx.every(REFRESH_MS, () => load(project, range, box).catch(() => {}));
}
