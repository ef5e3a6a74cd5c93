// The analytics page's charts, drawn as SVG through DOM calls (no library): requests over
// time, requests by status code, and the most requested paths. Each is a <figure> whose
// SVG is an image named by its <title> (the gist in words), followed by its figures in a
// table that only screen readers see.

import { h, svg } from '../ui.js';

const W = 640;
const LEFT = 48;
const RIGHT = 8;
let ids = 0;

// 0, then 1, 2, 5 × 10^k: the axis' top, at least the largest value.
function niceMax(value) {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value);
}

export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

function figure(name, caption, summary, image, head, rows) {
  const titleId = `chart${++ids}`;
  image.setAttribute('role', 'img');
  image.setAttribute('aria-labelledby', titleId);
  image.prepend(svg('title', { id: titleId }, summary));
  return h('figure', { class: 'chart', dataset: { chart: name } },
    h('figcaption', {}, caption), image,
    h('table', { class: 'sr-only' }, h('caption', {}, caption),
      h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

// Horizontal grid lines with their values, for a plot of `height` from `top`.
function yAxis(top, height, max) {
  return [0, max / 2, max].map((v) => {
    const y = top + height - (v / max) * height;
    return svg('g', { class: 'axis' },
      svg('line', { class: 'grid', x1: LEFT, x2: W - RIGHT, y1: y, y2: y }),
      svg('text', { x: LEFT - 6, y: y + 4, 'text-anchor': 'end' },
        Number.isInteger(v) ? v.toLocaleString() : ''));
  });
}

// A bucket's start: the time of day, and the day too when the range is over 12 hours.
function timeLabel(iso, withDay) {
  const options = withDay ? { weekday: 'short', hour: '2-digit', minute: '2-digit' }
    : { hour: '2-digit', minute: '2-digit' };
  return new Date(iso).toLocaleString(undefined, options);
}

export function requestsOverTime(series, bucketSeconds) {
  const withDay = series.length * bucketSeconds > 12 * 3600;
  const [top, plotH, height] = [10, 170, 210];
  const max = niceMax(Math.max(0, ...series.map((b) => b.requests)));
  const step = (W - LEFT - RIGHT) / Math.max(1, series.length);
  const bars = series.map((b, i) => {
    if (!b.requests) return null;
    const barH = Math.max(1, (b.requests / max) * plotH);
    return svg('rect', { class: 'bar', x: LEFT + i * step + step * 0.1, y: top + plotH - barH,
      width: Math.max(1, step * 0.8), height: barH },
    svg('title', {}, `${timeLabel(b.start, withDay)}: ${plural(b.requests, 'request')}`));
  });
  const ticks = [...new Set([0, Math.floor(series.length / 2), series.length - 1])]
    .filter((i) => series[i]).map((i) => svg('text', {
      x: LEFT + i * step + step / 2, y: height - 8,
      'text-anchor': i === 0 ? 'start' : i === series.length - 1 ? 'end' : 'middle',
    }, timeLabel(series[i].start, withDay)));
  const total = series.reduce((n, b) => n + b.requests, 0);
  const busiest = series.reduce((a, b) => (b.requests > a.requests ? b : a), series[0]);
  const summary = total ? `Requests over time: ${plural(total, 'request')}; the busiest `
    + `period began ${timeLabel(busiest.start, withDay)} with ${busiest.requests}.`
    : 'Requests over time: none in this range.';
  const busy = series.filter((b) => b.requests);
  return figure('requests', 'Requests over time', summary,
    svg('svg', { viewBox: `0 0 ${W} ${height}`, class: 'plot' }, yAxis(top, plotH, max),
      bars, ticks),
    ['Period starting', 'Requests'],
    busy.length ? busy.map((b) => [timeLabel(b.start, withDay), b.requests])
      : [['none', 0]]);
}

// Said in the plot when there is nothing to draw.
function nothing(height) {
  return svg('text', { x: W / 2, y: height / 2, 'text-anchor': 'middle', class: 'label' },
    'No requests in this range');
}

function family(code) {
  return `s${String(code).charAt(0)}xx`;
}

export function statusCodes(codes) {
  const entries = Object.entries(codes).sort(([a], [b]) => a.localeCompare(b));
  const [top, plotH, height] = [18, 150, 196];
  const max = niceMax(Math.max(0, ...entries.map(([, n]) => n)));
  const slot = Math.min(96, (W - LEFT - RIGHT) / Math.max(1, entries.length));
  const bars = entries.map(([code, n], i) => {
    const x = LEFT + i * slot;
    const barH = Math.max(1, (n / max) * plotH);
    return svg('g', {},
      svg('rect', { class: `bar ${family(code)}`, x: x + slot * 0.15, y: top + plotH - barH,
        width: slot * 0.7, height: barH, 'data-status': code }),
      svg('text', { x: x + slot / 2, y: top + plotH - barH - 4, 'text-anchor': 'middle' },
        n.toLocaleString()),
      svg('text', { x: x + slot / 2, y: height - 10, 'text-anchor': 'middle',
        class: 'label' }, code));
  });
  const summary = entries.length ? `Requests by status code: ${entries.map(([code, n]) =>
    `${code}: ${n}`).join(', ')}.` : 'Requests by status code: none in this range.';
  return figure('status', 'Status codes', summary,
    svg('svg', { viewBox: `0 0 ${W} ${height}`, class: 'plot' }, yAxis(top, plotH, max), bars,
      entries.length ? null : nothing(height)),
    ['Status code', 'Requests'], entries.length ? entries : [['none', 0]]);
}

function clipped(text, length = 34) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

export function topPaths(paths) {
  const [row, labelW] = [28, 250];
  const height = Math.max(2, paths.length) * row + 8;
  const max = Math.max(1, ...paths.map((p) => p.requests));
  const barW = W - labelW - 70;
  const rows = paths.map((p, i) => {
    const y = 4 + i * row;
    return svg('g', { 'data-path': p.path }, svg('title', {}, `${p.path}: ${p.requests}`),
      svg('text', { x: labelW - 8, y: y + row / 2 + 4, 'text-anchor': 'end', class: 'label' },
        clipped(p.path)),
      svg('rect', { class: 'bar', x: labelW, y: y + 4, height: row - 8,
        width: Math.max(1, (p.requests / max) * barW) }),
      svg('text', { x: labelW + (p.requests / max) * barW + 6, y: y + row / 2 + 4 },
        p.requests.toLocaleString()));
  });
  const summary = paths.length ? `Most requested paths: ${paths.slice(0, 3).map((p) =>
    `${p.path} (${p.requests})`).join(', ')}${paths.length > 3 ? ', …' : ''}.`
    : 'Most requested paths: none in this range.';
  return figure('paths', 'Top paths', summary,
    svg('svg', { viewBox: `0 0 ${W} ${height}`, class: 'plot' }, rows,
      paths.length ? null : nothing(height)),
    ['Path', 'Requests', 'Bytes sent'],
    paths.length ? paths.map((p) => [p.path, p.requests, p.bytes]) : [['none', 0, 0]]);
}
