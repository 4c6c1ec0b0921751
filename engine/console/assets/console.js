/*
 * weir console — the admin pages over weir's JSON admin API, embedded in the binary and served
 * at /ui/ on the admin listener.
 *
 * Plain JavaScript, no framework, nothing loaded from elsewhere. The Content-Security-Policy
 * allows no inline script or style, so everything here is in this file and in console.css.
 *
 * Rules this file keeps:
 * - Every value from the API (events, Graph answers, workflow names, errors) reaches the page
 *   through textContent or createElement, never innerHTML, insertAdjacentHTML or document.write.
 *   Links are built only as "#/..." with encodeURIComponent'd parts.
 * - Every POST carries X-CSRF-Token (from /api/session or /api/login).
 * - Page state lives in the URL hash (#/runs?status=failed...), so a page can be linked and
 *   reloaded; auto-refresh reloads data only and never touches an input being typed in.
 *
 * Pages: #/runs, #/run/ID, #/held, #/workflows, #/health, and a login view when the server asks
 * for one.
 */
'use strict';

(function () {
  /* {====== state ====== */

  const STATUSES = ['queued', 'running', 'retrying', 'waiting', 'held', 'succeeded',
    'succeeded_with_errors', 'failed', 'cancelled'];
  const FINAL = ['succeeded', 'succeeded_with_errors', 'failed', 'cancelled'];
  const REFRESH_MS = 5000;
  const ACTIVE_REFRESH_MS = 2000; /* a run page while its run is not finished */
  const ON_ERROR_BASE = 1000; /* step idx from which on_error steps count */
  const FILTER_KEYS = ['status', 'workflow', 'trigger', 'q', 'since', 'until', 'limit'];

  const S = {
    csrf: null,
    loginRequired: false,
    authenticated: false,
    view: null,          /* the current page: {name, key, update, refresh, stop} */
    lastRunsHash: '#/runs',
    workflows: null,     /* the /api/workflows answer, kept for the filters */
    workflowsAt: 0,
  };

  /* }====== */

  /* {====== DOM helpers: text only ====== */

  const $ = (id) => document.getElementById(id);

  /*
   * el('tag', {attrs}, children...): an element. attrs: class, text (textContent), dataset
   * (object), and plain attributes; attribute names starting with "on" are refused, so no
   * handler can come from data. Children: nodes, strings (text nodes), arrays, null (skipped).
   */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) {
          continue;
        }
        if (/^on/i.test(k)) {
          throw new Error('el: no event handler attributes');
        }
        if (k === 'class') {
          e.className = v;
        } else if (k === 'text') {
          e.textContent = String(v);
        } else if (k === 'dataset') {
          for (const [dk, dv] of Object.entries(v)) {
            if (dv !== null && dv !== undefined) {
              e.dataset[dk] = String(dv);
            }
          }
        } else if (k === 'href') {
          e.setAttribute('href', safeHref(v));
        } else if (v === true) {
          e.setAttribute(k, '');
        } else {
          e.setAttribute(k, String(v));
        }
      }
    }
    append(e, children);
    return e;
  }

  function append(parent, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) {
        continue;
      }
      if (Array.isArray(c)) {
        append(parent, c);
      } else if (c instanceof Node) {
        parent.appendChild(c);
      } else {
        parent.appendChild(document.createTextNode(String(c)));
      }
    }
  }

  /* Only in-page links: anything else becomes "#". */
  function safeHref(h) {
    const s = String(h);
    return s.startsWith('#') ? s : '#';
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
    return node;
  }

  function runHref(id) {
    return '#/run/' + encodeURIComponent(id);
  }

  function runsHref(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== null && v !== undefined && v !== '') {
        q.set(k, v);
      }
    }
    const s = q.toString();
    return '#/runs' + (s ? '?' + s : '');
  }

  /* }====== */

  /* {====== formatting ====== */

  function pad(n, w) {
    return String(n).padStart(w || 2, '0');
  }

  function isNum(v) {
    return typeof v === 'number' && isFinite(v);
  }

  /* Local time "2024-05-01 14:05:12" of unix ms; '' for none. */
  function fmtTime(ms) {
    if (!isNum(ms) || ms <= 0) {
      return '';
    }
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  /* Compact time for tables: the time of day today, else the date and minute. */
  function fmtShort(ms) {
    if (!isNum(ms) || ms <= 0) {
      return '';
    }
    const full = fmtTime(ms);
    const today = fmtTime(Date.now()).slice(0, 10);
    return full.slice(0, 10) === today ? full.slice(11) : full.slice(0, 16);
  }

  /* 412ms, 12.3s, 4m05s, 2h13m, 3d04h — as `weir` prints them. */
  function fmtDuration(ms) {
    if (!isNum(ms)) {
      return '';
    }
    if (ms < 0) {
      ms = 0;
    }
    const s = Math.floor(ms / 1000);
    if (ms < 1000) {
      return Math.round(ms) + 'ms';
    }
    if (s < 60) {
      return s + '.' + Math.floor((ms % 1000) / 100) + 's';
    }
    if (s < 3600) {
      return Math.floor(s / 60) + 'm' + pad(s % 60) + 's';
    }
    if (s < 86400) {
      return Math.floor(s / 3600) + 'h' + pad(Math.floor((s % 3600) / 60)) + 'm';
    }
    return Math.floor(s / 86400) + 'd' + pad(Math.floor((s % 86400) / 3600)) + 'h';
  }

  /* "5m ago" / "in 2h" of unix ms. */
  function fmtRelative(ms) {
    if (!isNum(ms) || ms <= 0) {
      return '';
    }
    const d = ms - Date.now();
    if (Math.abs(d) < 1500) {
      return 'now';
    }
    return d < 0 ? fmtDuration(-d).replace(/\.\d+s$/, 's') + ' ago'
      : 'in ' + fmtDuration(d).replace(/\.\d+s$/, 's');
  }

  /* A <time> with the local time as text and the full one (and how long ago) as its title. */
  function timeEl(ms, short) {
    if (!isNum(ms) || ms <= 0) {
      return el('span', { class: 'muted', text: '—' });
    }
    return el('time', {
      datetime: new Date(ms).toISOString(),
      title: fmtTime(ms) + ' (' + fmtRelative(ms) + ')',
      text: short ? fmtShort(ms) : fmtTime(ms),
    });
  }

  function statusLabel(s) {
    return String(s || 'unknown').replace(/_/g, ' ');
  }

  function badge(status, id) {
    return el('span', {
      class: 'badge st-' + String(status || 'unknown').replace(/[^a-z_]/g, ''),
      id: id || null,
      dataset: { status: status || '' },
      text: statusLabel(status),
    });
  }

  function pretty(v) {
    if (v === undefined) {
      return '';
    }
    if (typeof v === 'string') {
      return v;
    }
    try {
      return JSON.stringify(v, null, 2);
    } catch (e) {
      return String(v);
    }
  }

  function jsonBlock(v, cls, id) {
    return el('pre', { class: 'json ' + (cls || ''), id: id || null, tabindex: '0',
      text: pretty(v) });
  }

  /*
   * Graph's answer inside an error text, as weir's Graph client writes it:
   * "... Graph 403 Authorization_RequestDenied: Insufficient privileges ...". An error object
   * {status, code, message} is taken as it is. {before, status, code, message} or null.
   */
  function graphError(err, ge) {
    if (ge && typeof ge === 'object' && (ge.code || ge.message)) {
      /* the server's reading: {status (null without an HTTP answer), code, message,
         request_id} */
      const at = typeof err === 'string' ? err.indexOf('Graph ') : -1;
      return { before: at > 0 ? err.slice(0, at).replace(/[\s:;,-]+$/, '') : '',
        status: ge.status === null || ge.status === undefined ? '' : String(ge.status),
        code: ge.code || '', message: ge.message || '',
        ids: ge.request_id ? 'request-id ' + ge.request_id : '' };
    }
    if (err && typeof err === 'object') {
      const code = err.code || (err.graph && err.graph.code);
      const message = err.message || (err.graph && err.graph.message);
      if (code || message) {
        return { before: err.context || '', status: err.status || err.http_status || '',
          code: code || '', message: message || '' };
      }
      return null;
    }
    if (typeof err !== 'string') {
      return null;
    }
    const m = /(^|[\s(:;,])Graph (\d{3})(?: ([A-Za-z][\w.-]*))?(?::\s*|\s+[-—]\s*|$)([\s\S]*)$/.exec(err);
    if (!m) {
      return null;
    }
    let message = m[4] || '';
    let ids = '';
    const idm = /\s*\((request-id [^()]*)\)\s*$/.exec(message);
    if (idm) {
      ids = idm[1];
      message = message.slice(0, idm.index);
    }
    return { before: err.slice(0, m.index + m[1].length).replace(/[\s:;,-]+$/, ''),
      status: m[2], code: m[3] || '', message: message, ids: ids };
  }

  /* An error box: Graph's code and message prominent when the text carries them. */
  function errorBox(err, idPrefix, ge) {
    const text = typeof err === 'string' ? err : pretty(err);
    const g = graphError(err, ge);
    const box = el('div', { class: 'errbox', role: 'group', 'aria-label': 'Error' });
    if (g) {
      const head = el('div', { class: 'graph-head' },
        el('span', { class: 'graph-label', text: 'Graph' }),
        g.status ? el('span', { class: 'graph-status', id: idPrefix ? idPrefix + '-status' : null,
          text: g.status }) : null,
        g.code ? el('code', { class: 'graph-code', id: idPrefix ? idPrefix + '-code' : null,
          text: g.code }) : null);
      box.appendChild(head);
      box.appendChild(el('p', { class: 'graph-message',
        id: idPrefix ? idPrefix + '-message' : null, text: g.message || text }));
      if (g.before) {
        box.appendChild(el('p', { class: 'graph-context', text: g.before }));
      }
      if (g.ids) {
        box.appendChild(el('p', { class: 'graph-ids mono', text: g.ids }));
      }
      box.appendChild(el('details', { class: 'raw' }, el('summary', { text: 'Full error text' }),
        el('pre', { class: 'errtext', text: text })));
    } else {
      box.appendChild(el('pre', { class: 'errtext', id: idPrefix ? idPrefix + '-message' : null,
        text: text }));
    }
    return box;
  }

  /* }====== */

  /* {====== the API ====== */

  const REASONS = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
    405: 'Method Not Allowed', 409: 'Conflict', 410: 'Gone', 413: 'Payload Too Large',
    422: 'Unprocessable Entity', 429: 'Too Many Requests', 500: 'Internal Server Error',
    502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

  class ApiError extends Error {
    constructor(status, reason, text, what) {
      super(text);
      this.status = status;
      this.reason = reason;
      this.text = text;
      this.what = what;
    }

    /* "HTTP 403 Forbidden: CSRF token missing or wrong" */
    describe() {
      if (!this.status) {
        return this.text;
      }
      return 'HTTP ' + this.status + ' ' + (this.reason || REASONS[this.status] || '') +
        (this.text ? ': ' + this.text : '');
    }
  }

  /*
   * One request to the admin API: the parsed JSON answer, or an ApiError carrying the HTTP
   * status and the server's error text. POSTs carry the CSRF token.
   */
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const opts = { method: method, headers: headers, credentials: 'same-origin',
      cache: 'no-store', redirect: 'error' };
    if (method !== 'GET' && method !== 'HEAD') {
      headers['X-CSRF-Token'] = S.csrf || '';
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        opts.body = JSON.stringify(body);
      }
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      throw new ApiError(0, '', 'weir did not answer (' + (e && e.message ? e.message : e) +
        ')', method + ' ' + path);
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      let msg = data && typeof data.error === 'string' ? data.error : text.trim();
      if (msg.length > 2000) {
        msg = msg.slice(0, 2000) + '…';
      }
      const err = new ApiError(res.status, res.statusText, msg, method + ' ' + path);
      if (res.status === 401 && path !== '/api/login') {
        S.authenticated = false;
        /* the session ended (expired, weir restarted): back to the login form */
        if (S.loginRequired) {
          setTimeout(showLogin, 0);
        }
      }
      throw err;
    }
    if (data === null && text) {
      throw new ApiError(res.status, res.statusText, 'the answer is not JSON', method + ' ' + path);
    }
    return data;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== null && v !== undefined && v !== '') {
        q.set(k, v);
      }
    }
    const s = q.toString();
    return s ? '?' + s : '';
  }

  /* /api/workflows, kept for a minute (the filters' choices). */
  async function workflows(fresh) {
    if (!fresh && S.workflows && Date.now() - S.workflowsAt < 60000) {
      return S.workflows;
    }
    const data = await api('GET', '/api/workflows');
    S.workflows = Array.isArray(data) ? data : (data && Array.isArray(data.workflows)
      ? data.workflows : []);
    S.workflowsAt = Date.now();
    return S.workflows;
  }

  /* }====== */

  /* {====== page frame: banner, nav, refresh ====== */

  function showError(err, context) {
    const text = err instanceof ApiError ? err.describe() : String(err && err.message || err);
    $('error-text').textContent = (context ? context + ': ' : '') + text;
    $('error-banner').hidden = false;
    $('error-banner').dataset.status = err instanceof ApiError ? String(err.status) : '';
  }

  function clearError() {
    $('error-banner').hidden = true;
    $('error-text').textContent = '';
  }

  function setNav(page) {
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.page === page) {
        a.setAttribute('aria-current', 'page');
      } else {
        a.removeAttribute('aria-current');
      }
    }
  }

  function refreshed() {
    $('refreshed').textContent = 'updated ' + fmtTime(Date.now()).slice(11);
  }

  function autoRefreshOn() {
    return $('autorefresh').checked;
  }

  /*
   * A timer that calls fn (async) every period ms while auto-refresh is on, the tab is
   * visible, no dialog is open and the previous call has finished. period may be a function.
   */
  function poller(fn, period) {
    let timer = null;
    let busy = false;
    let stopped = false;
    const next = () => {
      if (stopped) {
        return;
      }
      const ms = typeof period === 'function' ? period() : period;
      timer = setTimeout(tick, ms);
    };
    const tick = async () => {
      timer = null;
      if (stopped) {
        return;
      }
      if (!busy && autoRefreshOn() && !document.hidden && !$('confirm').open) {
        busy = true;
        try {
          await fn(true);
        } catch (e) {
          /* the page shows its own errors */
        } finally {
          busy = false;
        }
      }
      next();
    };
    next();
    return {
      stop() {
        stopped = true;
        if (timer) {
          clearTimeout(timer);
        }
      },
    };
  }

  /* }====== */

  /* {====== confirm dialog ====== */

  /*
   * Asks before an action. opts: {title, body (nodes), ok (button text), danger (bool),
   * decide (show "as" and "reason")}. Resolves to null when declined, else {as, reason}.
   */
  function confirmAction(opts) {
    const dlg = $('confirm');
    $('confirm-title').textContent = opts.title;
    append(clear($('confirm-body')), [opts.body || null]);
    $('confirm-fields').hidden = !opts.decide;
    $('confirm-reason').value = '';
    if (opts.decide) {
      $('confirm-as').value = loadAs();
    }
    const ok = $('confirm-ok');
    ok.textContent = opts.ok || 'Confirm';
    ok.className = opts.danger ? 'danger' : 'primary';
    return new Promise((resolve) => {
      const done = (v) => {
        $('confirm-form').removeEventListener('submit', onSubmit);
        $('confirm-cancel').removeEventListener('click', onCancel);
        dlg.removeEventListener('cancel', onCancel);
        if (dlg.open) {
          dlg.close();
        }
        resolve(v);
      };
      const onSubmit = (ev) => {
        ev.preventDefault();
        if (opts.decide) {
          const as = $('confirm-as').value.trim();
          if (!as) {
            $('confirm-as').setCustomValidity('Say who decides');
            $('confirm-as').reportValidity();
            return;
          }
          $('confirm-as').setCustomValidity('');
          saveAs(as);
          done({ as: as, reason: $('confirm-reason').value.trim() });
        } else {
          done({});
        }
      };
      const onCancel = (ev) => {
        if (ev) {
          ev.preventDefault();
        }
        done(null);
      };
      $('confirm-form').addEventListener('submit', onSubmit);
      $('confirm-cancel').addEventListener('click', onCancel);
      dlg.addEventListener('cancel', onCancel);
      if (typeof dlg.showModal === 'function') {
        dlg.showModal();
      } else {
        dlg.setAttribute('open', '');
      }
      (opts.decide ? $('confirm-as') : $('confirm-cancel')).focus();
    });
  }

  function loadAs() {
    try {
      return localStorage.getItem('weir.console.as') || '';
    } catch (e) {
      return '';
    }
  }

  function saveAs(v) {
    try {
      localStorage.setItem('weir.console.as', v);
    } catch (e) {
      /* private mode: nothing kept */
    }
  }

  /* A result line: ok (bool), the text; in a role=status region. */
  function showResult(node, ok, text) {
    node.hidden = false;
    node.className = 'result ' + (ok ? 'ok' : 'bad');
    node.dataset.ok = ok ? 'true' : 'false';
    node.textContent = text;
  }

  /* }====== */

  /* {====== Runs page ====== */

  function runsParams(params) {
    const p = {};
    for (const k of FILTER_KEYS.concat(['before'])) {
      p[k] = params.get(k) || '';
    }
    return p;
  }

  function runsView(params) {
    const state = { p: runsParams(params), stack: [], cursorParam: 'before', data: null,
      typing: null };
    const root = el('section', { id: 'runs-page', class: 'page', 'aria-labelledby': 'runs-h' });
    const h = el('h1', { id: 'runs-h', text: 'Runs' });

    /* the filter form, built once: refreshes never rebuild it */
    const f = {};
    f.status = el('select', { id: 'f-status', name: 'status' },
      el('option', { value: '', text: 'any status' }),
      STATUSES.map((s) => el('option', { value: s, text: statusLabel(s) })));
    f.workflow = el('select', { id: 'f-workflow', name: 'workflow' },
      el('option', { value: '', text: 'any workflow' }));
    f.trigger = el('select', { id: 'f-trigger', name: 'trigger' },
      el('option', { value: '', text: 'any trigger' }));
    f.q = el('input', { id: 'f-q', name: 'q', type: 'search', autocomplete: 'off',
      placeholder: 'user, subject, run or event id', maxlength: '200' });
    f.since = el('input', { id: 'f-since', name: 'since', type: 'text', autocomplete: 'off',
      placeholder: 'e.g. 24h', list: 'durations', size: '6', maxlength: '12',
      pattern: '\\s*\\d+\\s*(ms|s|m|h|d|w)?\\s*', title: 'a duration: 30m, 2h, 7d' });
    f.until = el('input', { id: 'f-until', name: 'until', type: 'text', autocomplete: 'off',
      placeholder: 'e.g. 1h', list: 'durations', size: '6', maxlength: '12',
      pattern: '\\s*\\d+\\s*(ms|s|m|h|d|w)?\\s*', title: 'a duration: 30m, 2h, 7d' });
    f.limit = el('select', { id: 'f-limit', name: 'limit' },
      ['25', '50', '100', '200'].map((n) => el('option', { value: n, text: n })));
    f.limit.value = '50';
    const durations = el('datalist', { id: 'durations' },
      ['15m', '1h', '6h', '24h', '7d', '30d'].map((d) => el('option', { value: d })));
    const field = (label, input, cls) => el('div', { class: 'field ' + (cls || '') },
      el('label', { for: input.id, text: label }), input);
    const clearBtn = el('button', { type: 'button', id: 'f-clear', class: 'quiet',
      text: 'Clear filters' });
    const form = el('form', { id: 'runs-filter', class: 'filters', role: 'search',
      'aria-label': 'Filter runs' },
    field('Status', f.status), field('Workflow', f.workflow), field('Trigger', f.trigger),
    field('User or subject', f.q, 'grow'),
    field('Since (newer than)', f.since), field('Until (older than)', f.until),
    field('Per page', f.limit),
    el('div', { class: 'field buttons' }, el('button', { type: 'submit', id: 'f-apply',
      class: 'primary', text: 'Apply' }), clearBtn),
    durations);

    const counts = el('div', { id: 'runs-counts', class: 'chips', role: 'group',
      'aria-label': 'Runs by status' });
    const summary = el('p', { id: 'runs-summary', class: 'muted', 'aria-live': 'polite' });
    const tableWrap = el('div', { class: 'table-wrap', id: 'runs-wrap' });
    const pager = el('nav', { class: 'pager', id: 'runs-pager', 'aria-label': 'Pages of runs' });
    const newest = el('button', { type: 'button', id: 'page-newest', class: 'quiet',
      text: '⇤ Newest' });
    const newer = el('button', { type: 'button', id: 'page-newer', text: '← Newer' });
    const older = el('button', { type: 'button', id: 'page-older', text: 'Older →' });
    append(pager, [newest, newer, older]);
    append(root, [h, form, counts, summary, tableWrap, pager]);

    /* inputs follow the state, except the one being typed in */
    const syncInputs = () => {
      for (const k of FILTER_KEYS) {
        const input = f[k];
        const v = k === 'limit' ? (state.p.limit || '50') : state.p[k];
        if (input.tagName === 'SELECT' && v && !Array.from(input.options).some(
          (o) => o.value === v)) {
          input.appendChild(el('option', { value: v, text: v }));
        }
        if (document.activeElement !== input && input.value !== v) {
          input.value = v;
        }
      }
    };

    /* The state from the inputs into the hash (replace: no history entry per keystroke). */
    const apply = (replace) => {
      const p = {};
      for (const k of FILTER_KEYS) {
        p[k] = f[k].value.trim();
      }
      if (p.limit === '50') {
        p.limit = '';
      }
      for (const k of ['since', 'until']) {
        p[k] = p[k].replace(/\s+/g, '');
      }
      const changed = FILTER_KEYS.some((k) => (p[k] || '') !== (state.p[k] || ''));
      if (!changed) {
        return;
      }
      state.stack = [];
      go(runsHref(p), replace);
    };

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (state.typing) {
        clearTimeout(state.typing);
        state.typing = null;
      }
      apply(false);
    });
    for (const k of ['status', 'workflow', 'trigger', 'limit']) {
      f[k].addEventListener('change', () => apply(false));
    }
    for (const k of ['q', 'since', 'until']) {
      f[k].addEventListener('input', () => {
        if (state.typing) {
          clearTimeout(state.typing);
        }
        state.typing = setTimeout(() => {
          state.typing = null;
          if (f[k].checkValidity()) {
            apply(true);
          }
        }, 600);
      });
    }
    clearBtn.addEventListener('click', () => {
      for (const k of FILTER_KEYS) {
        f[k].value = k === 'limit' ? '50' : '';
      }
      apply(false);
    });
    counts.addEventListener('click', (ev) => {
      const chip = ev.target.closest('button.chip');
      if (!chip) {
        return;
      }
      const s = chip.dataset.status || '';
      f.status.value = state.p.status === s ? '' : s;
      apply(false);
    });
    newest.addEventListener('click', () => {
      state.stack = [];
      go(runsHref(Object.assign({}, state.p, { before: '' })));
    });
    newer.addEventListener('click', () => {
      const prev = state.stack.pop() || '';
      go(runsHref(Object.assign({}, state.p, { before: prev })));
    });
    older.addEventListener('click', () => {
      const next = state.data && (state.data.next_before || state.data.next_cursor);
      if (!next) {
        return;
      }
      state.stack.push(state.p.before || '');
      go(runsHref(Object.assign({}, state.p, { before: next })));
    });

    const fillChoices = async () => {
      let list;
      try {
        list = await workflows(false);
      } catch (e) {
        return; /* the runs still show; the select keeps "any" */
      }
      const names = list.map((w) => w.name).filter(Boolean).sort();
      const kinds = Array.from(new Set(list.map((w) => w.trigger && w.trigger.kind)
        .filter(Boolean))).sort();
      for (const [sel, values] of [[f.workflow, names], [f.trigger, kinds]]) {
        const have = new Set(Array.from(sel.options).map((o) => o.value));
        for (const v of values) {
          if (!have.has(v)) {
            sel.appendChild(el('option', { value: v, text: v }));
          }
        }
      }
      syncInputs();
    };

    const renderCounts = (data) => {
      clear(counts);
      const c = data.counts && typeof data.counts === 'object' ? data.counts : null;
      if (!c) {
        return;
      }
      let total = 0;
      for (const v of Object.values(c)) {
        total += isNum(v) ? v : 0;
      }
      const chip = (status, label, n) => el('button', {
        type: 'button',
        class: 'chip' + (status ? ' st-' + status : ' all'),
        id: 'chip-' + (status || 'all'),
        dataset: { status: status, count: n },
        'aria-pressed': (state.p.status || '') === status ? 'true' : 'false',
        title: status ? 'Show only ' + statusLabel(status) + ' runs' : 'Show runs of any status',
      }, el('span', { class: 'chip-label', text: label }), el('span', { class: 'chip-n',
        text: String(n) }));
      counts.appendChild(chip('', 'all', total));
      const known = STATUSES.concat(Object.keys(c).filter((k) => !STATUSES.includes(k)));
      for (const s of known) {
        const n = isNum(c[s]) ? c[s] : 0;
        if (n > 0 || state.p.status === s) {
          counts.appendChild(chip(s, statusLabel(s), n));
        }
      }
    };

    const renderTable = (data) => {
      const runs = Array.isArray(data.runs) ? data.runs : [];
      clear(tableWrap);
      if (!runs.length) {
        tableWrap.appendChild(el('p', { id: 'runs-empty', class: 'empty',
          text: 'No runs match these filters.' }));
        return;
      }
      const head = el('thead', null, el('tr', null,
        ['Status', 'Run', 'Workflow', 'Trigger', 'User / subject', 'Step', 'Started',
          'Took', 'Error'].map((t) => el('th', { scope: 'col', text: t }))));
      const body = el('tbody');
      for (const r of runs) {
        const step = r.last_step;
        let stepText = '';
        if (step) {
          stepText = (step.step_id || (step.idx >= ON_ERROR_BASE ? 'on_error ' +
            (step.idx - ON_ERROR_BASE + 1) : 'step ' + (step.idx + 1))) +
            (step.action ? ' · ' + step.action : '');
        }
        const progress = isNum(r.steps_total) ? ' (' + Math.min(r.steps_recorded || 0,
          r.steps_total) + '/' + r.steps_total + ')' : '';
        const took = FINAL.includes(r.status) && isNum(r.updated_at) && isNum(r.created_at)
          ? fmtDuration(r.updated_at - r.created_at) : '';
        const g = graphError(r.error);
        const errText = r.error ? (g && g.code ? g.code + ': ' + g.message : String(r.error))
          : '';
        body.appendChild(el('tr', { class: 'run-row', dataset: { runId: r.id, status: r.status } },
          el('td', { class: 'c-status' }, badge(r.status)),
          el('td', { class: 'c-id' }, el('a', { href: runHref(r.id), class: 'run-link mono',
            title: r.id, text: r.short_id || String(r.id).slice(0, 12) })),
          el('td', { class: 'c-workflow', text: r.workflow || '' }),
          el('td', { class: 'c-trigger', text: r.trigger || '' }),
          el('td', { class: 'c-user', text: r.user || '' }),
          el('td', { class: 'c-step', text: stepText + progress }),
          el('td', { class: 'c-created' }, timeEl(r.created_at, true)),
          el('td', { class: 'c-took', text: took }),
          el('td', { class: 'c-error', title: r.error ? String(r.error) : null,
            text: errText })));
      }
      tableWrap.appendChild(el('table', { id: 'runs-table', class: 'grid' }, head, body));
    };

    const load = async (auto) => {
      const p = state.p;
      const q = { status: p.status, workflow: p.workflow, trigger: p.trigger, q: p.q,
        since: p.since, until: p.until, limit: p.limit || '50' };
      if (p.before) {
        q[state.cursorParam] = p.before;
      }
      let data;
      try {
        data = await api('GET', '/api/runs' + query(q));
      } catch (e) {
        showError(e, 'Runs');
        root.dataset.state = 'error';
        throw e;
      }
      clearError();
      state.data = data;
      if (!('next_before' in data) && 'next_cursor' in data) {
        state.cursorParam = 'cursor'; /* an older server names the cursor so */
      }
      renderCounts(data);
      renderTable(data);
      const n = Array.isArray(data.runs) ? data.runs.length : 0;
      const next = data.next_before || data.next_cursor;
      summary.textContent = n ? 'Showing ' + n + ' run' + (n === 1 ? '' : 's') +
        (p.before ? ' (an older page)' : ', newest first') + (next ? '; more below.' : '.')
        : '';
      newer.disabled = !p.before;
      newest.disabled = !p.before;
      older.disabled = !next;
      root.dataset.state = 'ready';
      root.dataset.loadedAt = String(Date.now());
      refreshed();
      if (!auto) {
        fillChoices();
      }
    };

    syncInputs();
    return {
      name: 'runs',
      key: 'runs',
      el: root,
      start() {
        return load(false).catch(() => {});
      },
      update(params2) {
        state.p = runsParams(params2);
        if (!state.p.before) {
          state.stack = [];
        }
        syncInputs();
        return load(false).catch(() => {});
      },
      refresh: load,
      period: REFRESH_MS,
      hash() {
        return location.hash || '#/runs';
      },
    };
  }

  /* }====== */

  /* {====== Run page ====== */

  /* What a run allows now: the server's "actions", or what its status implies. */
  function runActions(run) {
    if (Array.isArray(run.actions)) {
      return run.actions;
    }
    if (run.actions && typeof run.actions === 'object') {
      return Object.keys(run.actions).filter((k) => run.actions[k]);
    }
    const s = run.status;
    const a = [];
    if (s === 'failed' || s === 'succeeded_with_errors') {
      a.push('retry');
    }
    if (['queued', 'running', 'retrying', 'waiting', 'held'].includes(s)) {
      a.push('cancel');
    }
    if (FINAL.includes(s) && run.workflow !== 'weir.undo') {
      a.push('undo');
    }
    const open = (run.steps || []).some((st) => st.action === 'approval' &&
      st.status === 'waiting');
    if (s === 'waiting' && open) {
      a.push('approve', 'reject');
    }
    return a;
  }

  const ACTIONS = {
    retry: { label: 'Retry', cls: 'primary', title: 'Queue this run again from the step that failed' },
    cancel: { label: 'Cancel run', cls: 'danger', title: 'Stop this run: no further step runs',
      confirm: 'Cancel this run? Steps not yet run will never run.', ok: 'Cancel the run',
      danger: true },
    undo: { label: 'Undo', cls: 'danger', title: 'Put back what this run changed',
      confirm: 'Undo this run? weir queues a run that puts back, field by field, what this run changed.',
      ok: 'Queue the undo', danger: true },
    approve: { label: 'Approve', cls: 'primary', title: 'Approve the open approval request',
      confirm: 'Approve this run\'s open approval request? The run goes on.', ok: 'Approve',
      decide: true },
    reject: { label: 'Reject', cls: 'danger', title: 'Reject the open approval request',
      confirm: 'Reject this run\'s open approval request?', ok: 'Reject', danger: true,
      decide: true },
  };

  /* The server's reading of Graph's answer in the run's error: the failed step's, when the
     run's error is that step's. */
  function runGraphError(run) {
    if (run.graph_error) {
      return run.graph_error;
    }
    const st = (run.steps || []).find((s) => s.graph_error && s.error === run.error);
    return st ? st.graph_error : null;
  }

  function stepName(st) {
    if (st.step_id) {
      return st.step_id;
    }
    return st.idx >= ON_ERROR_BASE ? 'on_error ' + (st.idx - ON_ERROR_BASE + 1)
      : 'step ' + (st.idx + 1);
  }

  /*
   * The steps as a timeline: one row per recorded step with its bar placed on the run's span
   * (created .. last finish or now), its args, output and error.
   */
  function timeline(run) {
    const steps = Array.isArray(run.steps) ? run.steps.slice() : [];
    steps.sort((a, b) => a.idx - b.idx);
    const start = isNum(run.created_at) ? run.created_at : Math.min(...steps.map(
      (s) => s.started_at || Infinity));
    let end = isNum(run.updated_at) ? run.updated_at : start;
    for (const s of steps) {
      end = Math.max(end, s.finished_at || 0, s.started_at || 0);
    }
    if (!FINAL.includes(run.status)) {
      end = Math.max(end, Date.now());
    }
    const span = Math.max(end - start, 1);
    const list = el('ol', { id: 'steps', class: 'timeline' });
    let mainSeen = false;
    let onErrorSeen = false;
    for (const st of steps) {
      const isOnError = st.idx >= ON_ERROR_BASE;
      if (isOnError && !onErrorSeen) {
        onErrorSeen = true;
        list.appendChild(el('li', { class: 'phase', text: 'on_error' }));
      } else if (!isOnError) {
        mainSeen = true;
      }
      const began = isNum(st.started_at) && st.started_at > 0 ? st.started_at : null;
      const ended = isNum(st.finished_at) && st.finished_at > 0 ? st.finished_at : null;
      const dur = began ? (ended || (FINAL.includes(run.status) ? began : Date.now())) - began
        : null;
      const track = el('div', { class: 'track', 'aria-hidden': 'true' });
      if (began) {
        const bar = el('div', { class: 'bar st-' + st.status });
        bar.style.left = (Math.max(0, began - start) / span * 100).toFixed(2) + '%';
        bar.style.width = Math.max(0.6, (dur || 0) / span * 100).toFixed(2) + '%';
        track.appendChild(bar);
      }
      const attempts = isNum(st.attempts) ? st.attempts : null;
      const row = el('li', {
        class: 'step st-row-' + st.status + (isOnError ? ' on-error' : ''),
        dataset: { idx: st.idx, status: st.status, stepId: st.step_id || null },
        id: 'step-' + st.idx,
      },
      el('div', { class: 'step-head' },
        el('span', { class: 'step-name', text: stepName(st) }),
        st.action ? el('span', { class: 'step-action mono', text: st.action }) : null,
        badge(st.status),
        attempts ? el('span', { class: 'step-attempts' + (attempts > 1 ? ' many' : ''),
          title: 'attempts', text: attempts === 1 ? '1 attempt' : attempts + ' attempts' }) : null,
        el('span', { class: 'step-times muted' },
          began ? timeEl(began) : 'not started',
          ended ? [' → ', timeEl(ended)] : null,
          dur !== null ? el('span', { class: 'step-dur', text: ' · ' + fmtDuration(dur) }) : null)),
      track,
      st.error ? errorBox(st.error, null, st.graph_error) : null,
      el('div', { class: 'step-io' },
        el('div', { class: 'io step-args' }, el('h4', { text: 'Arguments' }),
          st.args === null || st.args === undefined ? el('p', { class: 'muted', text: '—' })
            : jsonBlock(st.args)),
        el('div', { class: 'io step-output' }, el('h4', { text: 'Output' }),
          st.output === null || st.output === undefined ? el('p', { class: 'muted', text: '—' })
            : jsonBlock(st.output))));
      list.appendChild(row);
    }
    const total = isNum(run.steps_total) ? run.steps_total : null;
    const mainCount = steps.filter((s) => s.idx < ON_ERROR_BASE).length;
    if (total !== null && mainCount < total && !FINAL.includes(run.status)) {
      list.appendChild(el('li', { class: 'pending-more muted',
        text: (total - mainCount) + ' more step' + (total - mainCount === 1 ? '' : 's') +
          ' not started yet' }));
    }
    if (!steps.length) {
      list.appendChild(el('li', { class: 'muted', text: mainSeen ? '' : 'No step has run yet.' }));
    }
    const scale = el('div', { class: 'scale muted', 'aria-hidden': 'true' },
      el('span', { text: fmtShort(start) }), el('span', { text: 'span ' + fmtDuration(span) }),
      el('span', { text: fmtShort(end) }));
    return [scale, list];
  }

  function runView(id) {
    const root = el('section', { id: 'run-page', class: 'page', dataset: { runId: id },
      'aria-labelledby': 'run-h' });
    const back = el('a', { href: S.lastRunsHash, class: 'back', id: 'back-to-runs',
      text: '← Runs' });
    const head = el('div', { class: 'run-head' });
    const actionsBar = el('div', { id: 'run-actions', class: 'actions', role: 'group',
      'aria-label': 'Run actions' });
    const result = el('p', { id: 'action-result', class: 'result', role: 'status',
      'aria-live': 'polite', hidden: true });
    const body = el('div', { id: 'run-body' });
    append(root, [back, head, actionsBar, result, body]);
    let last = null;
    let lastText = '';

    const doAction = async (name) => {
      const a = ACTIONS[name];
      let extra = {};
      if (a.confirm) {
        let bodyNode = el('p', { text: a.confirm });
        if (name === 'undo') {
          /* show what the undo would do before it is queued */
          try {
            const plan = await api('POST', '/api/runs/' + encodeURIComponent(id) +
              '/undo?dry_run=1');
            const steps = plan && plan.plan && Array.isArray(plan.plan.steps)
              ? plan.plan.steps : [];
            bodyNode = el('div', null, el('p', { text: a.confirm }),
              steps.length ? el('details', { open: true }, el('summary', {
                text: steps.length + ' step' + (steps.length === 1 ? '' : 's') + ' to run' }),
              jsonBlock(steps, 'plan')) : el('p', { class: 'muted',
                text: 'The plan is empty: there is nothing to put back.' }));
          } catch (e) {
            showResult(result, false, 'Undo: ' + (e instanceof ApiError ? e.describe() : e));
            return;
          }
        }
        extra = await confirmAction({ title: a.ok + '?',
          body: el('div', null, bodyNode, el('p', { class: 'muted' }, 'Run ',
            el('span', { class: 'mono', text: id }), last && last.workflow ? ' of ' +
              last.workflow : '')),
          ok: a.ok, danger: a.danger, decide: a.decide });
        if (!extra) {
          return;
        }
      }
      const path = '/api/runs/' + encodeURIComponent(id) + '/' + name;
      const btns = actionsBar.querySelectorAll('button');
      btns.forEach((b) => { b.disabled = true; });
      result.hidden = false;
      result.className = 'result busy';
      result.dataset.ok = '';
      result.textContent = a.label + '…';
      try {
        const payload = a.decide ? { as: extra.as, reason: extra.reason || undefined } : undefined;
        const ans = await api('POST', path, payload);
        let text = a.label + ': done.';
        if (name === 'retry') {
          text = 'Retry: the run is queued again' + (ans && ans.status ? ' (status ' +
            statusLabel(ans.status) + ').' : '.');
        } else if (name === 'cancel') {
          text = 'Cancelled.';
        } else if (name === 'undo') {
          text = ans && ans.run ? 'Undo queued as run ' + ans.run + '.'
            : 'Nothing to undo: the plan is empty.';
        } else if (ans && ans.decision) {
          text = 'Decision recorded: ' + ans.decision + ' by ' + ans.by + '.';
        }
        showResult(result, true, text);
        if (name === 'undo' && ans && ans.run) {
          result.appendChild(document.createTextNode(' '));
          result.appendChild(el('a', { href: runHref(ans.run), id: 'undo-run-link',
            text: 'Open the undo run' }));
        }
      } catch (e) {
        showResult(result, false, a.label + ' refused: ' +
          (e instanceof ApiError ? e.describe() : String(e)));
      }
      await load(false).catch(() => {});
    };

    actionsBar.addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-action]');
      if (b && !b.disabled) {
        doAction(b.dataset.action);
      }
    });

    const render = (run) => {
      root.dataset.status = run.status || '';
      clear(head);
      append(head, [
        el('h1', { id: 'run-h' }, 'Run ', el('span', { class: 'mono', id: 'run-id',
          text: run.short_id || id })),
        badge(run.status, 'run-status'),
        run.workflow ? el('a', { class: 'run-wf', href: runsHref({ workflow: run.workflow }),
          text: run.workflow, title: 'Runs of this workflow' }) : null,
      ]);
      clear(actionsBar);
      const allowed = runActions(run);
      actionsBar.dataset.allowed = allowed.join(' ');
      for (const name of ['retry', 'cancel', 'undo', 'approve', 'reject']) {
        if (allowed.includes(name)) {
          const a = ACTIONS[name];
          actionsBar.appendChild(el('button', { type: 'button', class: a.cls, id: 'action-' + name,
            dataset: { action: name }, title: a.title, text: a.label }));
        }
      }
      if (!allowed.length) {
        actionsBar.appendChild(el('span', { class: 'muted',
          text: 'No action is possible on this run now.' }));
      }

      clear(body);
      const meta = el('dl', { class: 'meta', id: 'run-meta' });
      const row = (k, v, id2) => {
        if (v === null || v === undefined || v === '') {
          return;
        }
        meta.appendChild(el('div', { class: 'meta-row' }, el('dt', { text: k }),
          el('dd', { id: id2 || null }, v)));
      };
      row('Run id', el('span', { class: 'mono', text: run.id || id }));
      row('Workflow', run.workflow || '');
      row('Version', run.workflow_hash ? el('span', { class: 'mono', title: run.workflow_hash,
        text: String(run.workflow_hash).slice(0, 12) }) : (run.workflow_hash === '' ? 'current'
        : null));
      row('Trigger', run.trigger || (run.event && run.event.source) || null, 'run-trigger');
      row('User / subject', run.user || null, 'run-user');
      row('Concurrency key', run.concurrency_key || null);
      row('Created', timeEl(run.created_at));
      row('Updated', timeEl(run.updated_at));
      if (isNum(run.next_at) && run.next_at > 0 && !FINAL.includes(run.status)) {
        row('Next step at', el('span', null, timeEl(run.next_at), ' (' + fmtRelative(run.next_at) +
          ')'), 'run-next');
      }
      if (FINAL.includes(run.status) && isNum(run.created_at) && isNum(run.updated_at)) {
        row('Took', fmtDuration(run.updated_at - run.created_at));
      }
      body.appendChild(meta);

      if (run.error) {
        body.appendChild(el('section', { id: 'run-error', class: 'run-error',
          'aria-labelledby': 'run-error-h' },
        el('h2', { id: 'run-error-h', text: run.status === 'cancelled' ? 'Why it stopped'
          : 'Error' }), errorBox(run.error, 'run-error', runGraphError(run))));
      }

      body.appendChild(el('section', { class: 'steps', 'aria-labelledby': 'steps-h' },
        el('h2', { id: 'steps-h' }, 'Steps', isNum(run.steps_total) ? el('span', {
          class: 'muted small', text: ' ' + (run.steps || []).filter((s) => s.idx <
            ON_ERROR_BASE).length + ' of ' + run.steps_total + ' recorded' }) : null),
        timeline(run)));

      const ev = run.event || null;
      const evSec = el('section', { class: 'event', id: 'run-event',
        'aria-labelledby': 'event-h' }, el('h2', { id: 'event-h', text: 'Trigger event' }));
      if (ev) {
        const em = el('dl', { class: 'meta' });
        const erow = (k, v) => {
          if (v !== null && v !== undefined && v !== '') {
            em.appendChild(el('div', { class: 'meta-row' }, el('dt', { text: k }),
              el('dd', null, v)));
          }
        };
        erow('Event id', el('span', { class: 'mono', id: 'event-id', text: ev.id || '' }));
        erow('Source', ev.source || '');
        erow('Received', timeEl(ev.received_at));
        erow('Idempotency key', ev.idem_key || '');
        erow('Status', ev.status || '');
        evSec.appendChild(em);
        evSec.appendChild(jsonBlock(ev.body, 'event-body', 'event-json'));
        if (ev.headers && (typeof ev.headers !== 'object' || Object.keys(ev.headers).length)) {
          evSec.appendChild(el('details', { class: 'headers' }, el('summary', {
            text: 'Headers' }), jsonBlock(ev.headers, '', 'event-headers')));
        }
      } else {
        evSec.appendChild(el('p', { class: 'muted', text: 'The run has no stored event.' }));
      }
      body.appendChild(evSec);
      root.dataset.state = 'ready';
      root.dataset.loadedAt = String(Date.now());
    };

    const load = async (auto) => {
      let run;
      try {
        run = await api('GET', '/api/runs/' + encodeURIComponent(id));
      } catch (e) {
        showError(e, 'Run ' + id);
        if (!last) {
          root.dataset.state = 'error';
          clear(body).appendChild(el('p', { class: 'empty', text: e instanceof ApiError
            ? e.describe() : String(e) }));
        }
        throw e;
      }
      clearError();
      refreshed();
      const text = JSON.stringify(run);
      /* an unchanged run is not redrawn: open details and scroll stay as they are */
      if (auto && text === lastText) {
        return;
      }
      lastText = text;
      last = run;
      render(run);
    };

    return {
      name: 'run',
      key: 'run:' + id,
      el: root,
      start() {
        return load(false).catch(() => {});
      },
      update() {
        return load(false).catch(() => {});
      },
      refresh: load,
      period: () => (last && !FINAL.includes(last.status) ? ACTIVE_REFRESH_MS : REFRESH_MS),
    };
  }

  /* }====== */

  /* {====== Held runs and approvals ====== */

  function heldView() {
    const root = el('section', { id: 'held-page', class: 'page', 'aria-labelledby': 'held-h' });
    const result = el('p', { id: 'held-result', class: 'result', role: 'status',
      'aria-live': 'polite', hidden: true });
    const heldSec = el('section', { id: 'held', 'aria-labelledby': 'held-h' });
    const apprSec = el('section', { id: 'approvals', 'aria-labelledby': 'approvals-h' });
    append(root, [el('h1', { id: 'held-h', text: 'Held runs' }),
      el('p', { class: 'muted', text: 'Runs the mass-change brake (guard.destructive) stopped ' +
        'before a destructive step. Release lets them go on; reject cancels them.' }),
      result, heldSec, apprSec]);
    let lastText = '';

    const decide = async (release, ids, all) => {
      const n = all ? 'every held run' : ids.length + ' run' + (ids.length === 1 ? '' : 's');
      const ok = await confirmAction({
        title: (release ? 'Release ' : 'Reject ') + n,
        body: el('p', { text: release ? 'Release ' + n + '? Their destructive steps will run.'
          : 'Reject ' + n + '? They are cancelled and never run.' }),
        ok: release ? 'Release' : 'Reject', danger: true, decide: false,
      });
      if (!ok) {
        return;
      }
      const body = all ? { all: true } : { runs: ids };
      try {
        const ans = await api('POST', '/api/held/' + (release ? 'release' : 'reject'), body);
        const done = ans && (ans.released || ans.rejected) || [];
        showResult(result, true, (release ? 'Released ' : 'Rejected ') + done.length + ' run' +
          (done.length === 1 ? '' : 's') + '.');
      } catch (e) {
        showResult(result, false, (release ? 'Release' : 'Reject') + ' refused: ' +
          (e instanceof ApiError ? e.describe() : String(e)));
      }
      await load(false).catch(() => {});
    };

    const approve = async (run, yes) => {
      const a = ACTIONS[yes ? 'approve' : 'reject'];
      const extra = await confirmAction({ title: a.ok + '?',
        body: el('div', null, el('p', { text: a.confirm }), el('p', { class: 'muted' }, 'Run ',
          el('span', { class: 'mono', text: run.id }), run.workflow ? ' of ' + run.workflow
            : '', run.user ? ' for ' + run.user : '')),
        ok: a.ok, danger: a.danger, decide: true });
      if (!extra) {
        return;
      }
      try {
        const ans = await api('POST', '/api/runs/' + encodeURIComponent(run.id) + '/' +
          (yes ? 'approve' : 'reject'), { as: extra.as, reason: extra.reason || undefined });
        showResult(result, true, 'Decision recorded: ' + (ans && ans.decision || '') + ' by ' +
          (ans && ans.by || extra.as) + '.');
      } catch (e) {
        showResult(result, false, a.label + ' refused: ' +
          (e instanceof ApiError ? e.describe() : String(e)));
      }
      await load(false).catch(() => {});
    };

    const renderHeld = (data) => {
      clear(heldSec);
      const groups = data && Array.isArray(data.workflows) ? data.workflows
        : (data && Array.isArray(data.runs) ? [{ workflow: '', runs: data.runs }] : []);
      const count = data && isNum(data.count) ? data.count : groups.reduce(
        (n, g) => n + (g.runs || []).length, 0);
      heldSec.dataset.count = String(count);
      heldSec.appendChild(el('h2', { id: 'held-count', text: count + ' held' }));
      if (!count) {
        heldSec.appendChild(el('p', { class: 'empty', id: 'held-empty',
          text: 'Nothing is held.' }));
        return;
      }
      const bar = el('div', { class: 'actions' },
        el('button', { type: 'button', id: 'held-release', class: 'primary',
          text: 'Release selected' }),
        el('button', { type: 'button', id: 'held-reject', class: 'danger',
          text: 'Reject selected' }),
        el('button', { type: 'button', id: 'held-release-all', class: 'quiet',
          text: 'Release all' }),
        el('button', { type: 'button', id: 'held-reject-all', class: 'quiet',
          text: 'Reject all' }));
      heldSec.appendChild(bar);
      const selected = () => Array.from(heldSec.querySelectorAll('input.pick:checked'))
        .map((c) => c.value);
      bar.addEventListener('click', (ev) => {
        const b = ev.target.closest('button');
        if (!b) {
          return;
        }
        if (b.id === 'held-release-all' || b.id === 'held-reject-all') {
          decide(b.id === 'held-release-all', [], true);
          return;
        }
        const ids = selected();
        if (!ids.length) {
          showResult(result, false, 'Select the runs first.');
          return;
        }
        decide(b.id === 'held-release', ids, false);
      });
      for (const g of groups) {
        const body = el('tbody');
        for (const r of g.runs || []) {
          const step = r.step || {};
          const destr = Array.isArray(r.destructive_steps) ? r.destructive_steps.map(
            (d) => (d.step_id || 'step ' + (d.idx + 1)) + ' (' + d.action + ')').join(', ') : '';
          const cb = el('input', { type: 'checkbox', class: 'pick', value: r.id,
            id: 'pick-' + r.id, 'aria-label': 'Select run ' + (r.short_id || r.id) });
          body.appendChild(el('tr', { class: 'held-row', dataset: { runId: r.id } },
            el('td', null, cb),
            el('td', null, el('a', { href: runHref(r.id), class: 'mono', title: r.id,
              text: r.short_id || r.id })),
            el('td', { class: 'c-user', text: r.user || '' }),
            el('td', { text: (step.step_id || (isNum(step.idx) ? 'step ' + (step.idx + 1) : '')) +
              (step.action ? ' · ' + step.action : '') }),
            el('td', { text: destr }),
            el('td', { class: 'c-reason', text: r.reason || '' }),
            el('td', null, timeEl(r.held_at || r.created_at, true))));
        }
        heldSec.appendChild(el('h3', { text: g.workflow || 'runs' }));
        heldSec.appendChild(el('div', { class: 'table-wrap' }, el('table', { class: 'grid held-table' },
          el('thead', null, el('tr', null, ['', 'Run', 'User', 'Held at step',
            'Destructive steps ahead', 'Why', 'Held since'].map((t) => el('th', { scope: 'col',
            text: t })))), body)));
      }
    };

    const renderApprovals = (data) => {
      clear(apprSec);
      apprSec.appendChild(el('h2', { id: 'approvals-h', text: 'Waiting for approval' }));
      const runs = (data && Array.isArray(data.runs) ? data.runs : []).filter((r) =>
        r.last_step && /^approval/.test(r.last_step.action || ''));
      apprSec.dataset.count = String(runs.length);
      if (!runs.length) {
        apprSec.appendChild(el('p', { class: 'empty', id: 'approvals-empty',
          text: 'No run waits for an approval.' }));
        return;
      }
      const body = el('tbody');
      for (const r of runs) {
        const yes = el('button', { type: 'button', class: 'primary small', text: 'Approve',
          dataset: { action: 'approve' } });
        const no = el('button', { type: 'button', class: 'danger small', text: 'Reject',
          dataset: { action: 'reject' } });
        yes.addEventListener('click', () => approve(r, true));
        no.addEventListener('click', () => approve(r, false));
        body.appendChild(el('tr', { class: 'approval-row', dataset: { runId: r.id } },
          el('td', null, el('a', { href: runHref(r.id), class: 'mono', title: r.id,
            text: r.short_id || r.id })),
          el('td', { text: r.workflow || '' }),
          el('td', { class: 'c-user', text: r.user || '' }),
          el('td', { text: r.last_step.step_id || '' }),
          el('td', null, timeEl(r.updated_at, true)),
          el('td', { class: 'row-actions' }, yes, ' ', no)));
      }
      apprSec.appendChild(el('div', { class: 'table-wrap' }, el('table', {
        class: 'grid', id: 'approvals-table' }, el('thead', null, el('tr', null,
        ['Run', 'Workflow', 'User', 'Step', 'Waiting since', ''].map((t) => el('th', {
          scope: 'col', text: t })))), body)));
    };

    const load = async (auto) => {
      let held;
      let waiting;
      try {
        [held, waiting] = await Promise.all([api('GET', '/api/held'),
          api('GET', '/api/runs?status=waiting&limit=200')]);
      } catch (e) {
        showError(e, 'Held runs');
        root.dataset.state = 'error';
        throw e;
      }
      clearError();
      refreshed();
      const text = JSON.stringify([held, waiting]);
      /* a refresh keeps the ticked boxes unless the lists changed */
      if (auto && text === lastText) {
        return;
      }
      lastText = text;
      renderHeld(held);
      renderApprovals(waiting);
      root.dataset.state = 'ready';
      root.dataset.loadedAt = String(Date.now());
    };

    return { name: 'held', key: 'held', el: root, start: () => load(false).catch(() => {}),
      update: () => load(false).catch(() => {}), refresh: load, period: REFRESH_MS };
  }

  /* }====== */

  /* {====== Workflows ====== */

  /*
   * The `weir scope` preview of one workflow (GET /api/workflows/NAME/scope?days=N): whom its
   * directory trigger would process in the coming days, and when. Reads only.
   */
  function scopePanel() {
    const days = el('input', { id: 'scope-days', name: 'days', type: 'number', min: '1',
      max: '366', step: '1', value: '7', inputmode: 'numeric' });
    const title = el('h2', { id: 'scope-h' });
    const out = el('div', { id: 'scope-out', 'aria-live': 'polite' });
    const close = el('button', { type: 'button', id: 'scope-close', class: 'quiet',
      text: 'Close' });
    const form = el('form', { id: 'scope-form', class: 'filters' },
      el('div', { class: 'field' }, el('label', { for: 'scope-days', text: 'Days ahead' }), days),
      el('div', { class: 'field buttons' }, el('button', { type: 'submit', id: 'scope-run',
        text: 'Preview' }), close));
    const root = el('section', { id: 'scope-panel', class: 'card', hidden: true,
      'aria-labelledby': 'scope-h' }, title, form, out);
    let name = null;
    let seq = 0;

    const load = async () => {
      const n = Number(days.value);
      if (!Number.isInteger(n) || n < 1 || n > 366) {
        clear(out);
        out.appendChild(el('p', { class: 'errtext', text: 'Days ahead: a whole number from 1 to 366.' }));
        return;
      }
      const mine = ++seq;
      root.dataset.state = 'loading';
      clear(out);
      out.appendChild(el('p', { class: 'muted', text: 'Reading the directory…' }));
      let p;
      try {
        p = await api('GET', '/api/workflows/' + encodeURIComponent(name) + '/scope' +
          query({ days: n }));
      } catch (e) {
        if (mine !== seq) {
          return;
        }
        clear(out);
        out.appendChild(el('p', { id: 'scope-error', class: 'errtext',
          text: e instanceof ApiError ? e.describe() : String(e && e.message || e) }));
        root.dataset.state = 'error';
        return;
      }
      if (mine !== seq) {
        return;
      }
      clear(out);
      out.appendChild(el('p', { id: 'scope-summary', text: p && p.summary ? p.summary : '' }));
      const users = p && Array.isArray(p.users) ? p.users : [];
      if (!users.length) {
        out.appendChild(el('p', { class: 'empty', text: 'Nobody is due in this window.' }));
      } else {
        const body = el('tbody');
        for (const u of users) {
          body.appendChild(el('tr', { class: 'scope-row', dataset: { user: u.id || '' } },
            el('td', { class: 'c-state' }, el('span', { class: 'badge', text: u.state || '' })),
            el('td', { class: 'c-due mono', title: isNum(u.due) ? fmtTime(u.due) : '',
              text: u.due_local || '' }),
            el('td', { class: 'c-user mono', text: u.userPrincipalName || u.id || '' }),
            el('td', { class: 'c-name', text: u.displayName || '' }),
            el('td', { class: 'c-detail', text: u.detail || '' })));
        }
        out.appendChild(el('div', { class: 'table-wrap' }, el('table', { id: 'scope-table',
          class: 'grid' }, el('thead', null, el('tr', null, ['State',
          'Due (' + (p.zone || 'local') + ')', 'User', 'Name', 'Detail'].map((t) =>
          el('th', { scope: 'col', text: t })))), body)));
      }
      root.dataset.state = 'ready';
    };

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      load();
    });
    close.addEventListener('click', () => {
      seq++;
      name = null;
      root.hidden = true;
    });
    return {
      el: root,
      show: (workflow) => {
        name = workflow;
        title.textContent = 'Scope of ' + workflow;
        root.hidden = false;
        load();
        root.scrollIntoView({ block: 'nearest' });
      },
    };
  }

  function workflowsView() {
    const root = el('section', { id: 'workflows-page', class: 'page',
      'aria-labelledby': 'wf-h' });
    const wrap = el('div', { class: 'table-wrap' });
    const panel = scopePanel();
    append(root, [el('h1', { id: 'wf-h', text: 'Workflows' }), wrap, panel.el]);
    let lastText = '';
    /* the table is rebuilt on refresh: its Preview buttons are handled here, once */
    wrap.addEventListener('click', (ev) => {
      const b = ev.target.closest('button.scope-btn');
      if (b) {
        panel.show(b.dataset.workflow);
      }
    });

    const load = async (auto) => {
      let list;
      try {
        list = await workflows(true);
      } catch (e) {
        showError(e, 'Workflows');
        root.dataset.state = 'error';
        throw e;
      }
      clearError();
      refreshed();
      const text = JSON.stringify(list);
      if (auto && text === lastText) {
        return;
      }
      lastText = text;
      clear(wrap);
      if (!list.length) {
        wrap.appendChild(el('p', { class: 'empty', text: 'No workflow is loaded.' }));
      } else {
        const body = el('tbody');
        for (const w of list.slice().sort((a, b) => String(a.name).localeCompare(b.name))) {
          const tr = w.trigger || {};
          const lr = w.last_run;
          body.appendChild(el('tr', { class: 'wf-row', dataset: { workflow: w.name } },
            el('th', { scope: 'row', class: 'c-name' }, el('a', {
              href: runsHref({ workflow: w.name }), title: 'Runs of ' + w.name, text: w.name })),
            el('td', { class: 'c-file mono', text: w.file || '' }),
            el('td', { class: 'c-version mono', title: w.version || '',
              text: w.version ? String(w.version).slice(0, 12) : '' }),
            el('td', { class: 'c-trigger', dataset: { kind: tr.kind || '' } },
              /* the summary names its kind first as a rule; the kind alone when it does not */
              tr.kind && !String(tr.summary || '').startsWith(tr.kind) ? [el('span', {
                class: 'kind', text: tr.kind }), ' '] : null,
              el('span', { class: 'summary', text: tr.summary || tr.kind || '' })),
            el('td', { class: 'c-last' }, lr ? [badge(lr.status), ' ', el('a', {
              href: runHref(lr.id), class: 'mono', title: lr.id,
              text: String(lr.id).slice(0, 12) }), ' ', timeEl(lr.at, true)]
              : el('span', { class: 'muted', text: 'never run' })),
            el('td', { class: 'c-next' }, isNum(w.next_due) ? [timeEl(w.next_due),
              el('span', { class: 'muted', text: ' (' + fmtRelative(w.next_due) + ')' })]
              : el('span', { class: 'muted', text: '—' })),
            el('td', { class: 'c-scope' }, w.scope ? el('button', { type: 'button',
              class: 'scope-btn quiet', dataset: { workflow: w.name },
              title: 'Whom this trigger would process, and when (weir scope ' + w.name + ')',
              text: 'Preview' }) : null)));
        }
        wrap.appendChild(el('table', { id: 'workflows-table', class: 'grid' },
          el('thead', null, el('tr', null, ['Name', 'File', 'Version', 'Trigger',
            'Last run', 'Next due', 'Scope'].map((t) => el('th', { scope: 'col', text: t })))),
          body));
      }
      root.dataset.state = 'ready';
      root.dataset.loadedAt = String(Date.now());
    };

    return { name: 'workflows', key: 'workflows', el: root,
      start: () => load(false).catch(() => {}), update: () => load(false).catch(() => {}),
      refresh: load, period: REFRESH_MS };
  }

  /* }====== */

  /* {====== Health ====== */

  function healthView() {
    const root = el('section', { id: 'health-page', class: 'page',
      'aria-labelledby': 'health-h' });
    const grid = el('div', { class: 'cards', id: 'health-cards' });
    const trig = el('section', { id: 'health-triggers', 'aria-labelledby': 'trig-h' });
    append(root, [el('h1', { id: 'health-h', text: 'Health' }), grid, trig]);

    const card = (id, title, ok, ...content) => el('section', {
      class: 'card ' + (ok === true ? 'good' : ok === false ? 'bad' : ''), id: id,
      dataset: { ok: ok === true ? 'true' : ok === false ? 'false' : '' },
      'aria-labelledby': id + '-h' },
    el('h2', { id: id + '-h' }, title, ok === true ? el('span', { class: 'pill ok', text: 'OK' })
      : ok === false ? el('span', { class: 'pill bad', text: 'problem' }) : null),
    content);

    const load = async () => {
      let h;
      try {
        h = await api('GET', '/api/health');
      } catch (e) {
        showError(e, 'Health');
        root.dataset.state = 'error';
        throw e;
      }
      clearError();
      refreshed();
      if (h && h.version) {
        $('foot-version').textContent = 'weir ' + h.version;
      }
      clear(grid);
      const g = h.graph || {};
      grid.appendChild(card('health-graph', 'Graph sign-in', g.signed_in === true ? true
        : (g.last_error ? false : null),
      el('p', { class: 'big', text: g.signed_in ? 'signed in' : 'not signed in' }),
      g.last_error ? el('p', { class: 'errtext', id: 'health-graph-error',
        text: String(g.last_error) }) : null));
      const j = h.journal || {};
      grid.appendChild(card('health-journal', 'Journal', j.ok === true ? true : j.ok === false
        ? false : null,
      el('p', { class: 'big', text: j.ok ? 'writable' : (j.ok === false ? 'failing' : '—') }),
      j.error ? el('p', { class: 'errtext', text: String(j.error) }) : null));
      const q = h.queue || {};
      const qdl = el('dl', { class: 'nums' });
      for (const k of ['queued', 'running', 'waiting', 'held']) {
        qdl.appendChild(el('div', { class: 'num', dataset: { key: k } },
          el('dt', null, el('a', { href: k === 'held' ? '#/held' : runsHref({ status: k }),
            text: k })),
          el('dd', { id: 'queue-' + k, text: isNum(q[k]) ? String(q[k]) : '—' })));
      }
      grid.appendChild(card('health-queue', 'Queue', null, qdl));
      const t = h.throttling || {};
      grid.appendChild(card('health-throttling', 'Throttling', null,
        el('p', { class: 'big', id: 'throttling-seen', text: isNum(t.seen) ? String(t.seen) + ' × 429'
          : '—' }),
        el('p', { class: 'muted' }, 'last: ', isNum(t.last_at) && t.last_at > 0
          ? [timeEl(t.last_at), ' (' + fmtRelative(t.last_at) + ')'] : 'never')));

      clear(trig);
      trig.appendChild(el('h2', { id: 'trig-h', text: 'Trigger polls' }));
      const list = Array.isArray(h.triggers) ? h.triggers : [];
      if (!list.length) {
        trig.appendChild(el('p', { class: 'empty', text: 'No polling trigger.' }));
      } else {
        const body = el('tbody');
        for (const x of list) {
          body.appendChild(el('tr', { class: 'trigger-row' + (x.last_error ? ' bad' : ''),
            dataset: { workflow: x.workflow, kind: x.kind } },
          el('td', { text: x.workflow || '' }), el('td', { class: 'mono', text: x.kind || '' }),
          el('td', null, timeEl(x.last_poll_at, true)),
          el('td', { class: 'c-error', text: x.last_error || '' })));
        }
        trig.appendChild(el('div', { class: 'table-wrap' }, el('table', { class: 'grid',
          id: 'triggers-table' }, el('thead', null, el('tr', null, ['Workflow', 'Kind',
          'Last poll', 'Last error'].map((s) => el('th', { scope: 'col', text: s })))), body)));
      }
      root.dataset.state = 'ready';
      root.dataset.loadedAt = String(Date.now());
    };

    return { name: 'health', key: 'health', el: root, start: () => load().catch(() => {}),
      update: () => load().catch(() => {}), refresh: load, period: REFRESH_MS };
  }

  /* }====== */

  /* {====== Login ====== */

  function showLogin(message) {
    stopView();
    clearError();
    $('nav').hidden = true;
    $('top-tools').hidden = true;
    const token = el('input', { type: 'password', id: 'login-token', name: 'token',
      autocomplete: 'current-password', required: true, spellcheck: 'false',
      'aria-describedby': 'login-help' });
    const err = el('p', { id: 'login-error', class: 'result bad', role: 'alert', hidden: true });
    const submit = el('button', { type: 'submit', id: 'login-submit', class: 'primary',
      text: 'Sign in' });
    const form = el('form', { id: 'login-form', class: 'login', 'aria-labelledby': 'login-h' },
      el('h1', { id: 'login-h', text: 'Sign in to weir' }),
      el('p', { id: 'login-help', class: 'muted',
        text: 'Enter the admin token (admin.token in weir.yaml). It is sent once; the ' +
          'session is kept in a cookie scripts cannot read.' }),
      el('label', { for: 'login-token', text: 'Admin token' }), token, submit, err);
    if (message) {
      err.hidden = false;
      err.textContent = message;
    }
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      err.hidden = true;
      try {
        const ans = await api('POST', '/api/login', { token: token.value });
        token.value = '';
        S.csrf = ans && ans.csrf ? ans.csrf : null;
        S.authenticated = true;
        await startApp();
      } catch (e) {
        err.hidden = false;
        err.textContent = e instanceof ApiError ? (e.status === 401
          ? 'Sign-in refused (HTTP 401): ' + (e.text || 'wrong token')
          : e.describe()) : String(e);
        submit.disabled = false;
        token.focus();
        token.select();
      }
    });
    const app = clear($('app'));
    app.appendChild(form);
    app.dataset.view = 'login';
    document.title = 'Sign in — weir console';
    token.focus();
  }

  /* }====== */

  /* {====== routing ====== */

  function stopView() {
    if (S.view) {
      if (S.view.poll) {
        S.view.poll.stop();
      }
      S.view = null;
    }
  }

  /* Navigates: a new history entry, or (replace) the current one changed in place. */
  function go(hash, replace) {
    if (replace) {
      history.replaceState(null, '', hash);
      route();
    } else if (location.hash === hash) {
      route();
    } else {
      location.hash = hash;
    }
  }

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const qi = raw.indexOf('?');
    const path = qi >= 0 ? raw.slice(0, qi) : raw;
    const params = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : '');
    const parts = path.split('/').filter((p) => p !== '').map((p) => {
      try {
        return decodeURIComponent(p);
      } catch (e) {
        return p;
      }
    });
    return { parts: parts, params: params };
  }

  const TITLES = { runs: 'Runs', run: 'Run', held: 'Held & approvals', workflows: 'Workflows',
    health: 'Health' };

  /* Shows the page the hash names; true when a new page was built (not an update). */
  function route() {
    if (S.loginRequired && !S.authenticated) {
      showLogin();
      return true;
    }
    const { parts, params } = parseHash();
    const page = parts[0] || 'runs';
    let key = page;
    if (page === 'run' && parts[1]) {
      key = 'run:' + parts[1];
    }
    if (page === 'runs') {
      S.lastRunsHash = location.hash || '#/runs';
    }
    setNav(page === 'run' ? 'runs' : page);
    if (S.view && S.view.key === key) {
      S.view.update(params);
      return false;
    }
    stopView();
    let view;
    if (page === 'runs') {
      view = runsView(params);
    } else if (page === 'run' && parts[1]) {
      view = runView(parts[1]);
    } else if (page === 'held') {
      view = heldView();
    } else if (page === 'workflows') {
      view = workflowsView();
    } else if (page === 'health') {
      view = healthView();
    } else {
      const app = clear($('app'));
      app.dataset.view = 'notfound';
      app.appendChild(el('section', { class: 'page', id: 'notfound-page' },
        el('h1', { text: 'No such page' }),
        el('p', null, 'Nothing lives at ', el('code', { text: location.hash }), '. ',
          el('a', { href: '#/runs', text: 'Go to the runs.' }))));
      return true;
    }
    S.view = view;
    const app = clear($('app'));
    app.dataset.view = view.name;
    app.appendChild(view.el);
    document.title = (TITLES[view.name] || 'weir') + ' — weir console';
    view.start();
    view.poll = poller(view.refresh, view.period);
    return true;
  }

  async function startApp() {
    $('nav').hidden = false;
    $('top-tools').hidden = false;
    $('logout').hidden = !S.loginRequired;
    S.workflows = null;
    route();
  }

  async function boot() {
    $('error-dismiss').addEventListener('click', clearError);
    $('autorefresh').addEventListener('change', () => {
      if (autoRefreshOn() && S.view) {
        S.view.refresh(true).catch(() => {});
      }
    });
    $('logout').addEventListener('click', async () => {
      try {
        await api('POST', '/api/logout');
      } catch (e) {
        /* the session may have ended already; the login form shows either way */
      }
      S.csrf = null;
      S.authenticated = false;
      showLogin();
    });
    window.addEventListener('hashchange', () => {
      if (route()) {
        $('app').focus({ preventScroll: true }); /* a new page: start reading there */
      }
    });
    let s;
    try {
      s = await api('GET', '/api/session');
    } catch (e) {
      clear($('app')).appendChild(el('p', { class: 'empty', id: 'boot-error',
        text: 'The console cannot reach weir\'s API: ' + (e instanceof ApiError ? e.describe()
          : String(e)) }));
      showError(e, 'Session');
      return;
    }
    S.loginRequired = !!(s && s.login_required);
    S.authenticated = !!(s && s.authenticated);
    S.csrf = s && s.csrf ? s.csrf : null;
    if (S.loginRequired && !S.authenticated) {
      showLogin();
      return;
    }
    startApp();
  }

  /* }====== */

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', boot);
  } else {
    boot();
  }
}());
