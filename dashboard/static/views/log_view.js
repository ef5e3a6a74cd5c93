// A build log that stays responsive at hundreds of thousands of lines: the lines live in
// arrays, and only the rows in sight (and a margin) are elements, placed inside a spacer
// as tall as the whole log. New lines are drawn once per animation frame. "Follow"
// keeps the end in sight; scrolling up turns it off. Search and download read the
// arrays, so they cover every line, drawn or not. Not a route: deployment.js uses it.

import { h } from '../ui.js';

const ROW = 20; // px, the height of every row (style.css: .log-row)
const MARGIN = 15; // rows drawn beyond each edge of the visible ones
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g; // as the API's `plain` (projections/logs.py)
const SEARCH_DELAY = 150; // ms of quiet typing before a search of every line

const plain = (line) => String(line).replace(ANSI, '');
const english = new Intl.NumberFormat('en');

export class LogView {
  constructor(fileName) {
    this.fileName = fileName;
    this.seqs = [];
    this.texts = [];
    this.kinds = [];
    this.follow = true;
    this.query = '';
    this.matches = []; // indices of the lines holding the query
    this.current = -1; // the match shown, an index into matches
    this.frame = 0;
    this.rows = h('div', { class: 'log-rows' });
    this.spacer = h('div', { class: 'log-spacer' }, this.rows);
    this.viewport = h('div', { class: 'log', role: 'region', tabindex: 0,
      'aria-label': 'Build log', onscroll: () => this.scrolled() }, this.spacer);
    this.resized = new ResizeObserver(() => this.schedule());
    this.resized.observe(this.viewport);
    this.element = h('div', { class: 'log-view' }, this.toolbar(), this.viewport);
  }

  // Stop drawing: the page is left.
  close() {
    this.resized.disconnect();
    cancelAnimationFrame(this.frame);
    clearTimeout(this.searchTimer);
  }

  get last() {
    return this.seqs.length ? this.seqs[this.seqs.length - 1] : 0;
  }

  // One line of the stream ({seq, line, stream}); a seq already held is ignored.
  add({ seq, line, stream }) {
    if (!(seq > this.last)) return;
    const text = plain(line);
    this.seqs.push(seq);
    this.texts.push(text);
    this.kinds.push(stream || 'stdout');
    if (this.query && text.toLowerCase().includes(this.query)) {
      this.matches.push(this.texts.length - 1); // counted on the next draw
    }
    this.schedule();
  }

  // The connection as words beside the line count: live, reconnecting, complete.
  state(text) {
    this.stateText.textContent = text;
  }

  toolbar() {
    this.counter = h('span', { class: 'log-count' }, '0 lines');
    this.stateText = h('span', { class: 'log-state muted' });
    this.followBox = h('input', { type: 'checkbox', id: 'log-follow', checked: true,
      onchange: () => this.setFollow(this.followBox.checked) });
    this.search = h('input', { type: 'search', id: 'log-search', autocomplete: 'off',
      spellcheck: 'false', 'aria-describedby': 'log-matches', onkeydown: (e) => this.key(e),
      oninput: () => this.searchSoon() });
    this.matchCount = h('span', { id: 'log-matches', class: 'log-matches', role: 'status' });
    return h('div', { class: 'log-tools' },
      h('span', { class: 'log-facts' }, this.counter, this.stateText),
      h('span', { class: 'log-follow' }, this.followBox,
        h('label', { for: 'log-follow' }, 'Follow')),
      h('button', { type: 'button', class: 'secondary', onclick: () => this.download() },
        'Download log'),
      h('span', { class: 'log-search' }, h('label', { for: 'log-search' }, 'Search the log'),
        this.search,
        h('button', { type: 'button', class: 'secondary', onclick: () => this.step(-1) },
          'Previous match'),
        h('button', { type: 'button', class: 'secondary', onclick: () => this.step(1) },
          'Next match'),
        this.matchCount));
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  draw() {
    const n = this.texts.length;
    this.spacer.style.height = `${n * ROW}px`;
    this.viewport.style.setProperty('--digits', `${String(this.last).length}ch`);
    this.counter.textContent = `${english.format(n)} ${n === 1 ? 'line' : 'lines'}`;
    if (this.query) this.showMatchCount();
    if (this.follow) this.viewport.scrollTop = this.viewport.scrollHeight;
    const top = this.viewport.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW) - MARGIN);
    const end = Math.min(n, Math.ceil((top + this.viewport.clientHeight) / ROW) + MARGIN);
    this.rows.style.transform = `translateY(${first * ROW}px)`;
    const rows = [];
    for (let i = first; i < end; i += 1) rows.push(this.row(i));
    this.rows.replaceChildren(...rows);
  }

  row(i) {
    const matched = this.query && this.texts[i].toLowerCase().includes(this.query);
    const isCurrent = matched && this.matches[this.current] === i;
    return h('div', { class: `log-row ${this.kinds[i]}${matched ? ' match' : ''}${
      isCurrent ? ' current-match' : ''}`, dataset: { seq: this.seqs[i] } },
    h('span', { class: 'ln' }, this.seqs[i]),
    h('span', { class: 'log-text' }, matched ? this.marked(this.texts[i]) : this.texts[i]));
  }

  // The text with each occurrence of the query in a <mark>.
  marked(text) {
    const parts = [];
    const lower = text.toLowerCase();
    let at = 0;
    for (let found = lower.indexOf(this.query); found >= 0;
      found = lower.indexOf(this.query, at)) {
      parts.push(text.slice(at, found), h('mark', {}, text.slice(found, found + this.query.length)));
      at = found + this.query.length;
    }
    parts.push(text.slice(at));
    return parts;
  }

  scrolled() {
    const v = this.viewport;
    if (this.follow && v.scrollHeight - v.scrollTop - v.clientHeight > ROW) this.setFollow(false);
    this.schedule();
  }

  setFollow(on) {
    this.follow = on;
    this.followBox.checked = on;
    if (on) this.schedule();
  }

  key(event) {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    if (this.search.value.toLowerCase() !== this.query) this.find();
    else this.step(event.shiftKey ? -1 : 1);
  }

  searchSoon() {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => this.find(), SEARCH_DELAY);
  }

  // Every line holding the search box's text (any case); shows the first match.
  find() {
    clearTimeout(this.searchTimer);
    this.query = this.search.value.toLowerCase();
    this.matches = [];
    this.current = -1;
    if (this.query) {
      this.texts.forEach((text, i) => {
        if (text.toLowerCase().includes(this.query)) this.matches.push(i);
      });
    }
    if (this.matches.length) this.step(1);
    else this.showMatchCount();
    this.schedule();
  }

  step(by) {
    if (this.search.value.toLowerCase() !== this.query) { this.find(); return; }
    const n = this.matches.length;
    if (!n) return;
    this.current = this.current < 0 && by < 0 ? n - 1 : (this.current + by + n) % n;
    this.showMatchCount();
    this.reveal(this.matches[this.current]);
  }

  showMatchCount() {
    const n = this.matches.length;
    this.matchCount.textContent = !this.query ? '' : n === 0 ? 'No matches'
      : `${this.current < 0 ? '-' : english.format(this.current + 1)} of ${english.format(n)} ${
        n === 1 ? 'match' : 'matches'}`;
  }

  // Line i in the middle of the view; following stops, so that it stays there.
  reveal(i) {
    this.setFollow(false);
    this.draw(); // the spacer holds every line before the scroll
    this.viewport.scrollTop = i * ROW - (this.viewport.clientHeight - ROW) / 2;
    this.schedule();
  }

  // The whole log as a text file, one line per log line, colours removed.
  download() {
    const text = this.texts.length ? `${this.texts.join('\n')}\n` : '';
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
    const link = h('a', { href: url, download: this.fileName, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}
