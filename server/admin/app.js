/* Meridian tenant admin portal.
 *
 * One plain ES2020 script, no framework and no build step: the server embeds this file with
 * include_str! and serves it under a strict CSP (no inline script or style, no eval).
 *
 * Ground rules kept throughout:
 *  - API data never goes through innerHTML: every node is built with h()/s() and text goes in
 *    as text nodes, so a customer called "<img onerror=...>" is just a name.
 *  - Money and quantities arrive as decimal strings and are formatted as strings (BigInt for
 *    rounding); floats are used only to size chart bars.
 *  - Hash routing (#/page/arg). Each render marks <main id="view"> with data-page and flips
 *    data-ready to "true" only once its data is on screen; browser tests wait on that.
 *  - Write controls are not rendered without the permission (or while the subscription is
 *    read-only). The server checks everything again; hiding is only for a clean UI.
 */
'use strict';

// ============================================================================ DOM helpers

const SVG_NS = 'http://www.w3.org/2000/svg';

// Properties rather than attributes: these must reflect live state (a checkbox's checked,
// a select's value) rather than the initial markup.
const PROPS = new Set(['checked', 'disabled', 'selected', 'hidden', 'required', 'multiple', 'indeterminate']);

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false || c === true) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

/** h('tag', {attrs}, ...children): a tiny createElement wrapper. `on<event>` attrs become
 * listeners; children are nodes, strings (as text), arrays, or null/false (skipped). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  let lateValue;
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (PROPS.has(k)) el[k] = !!v;
      else if (k === 'class') { const c = Array.isArray(v) ? v.filter(Boolean).join(' ') : v; if (c) el.className = c; }
      else if (k === 'style') throw new Error('inline styles are blocked by the CSP; use a class');
      else if (k === 'value' && (tag === 'select' || tag === 'textarea')) lateValue = v;
      else if (v === false) continue;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  // A select's value can only be set once its options exist.
  if (lateValue !== undefined) el.value = String(lateValue);
  return el;
}

/** s(): the same for SVG elements (attributes only). */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  return append(el, children);
}

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// ============================================================================ formatting

// The browser locale's separators, so numbers read naturally; grouping is always by three.
const NUM = (() => {
  try {
    const parts = new Intl.NumberFormat().formatToParts(12345.6);
    return {
      group: (parts.find((p) => p.type === 'group') || {}).value || ',',
      decimal: (parts.find((p) => p.type === 'decimal') || {}).value || '.',
    };
  } catch (_) {
    return { group: ',', decimal: '.' };
  }
})();

/** Splits a decimal string ("-1190.0000") into sign, integer digits and fraction digits. */
function parseDec(v) {
  if (v === null || v === undefined) return null;
  const m = /^\s*([+-])?(\d*)(?:\.(\d*))?\s*$/.exec(String(v));
  if (!m || (!m[2] && !m[3])) return null;
  return { neg: m[1] === '-', int: (m[2] || '0').replace(/^0+(?=\d)/, ''), frac: m[3] || '' };
}

/** Formats a decimal string with `places` decimals (half away from zero) and grouping.
 * `trim` drops trailing zeros (quantities). Anything unparseable is shown as given. */
function fmtDec(v, places, trim = false) {
  const d = parseDec(v);
  if (!d) return v === null || v === undefined || v === '' ? '—' : String(v);
  let int = d.int;
  let frac = d.frac;
  if (places !== undefined) {
    const padded = frac.padEnd(places + 1, '0');
    let digits = BigInt(int + padded.slice(0, places));
    if (padded.charCodeAt(places) >= 53 /* '5' */) digits += 1n;
    const str = digits.toString().padStart(places + 1, '0');
    int = places ? str.slice(0, -places) : str;
    frac = places ? str.slice(-places) : '';
  }
  if (trim) frac = frac.replace(/0+$/, '');
  const zero = /^0*$/.test(int + frac);
  return (d.neg && !zero ? '-' : '') + int.replace(/\B(?=(\d{3})+(?!\d))/g, NUM.group) + (frac ? NUM.decimal + frac : '');
}

// The server writes each amount with its currency's decimals (JPY none, KWD three): keep them.
const fmtMoney = (v) => fmtDec(v);
const fmtQty = (v) => fmtDec(v, 4, true);
const fmtInt = (n) => (n === null || n === undefined ? '—' : fmtDec(String(n)));

/** Moves the decimal point n places right: decShift("0.2512", 2) = "25.12". */
function decShift(v, n) {
  const d = parseDec(v);
  if (!d) return null;
  const frac = d.frac.padEnd(n, '0');
  const int = (d.int + frac.slice(0, n)).replace(/^0+(?=\d)/, '');
  const rest = frac.slice(n);
  return (d.neg ? '-' : '') + int + (rest ? '.' + rest : '');
}

/** A fraction string as a percentage: "0.2512" -> "25.1%". */
function fracPct(v, places = 1) {
  const shifted = decShift(v, 2);
  return shifted === null ? '—' : fmtDec(shifted, places) + '%';
}

// Exact decimal arithmetic for the few sums the UI needs (overdue = 1-30 + 31-60 + ...).
const SCALE = 6;
function decScaled(v) {
  const d = parseDec(v);
  if (!d) return 0n;
  const n = BigInt(d.int + d.frac.padEnd(SCALE, '0').slice(0, SCALE));
  return d.neg ? -n : n;
}
function scaledStr(n) {
  const neg = n < 0n;
  const str = (neg ? -n : n).toString().padStart(SCALE + 1, '0');
  return (neg ? '-' : '') + str.slice(0, -SCALE) + '.' + str.slice(-SCALE);
}
const decAdd = (...vs) => scaledStr(vs.reduce((acc, v) => acc + decScaled(v), 0n));
const decCmp = (a, b) => { const x = decScaled(a); const y = decScaled(b); return x < y ? -1 : x > y ? 1 : 0; };
const decIsZero = (v) => decScaled(v) === 0n;
const decNeg = (v) => decScaled(v) < 0n;

/** Only for chart geometry. */
const chartNum = (v) => { const n = parseFloat(v); return Number.isFinite(n) ? n : 0; };

const pad2 = (n) => String(n).padStart(2, '0');
function todayISO() {
  const d = new Date();
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}
/** Date-only strings are calendar days: parse them as local dates so no timezone shifts them. */
function toDate(v) {
  if (!v) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  const d = m ? new Date(+m[1], +m[2] - 1, +m[3]) : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}
function fmtDate(v) {
  const d = toDate(v);
  return d ? d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }) : (v ? String(v) : '—');
}
function fmtDateTime(v) {
  const d = toDate(v);
  return d ? d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }) : (v ? String(v) : '—');
}
/** Either kind: a bare date or an instant. */
const fmtWhen = (v) => (/^\d{4}-\d{2}-\d{2}$/.test(v || '') ? fmtDate(v) : fmtDateTime(v));
const humanize = (v) => (v ? String(v).replace(/[_-]+/g, ' ') : '—');
const capitalize = (v) => (v ? v.charAt(0).toUpperCase() + v.slice(1) : v);
const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + 's'}`;

function fmtDuration(us) {
  if (us === null || us === undefined) return '—';
  if (us < 1000) return `${us} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

// ============================================================================ session

const SESSION_KEY = 'meridian.admin.session';

function loadSession() {
  try { return JSON.parse(sessionStorage.getItem(SESSION_KEY)); } catch (_) { return null; }
}
let session = loadSession();

function saveSession(sv) {
  session = sv || null;
  try {
    if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else sessionStorage.removeItem(SESSION_KEY);
  } catch (_) { /* private mode: the session lives in memory only */ }
}

// What the signed-in user may see and do, from GET /me.
const state = { me: null, perms: null, flash: null };

/** can("sales:write"): from /me.permissions. If the server does not send permissions at all
 * (an older build) everything is offered and the server's 403s decide. */
function can(perm) {
  if (!state.perms) return !!state.me;
  return state.perms.has(perm);
}
window.can = can;
const readOnly = () => !!(state.me && state.me.subscription && state.me.subscription.read_only);
/** Write controls need the permission and a subscription that allows writes. */
const canWrite = (perm) => can(perm) && !readOnly();
const tenantName = () => (state.me && state.me.tenant && state.me.tenant.name) || (session && session.tenant_slug) || '';
const baseCurrency = () => (state.me && state.me.tenant && state.me.tenant.base_currency) || '';

// ============================================================================ API

class ProblemError extends Error {
  constructor(problem) {
    super(problem.detail || problem.title || 'Request failed');
    this.name = 'ProblemError';
    this.problem = problem;
    this.status = problem.status;
  }
}
const problemOf = (err) => (err && err.problem) || { status: 0, title: 'Error', detail: String((err && err.message) || err) };
const problemText = (err) => { const p = problemOf(err); return p.detail || p.title || 'Something went wrong'; };
/** A 422 raised in the browser (a manifest that is not JSON, a missing file...). */
const invalid = (errors) => new ProblemError({ status: 422, title: 'Invalid input', detail: 'Check the highlighted fields.', errors });

let inflight = 0;
function busy(delta) {
  inflight = Math.max(0, inflight + delta);
  document.body.classList.toggle('busy', inflight > 0);
}

// Refresh tokens rotate (and reuse of an old one ends the whole family), so concurrent 401s
// must share one refresh rather than each spending the same token.
let refreshing = null;
function refreshSession() {
  if (!session || !session.refresh_token) return Promise.resolve(false);
  if (!refreshing) {
    const rt = session.refresh_token;
    refreshing = api('POST', '/auth/refresh', { refresh_token: rt }, { auth: false })
      .then((r) => { saveSession(r.body); return true; })
      .catch(() => false)
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

function sessionEnded() {
  if (!session && !state.me) return;
  saveSession(null);
  state.me = null;
  state.perms = null;
  state.flash = 'Your session has ended. Please sign in again.';
  hideToast();
  go('#/login');
}

/** api(method, path, body, {etag}) -> {status, body, etag}; non-2xx throws a ProblemError.
 * A 401 is retried once after refreshing the session; a second one ends the session. */
async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.etag) headers['If-Match'] = opts.etag;
  const token = opts.auth === false ? null : session && session.access_token;
  if (token) headers.Authorization = 'Bearer ' + token;
  busy(1);
  let res;
  let text = '';
  try {
    res = await fetch('/api/v1' + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    text = await res.text();
  } catch (_) {
    throw new ProblemError({ status: 0, title: 'Network error', detail: 'The server could not be reached. Check the connection and try again.' });
  } finally {
    busy(-1);
  }
  if (res.status === 401 && token) {
    if (!opts.retried) {
      // Another request may have refreshed already while this one was in flight.
      if (session && session.access_token !== token) return api(method, path, body, { ...opts, retried: true });
      if (await refreshSession()) return api(method, path, body, { ...opts, retried: true });
    }
    sessionEnded();
    throw new ProblemError({ status: 401, title: 'Unauthorized', detail: 'Your session has ended. Please sign in again.', sessionEnded: true });
  }
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch (_) { data = null; } }
  if (!res.ok) {
    const p = data && typeof data === 'object' && !Array.isArray(data)
      ? { ...data }
      : { status: res.status, title: res.statusText || 'Error', detail: text.slice(0, 300) };
    p.status = p.status || res.status;
    p.detail = p.detail || p.title || `HTTP ${res.status}`;
    throw new ProblemError(p);
  }
  return { status: res.status, body: data, etag: res.headers.get('ETag') };
}

const get = async (path) => (await api('GET', path)).body;
/** The ETag a versioned resource's GET answers with, rebuilt from the version a list gave
 * (the server's ETag is the version in quotes), so a PATCH from a list row still guards
 * against someone else's change since the list was read. */
const etagOf = (obj) => `"${obj.version}"`;
/** Lists come as {data, next_cursor}; a few endpoints answer a bare array. */
const rowsOf = (b) => (Array.isArray(b) ? b : (b && Array.isArray(b.data) ? b.data : []));

function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
  }
  return parts.length ? '?' + parts.join('&') : '';
}

/** Every page of a cursor-paginated list (bounded, so a huge tenant cannot hang the page). */
async function fetchAll(path, params = {}, maxPages = 10) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const b = await get(path + qs({ ...params, limit: 200, cursor }));
    out.push(...rowsOf(b));
    cursor = Array.isArray(b) ? null : b && b.next_cursor;
    if (!cursor) break;
  }
  return out;
}

async function loadMe() {
  const me = await get('/me');
  state.me = me;
  state.perms = Array.isArray(me.permissions) ? new Set(me.permissions) : null;
  return me;
}

// ============================================================================ forms

/** The form's error box; a form whose inputs live in a table row (form="...") keeps its
 * box elsewhere, marked data-for="<form id>". */
function errorBox(form) {
  return form.querySelector('.form-error') || (form.id ? document.querySelector(`.form-error[data-for="${form.id}"]`) : null);
}

function clearFormErrors(form) {
  for (const el of form._fieldErrors || []) el.remove();
  form._fieldErrors = [];
  for (const el of Array.from(form.elements)) if (el.classList) el.classList.remove('invalid');
  const box = errorBox(form);
  if (box) box.replaceChildren();
}

/** Shows a problem on a form: each 422 field error right after the input of that name (or in
 * the form's .form-error when no input has that name, e.g. "lines[0].quantity"); any other
 * problem's detail in .form-error. */
function formErrors(form, err) {
  const p = problemOf(err);
  let box = errorBox(form);
  if (!box) { box = h('div', { class: 'form-error', role: 'alert' }); form.appendChild(box); }
  form._fieldErrors = form._fieldErrors || [];
  const fieldErrs = p.status === 422 && Array.isArray(p.errors) ? p.errors : [];
  if (!fieldErrs.length) {
    box.replaceChildren(p.detail || p.title || 'Something went wrong');
    return;
  }
  for (const fe of fieldErrs) {
    const inputs = Array.from(form.elements).filter((el) => el.name === fe.field);
    if (inputs.length) {
      const div = h('div', { class: 'field-error', 'data-field': fe.field }, fe.message);
      inputs.forEach((el) => el.classList.add('invalid'));
      const last = inputs[inputs.length - 1];
      // Checkbox groups get one message after the whole group.
      const anchor = (last.type === 'checkbox' || last.type === 'radio') && last.closest('.checks') ? last.closest('.checks') : last;
      anchor.insertAdjacentElement('afterend', div);
      form._fieldErrors.push(div);
    } else {
      box.appendChild(h('div', { class: 'field-error', 'data-field': fe.field }, `${fe.field}: ${fe.message}`));
    }
  }
}

/** Wires a form's submit: clears old errors, disables submit buttons while the request runs,
 * shows any problem with formErrors. */
function onSubmit(form, handler) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (form._busy) return;
    clearFormErrors(form);
    const buttons = Array.from(form.elements).filter((el) => el.type === 'submit');
    form._busy = true;
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await handler(new FormData(form), form);
    } catch (err) {
      if (!(err && err.problem && err.problem.sessionEnded)) {
        if (!(err instanceof ProblemError)) console.error(err);
        formErrors(form, err);
      }
    } finally {
      form._busy = false;
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  return form;
}

const str = (fd, name) => { const v = fd.get(name); return typeof v === 'string' ? v.trim() : ''; };
const strOrNull = (fd, name) => str(fd, name) || null;
/** Integers from number inputs; anything else goes to the server as typed so it can say why. */
const intOr = (v) => (/^-?\d+$/.test(v) ? parseInt(v, 10) : v === '' ? null : v);

function field(label, control, hint, cls) {
  return h('label', { class: ['field', cls] }, h('span', { class: 'label' }, label), control, hint ? h('small', { class: 'hint' }, hint) : null);
}
const formError = (forId) => h('div', { class: 'form-error', role: 'alert', 'data-for': forId || null });
const submitBtn = (id, label) => h('button', { type: 'submit', id, class: 'btn btn-primary' }, label);
const button = (label, onclick, cls = 'btn', attrs = {}) => h('button', { type: 'button', class: cls, onclick, ...attrs }, label);

/** One checkbox per item, all sharing `name`, in a .checks group (errors go after it). */
function checkGroup(name, items) {
  return h('div', { class: 'checks', 'data-group': name },
    items.length ? items.map((it) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name, value: it.value, checked: !!it.checked, disabled: !!it.disabled, ...(it.attrs || {}) }),
      h('span', null, it.label))) : h('span', { class: 'muted small' }, 'None available'));
}
const checkedValues = (form, name) => Array.from(form.elements).filter((el) => el.name === name && el.checked).map((el) => el.value);

// ============================================================================ small UI pieces

let toastTimer = null;
function toast(msg) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 3500);
}

function hideToast() {
  clearTimeout(toastTimer);
  document.getElementById('toast').hidden = true;
}

function pageHead(title, sub, ...actions) {
  return h('div', { class: 'page-head' },
    h('div', null, h('h1', null, title), sub ? h('p', null, sub) : null),
    actions.filter(Boolean).length ? h('div', { class: 'page-actions' }, actions) : null);
}

const empty = (text) => h('p', { class: 'empty' }, text);
const notice = (kind, text) => h('div', { class: ['notice', kind], role: kind === 'error' ? 'alert' : 'status' }, text);

function errorPanel(err) {
  const p = problemOf(err);
  return h('div', { class: 'page-error', role: 'alert' },
    h('h2', null, p.status === 403 ? 'Not allowed' : p.status === 404 ? 'Not found' : (p.title || 'Something went wrong')),
    h('p', null, p.detail || 'The request failed.'),
    p.request_id ? h('p', { class: 'small' }, `Request id: ${p.request_id}`) : null);
}

/** Column headers: a string, or [label, 'num'] for right-aligned numbers. */
function dataTable(attrs, headers, rows) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'table', ...attrs },
      h('thead', null, h('tr', null, headers.map((x) => (Array.isArray(x) ? h('th', { class: x[1], scope: 'col' }, x[0]) : h('th', { scope: 'col' }, x))))),
      h('tbody', null, rows)));
}
const td = (content, cls) => h('td', { class: cls || null }, content);
const tdNum = (content) => h('td', { class: 'num' }, content);

function badge(text, kind) {
  return h('span', { class: ['badge', kind] }, text);
}
const statusKind = (st) => ({
  active: 'ok', enabled: 'ok', ok: 'ok', approved: 'ok', posted: 'ok', paid: 'ok', completed: 'ok', closed: '',
  pending: 'warn', draft: '', vetoed: 'warn', returned: 'warn', expired: 'warn', submitted: 'accent',
  revoked: 'bad', failed: 'bad', rejected: 'bad', cancelled: 'bad', inactive: '', disabled: '',
}[st] || '');

// ============================================================================ chrome: header, nav, banner

const NAV = [
  ['dashboard', 'Dashboard', null],
  ['trace', 'Order trace', 'sales:read'],
  ['approvals', 'Approvals', 'approvals:read'],
  ['users', 'Users', 'admin:read'],
  ['roles', 'Roles', 'admin:read'],
  ['api-keys', 'API keys', 'admin:read'],
  ['plugins', 'Plugins', 'plugins:read'],
  ['audit', 'Audit log', 'audit:read'],
  ['settings', 'Settings', null],
];

function subscriptionBanner() {
  const sub = state.me && state.me.subscription;
  const el = h('div', { id: 'subscription-banner', role: 'status' });
  if (!sub) { el.className = 'none'; el.hidden = true; return el; }
  const n = sub.trial_days_left;
  const left = n === null || n === undefined ? 'ending soon' : `${plural(n, 'day')} left`;
  if (sub.read_only) {
    el.className = 'readonly';
    el.textContent = 'Read-only: the trial has ended. Data can be read and exported; writes are refused until a plan is chosen.';
  } else if (sub.trial_ending_soon) {
    el.className = 'warn';
    el.textContent = `Trial: ${left} — choose a plan before it ends`;
  } else if (sub.status === 'trial') {
    el.className = 'info';
    el.textContent = `Trial: ${left}`;
  } else {
    // An active plan: nothing to say.
    el.className = 'none';
    el.hidden = true;
  }
  return el;
}

function renderChrome(activeNav) {
  const header = document.getElementById('app-header');
  const slot = document.getElementById('banner-slot');
  if (!session || !state.me) {
    header.hidden = true;
    header.replaceChildren();
    slot.replaceChildren();
    return;
  }
  const me = state.me;
  header.hidden = false;
  header.replaceChildren(
    h('div', { class: 'topbar' },
      h('a', { class: 'brand', href: '#/dashboard' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'M'), 'Meridian', h('span', { class: 'brand-sub' }, 'Admin')),
      h('div', { id: 'whoami', class: 'whoami', title: `${me.email} · ${tenantName()}` },
        h('span', { class: 'who-email' }, me.email),
        h('span', { class: 'who-tenant' }, tenantName())),
      h('button', { id: 'logout', type: 'button', class: 'btn btn-sm', onclick: logout }, 'Sign out')),
    h('nav', { class: 'mainnav', 'aria-label': 'Main' },
      NAV.filter(([, , perm]) => !perm || can(perm)).map(([key, label]) => h('a', {
        href: '#/' + key, 'data-nav': key, class: key === activeNav ? 'active' : null, 'aria-current': key === activeNav ? 'page' : null,
      }, label))));
  slot.replaceChildren(subscriptionBanner());
  const active = header.querySelector('.mainnav a.active');
  if (active && active.scrollIntoView) active.scrollIntoView({ block: 'nearest', inline: 'nearest' });
}

async function logout() {
  const rt = session && session.refresh_token;
  if (rt) {
    try { await api('POST', '/auth/logout', { refresh_token: rt }, { auth: false }); } catch (_) { /* signing out locally anyway */ }
  }
  saveSession(null);
  state.me = null;
  state.perms = null;
  hideToast();
  go('#/login');
}

// ============================================================================ router

let routeSeq = 0;

/** A render context: pages check ctx.alive before touching the DOM after an await, so a slow
 * response for a page the user already left never overwrites the current one. */
function beginPage(name) {
  const seq = ++routeSeq;
  const v = document.getElementById('view');
  v.dataset.page = name;
  v.dataset.ready = 'false';
  v.setAttribute('aria-busy', 'true');
  v.replaceChildren(h('p', { class: 'loading-text' }, 'Loading…'));
  const ctx = {
    name,
    get alive() { return seq === routeSeq; },
    render(...nodes) { if (ctx.alive) v.replaceChildren(...nodes.flat().filter(Boolean)); },
    loading() { if (ctx.alive) { v.dataset.ready = 'false'; v.setAttribute('aria-busy', 'true'); } },
    ready() { if (ctx.alive) { v.dataset.ready = 'true'; v.removeAttribute('aria-busy'); } },
  };
  return ctx;
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const parts = raw.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch (_) { return p; } });
  return { page: parts[0] || '', arg: parts.length > 1 ? parts.slice(1).join('/') : null };
}

/** Pages that need a permission show a plain refusal instead of a wall of 403s. */
function guard(ctx, perm, title) {
  if (can(perm)) return true;
  ctx.render(pageHead(title), errorPanel({ problem: { status: 403, detail: `Your roles do not include ${perm}.` } }));
  ctx.ready();
  return false;
}

const ROUTES = {
  login: { page: () => 'login', render: renderLogin, public: true },
  signup: { page: () => 'signup', render: renderSignup, public: true },
  dashboard: { page: () => 'dashboard', render: renderDashboard, nav: 'dashboard' },
  trace: { page: () => 'trace', render: (ctx, arg) => (arg ? renderTrace(ctx, arg) : renderTraceList(ctx)), nav: 'trace' },
  approvals: { page: () => 'approvals', render: renderApprovals, nav: 'approvals' },
  users: { page: () => 'users', render: renderUsers, nav: 'users' },
  roles: { page: () => 'roles', render: renderRoles, nav: 'roles' },
  'api-keys': { page: () => 'api-keys', render: renderApiKeys, nav: 'api-keys' },
  plugins: { page: (arg) => (arg ? 'plugin' : 'plugins'), render: (ctx, arg) => (arg ? renderPlugin(ctx, arg) : renderPlugins(ctx)), nav: 'plugins' },
  audit: { page: () => 'audit', render: renderAudit, nav: 'audit' },
  settings: { page: () => 'settings', render: renderSettings, nav: 'settings' },
};

let mePromise = null;
let lastHash = null;

async function route() {
  let { page, arg } = parseHash();
  if (!session) {
    if (page !== 'login' && page !== 'signup') { go('#/login'); return; }
  } else if (!state.me) {
    // A reload with a stored session: learn who we are before drawing anything.
    const ctx = beginPage('loading');
    try {
      mePromise = mePromise || loadMe().finally(() => { mePromise = null; });
      await mePromise;
    } catch (err) {
      if (!session || !ctx.alive) return;
      ctx.render(errorPanel(err), h('p', null, button('Try again', () => route(), 'btn'), ' ', button('Sign out', logout, 'btn btn-ghost')));
      ctx.ready();
      return;
    }
    if (!ctx.alive) return;
    ({ page, arg } = parseHash());
  }
  if (session && (!page || page === 'login' || page === 'signup')) { go('#/dashboard'); return; }

  const r = ROUTES[page];
  // A new address starts at the top; a re-render of the same one keeps its place.
  if (location.hash !== lastHash) { window.scrollTo(0, 0); lastHash = location.hash; }
  renderChrome(r && r.nav);
  const ctx = beginPage(r ? r.page(arg) : 'not-found');
  document.title = `${r ? capitalize(humanize(ctx.name)) : 'Not found'} — Meridian`;
  try {
    if (r) await r.render(ctx, arg);
    else renderNotFound(ctx);
  } catch (err) {
    if (!ctx.alive || (err && err.problem && err.problem.sessionEnded)) return;
    if (!(err instanceof ProblemError)) console.error(err);
    ctx.render(errorPanel(err));
    ctx.ready();
  }
}

function renderNotFound(ctx) {
  ctx.render(h('div', { class: 'panel' },
    h('h1', null, 'Page not found'),
    h('p', { class: 'muted' }, 'There is nothing at this address.'),
    h('a', { class: 'btn', href: session ? '#/dashboard' : '#/login' }, session ? 'Back to the dashboard' : 'Sign in')));
  ctx.ready();
}

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', route);

// ============================================================================ login & signup

/** Forms skip the browser's own validation: the server's 422 field errors are the single
 * source of messages, shown the same way everywhere. */
const form = (attrs, ...children) => h('form', { novalidate: true, ...attrs }, ...children);

function authShell(...children) {
  return h('div', { class: 'auth-wrap' },
    h('section', { class: 'panel auth-card' },
      h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'M'), 'Meridian'),
      ...children));
}

function renderLogin(ctx) {
  const flash = state.flash;
  state.flash = null;
  const f = form({ id: 'login-form', class: 'stack' },
    flash ? notice('warn', flash) : null,
    field('Company handle', h('input', { name: 'tenant', type: 'text', autocomplete: 'organization', autocapitalize: 'none', spellcheck: 'false' }),
      'The handle chosen at sign-up, e.g. acme'),
    field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'username' })),
    field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password' })),
    formError(),
    h('div', { class: 'form-actions' }, submitBtn('login-submit', 'Sign in')));
  onSubmit(f, async (fd) => {
    const r = await api('POST', '/auth/login', { tenant: str(fd, 'tenant'), email: str(fd, 'email'), password: fd.get('password') || '' }, { auth: false });
    saveSession(r.body);
    await loadMe();
    go('#/dashboard');
  });
  ctx.render(authShell(
    h('h1', null, 'Sign in'),
    h('p', { class: 'sub' }, 'Administer your company on Meridian.'),
    f,
    h('p', { class: 'auth-alt' }, 'New to Meridian? ', h('a', { id: 'signup-link', href: '#/signup' }, 'Create a company account'))));
  ctx.ready();
  f.elements.tenant.focus();
}

const TEMPLATES = [
  ['cn_small_business', 'China — Small Business Accounting Standards (小企业会计准则)'],
  ['generic', 'Generic chart of accounts'],
];

function renderSignup(ctx) {
  const f = form({ id: 'signup-form', class: 'stack' },
    field('Company name', h('input', { name: 'company_name', type: 'text', autocomplete: 'organization' })),
    field('Company handle', h('input', { name: 'slug', type: 'text', autocapitalize: 'none', spellcheck: 'false', placeholder: 'acme' }),
      'What your staff type when they sign in. Leave empty to derive it from the name.'),
    field('Your name', h('input', { name: 'admin_name', type: 'text', autocomplete: 'name' })),
    field('Your email', h('input', { name: 'admin_email', type: 'email', autocomplete: 'email' })),
    field('Password', h('input', { name: 'admin_password', type: 'password', autocomplete: 'new-password' }), 'At least 10 characters.'),
    h('div', { class: 'form-grid' },
      field('Base currency', h('input', { name: 'base_currency', type: 'text', value: 'CNY', maxlength: 3, autocapitalize: 'characters' }), 'ISO 4217, e.g. CNY'),
      field('Accounting template', h('select', { name: 'accounting_template', value: 'cn_small_business' },
        TEMPLATES.map(([v, label]) => h('option', { value: v }, label))))),
    formError(),
    h('div', { class: 'form-actions' }, submitBtn('signup-submit', 'Create account')));
  onSubmit(f, async (fd) => {
    const body = {
      company_name: str(fd, 'company_name'),
      slug: strOrNull(fd, 'slug'),
      admin_email: str(fd, 'admin_email'),
      admin_name: strOrNull(fd, 'admin_name'),
      admin_password: fd.get('admin_password') || '',
      accounting_template: str(fd, 'accounting_template'),
      base_currency: str(fd, 'base_currency').toUpperCase(),
    };
    const r = await api('POST', '/signup', body, { auth: false });
    saveSession(r.body);
    await loadMe();
    go('#/dashboard');
  });
  ctx.render(authShell(
    h('h1', null, 'Create your company'),
    h('p', { class: 'sub' }, 'Start a free trial. You become the company’s administrator.'),
    f,
    h('p', { class: 'auth-alt' }, 'Already have an account? ', h('a', { id: 'login-link', href: '#/login' }, 'Sign in'))));
  ctx.ready();
  f.elements.company_name.focus();
}

// ============================================================================ dashboard

function card(id, title, cls) {
  return h('section', { class: ['card', cls], id, 'data-state': 'loading', 'aria-busy': 'true' },
    h('h2', { class: 'card-title' }, title),
    h('div', { class: 'card-body' }, h('p', null, 'Loading…')));
}

/** Runs one card's loader; never throws. A 403 hides the card (the user may not read that
 * module), any other problem shows its detail in the card. */
async function fill(el, loader) {
  const body = el.querySelector('.card-body');
  try {
    const content = await loader();
    body.replaceChildren(...[].concat(content).filter(Boolean));
    el.dataset.state = 'ready';
  } catch (err) {
    if (err && err.status === 403) {
      el.dataset.state = 'denied';
      body.replaceChildren();
    } else {
      el.dataset.state = 'error';
      body.replaceChildren(h('p', { class: 'card-error' }, problemText(err)));
    }
  }
  el.removeAttribute('aria-busy');
}

function figure(value, unit) {
  return h('div', { class: 'figure-row' }, h('span', { class: 'figure' }, value), unit ? h('span', { class: 'figure-unit' }, unit) : null);
}
const kv = (label, value) => h('div', null, h('span', null, label), h('strong', null, value));

/** "▲ 25.0%" from a fraction string ("0.25"). */
function changeBadge(fraction) {
  if (fraction === null || fraction === undefined) return h('span', { class: 'change' }, 'No sales in the same days last month');
  const neg = decNeg(fraction);
  const zero = decIsZero(fraction);
  return h('span', { class: ['change', zero ? '' : neg ? 'down' : 'up'] },
    (zero ? '' : neg ? '▼ ' : '▲ ') + fracPct(String(fraction).replace(/^[+-]/, ''), 1));
}

const truncate = (t, n) => { const x = String(t || ''); return x.length > n ? x.slice(0, n - 1) + '…' : x; };

/** The width, in CSS pixels, of a card's body, measured once the card is on screen: charts
 * are drawn at that size so their text is real-size on a phone and on a desktop alike. */
function chartWidth(id, max) {
  const body = document.querySelector(`#${id} .card-body`);
  const w = body ? body.clientWidth : 0;
  return Math.round(Math.max(260, Math.min(max || 900, w || 320)));
}

/** Daily revenue, this month against last month: grouped vertical bars. */
function dailyChart(daily, W) {
  const H = W < 480 ? 170 : 200; const L = 4; const R = 4; const T = 20; const B = 22;
  const n = Math.max(daily.length, 1);
  let maxV = 0;
  let maxStr = '0';
  for (const d of daily) {
    for (const v of [d.this_month, d.last_month]) {
      const x = chartNum(v);
      if (x > maxV) { maxV = x; maxStr = v; }
    }
  }
  const plotH = H - T - B;
  const band = (W - L - R) / n;
  const bw = Math.max(1, band * 0.36);
  const barH = (v) => { const x = Math.max(0, chartNum(v)); return x > 0 ? Math.max(1, (plotH * x) / (maxV || 1)) : 0; };
  const svg = s('svg', { class: 'chart chart-daily', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Revenue per day: this month and last month' },
    s('line', { class: 'grid', x1: L, x2: W - R, y1: T, y2: T }),
    s('text', { x: L, y: T - 6 }, fmtMoney(maxStr)),
    s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  daily.forEach((d, i) => {
    const x0 = L + i * band + band * 0.12;
    const hl = barH(d.last_month);
    const ht = barH(d.this_month);
    svg.appendChild(s('g', { class: 'hoverable' },
      s('title', null, `Day ${d.day}: this month ${fmtMoney(d.this_month)}, last month ${fmtMoney(d.last_month)}`),
      s('rect', { class: 'bar-last', x: x0.toFixed(2), y: (H - B - hl).toFixed(2), width: bw.toFixed(2), height: hl.toFixed(2) }),
      s('rect', { class: 'bar-this', x: (x0 + bw).toFixed(2), y: (H - B - ht).toFixed(2), width: bw.toFixed(2), height: ht.toFixed(2) })));
    if (d.day === 1 || d.day % 5 === 0) {
      svg.appendChild(s('text', { x: (L + i * band + band / 2).toFixed(2), y: H - 6, 'text-anchor': 'middle' }, String(d.day)));
    }
  });
  return svg;
}

/** Horizontal bars with the label on the left and the figure (as text) on the right. */
function hbarChart(items, ariaLabel, W) {
  const rowH = 26; const gap = 8;
  const labelW = Math.min(130, Math.round(W * 0.3)); const valueW = Math.min(110, Math.round(W * 0.27));
  const barMax = W - labelW - valueW - gap * 2;
  const max = Math.max(0, ...items.map((it) => Math.abs(chartNum(it.value)))) || 1;
  const svg = s('svg', { class: 'chart chart-hbar', viewBox: `0 0 ${W} ${Math.max(items.length, 1) * rowH}`, role: 'img', 'aria-label': ariaLabel || 'Bar chart' });
  items.forEach((it, i) => {
    const y = i * rowH;
    const v = chartNum(it.value);
    const w = v === 0 ? 0 : Math.max(2, (barMax * Math.abs(v)) / max);
    svg.appendChild(s('g', { class: 'hoverable' },
      s('title', null, `${it.label}: ${it.text}`),
      s('text', { x: 0, y: y + rowH / 2 + 4 }, truncate(it.label, Math.floor(labelW / 6.5))),
      s('rect', { class: 'bar-track', x: labelW, y: y + 6, width: barMax, height: rowH - 12, rx: 3 }),
      s('rect', { class: v < 0 ? 'bar-neg' : 'bar', x: labelW, y: y + 6, width: w.toFixed(2), height: rowH - 12, rx: 3 }),
      s('text', { class: 'value', x: W, y: y + rowH / 2 + 4, 'text-anchor': 'end' }, it.text)));
  });
  return svg;
}

/** One trapezoid per stage, width by the number of opportunities in it. */
function funnelChart(stages, W) {
  const rowH = 34; const gap = 4;
  const nameW = Math.min(130, Math.round(W * 0.28)); const textW = Math.min(130, Math.round(W * 0.28));
  const fw = W - nameW - textW - 8;
  const cx = nameW + fw / 2;
  const counts = stages.map((st) => (st.kind === 'open' ? Number(st.open_count) || 0 : Number(st.entered) || 0));
  const max = Math.max(1, ...counts);
  const svg = s('svg', { class: 'chart chart-funnel', viewBox: `0 0 ${W} ${stages.length * (rowH + gap)}`, role: 'img', 'aria-label': 'Sales funnel by stage' });
  stages.forEach((st, i) => {
    const y = i * (rowH + gap);
    const top = Math.max(fw * 0.14, (fw * counts[i]) / max);
    const bottom = top * 0.86;
    const won = st.kind === 'won';
    const right = won ? `${counts[i]} won` : fmtMoney(st.open_amount);
    const conv = st.conversion !== null && st.conversion !== undefined ? `, ${fracPct(st.conversion)} went on` : '';
    svg.appendChild(s('g', { class: 'hoverable', 'data-stage': st.code },
      s('title', null, `${st.name}: ${won ? counts[i] + ' won' : counts[i] + ' open, ' + fmtMoney(st.open_amount)}${conv}`),
      s('text', { x: 0, y: y + rowH / 2 + 4 }, truncate(st.name, Math.floor(nameW / 6.5))),
      s('polygon', {
        class: ['funnel-stage', won ? 'won' : ''].join(' ').trim(),
        points: [[cx - top / 2, y], [cx + top / 2, y], [cx + bottom / 2, y + rowH], [cx - bottom / 2, y + rowH]].map((p) => p.map((n) => n.toFixed(1)).join(',')).join(' '),
      }),
      s('text', { class: 'funnel-label', x: cx, y: y + rowH / 2 + 4, 'text-anchor': 'middle' }, String(counts[i])),
      s('text', { class: 'value', x: W, y: y + rowH / 2 + 4, 'text-anchor': 'end' }, right)));
  });
  return svg;
}

function legend() {
  return h('div', { class: 'legend' },
    h('span', null, h('span', { class: 'swatch' }), 'This month'),
    h('span', null, h('span', { class: 'swatch last' }), 'Last month'));
}

function salesCard(sm) {
  const cur = sm.currency || baseCurrency();
  const tm = sm.this_month || {};
  const lm = sm.last_month || {};
  const lmtd = sm.last_month_to_date || {};
  const daily = sm.daily || [];
  return [
    figure(fmtMoney(tm.revenue), cur),
    h('p', { class: 'figure-note' }, changeBadge(sm.change_percent), ` against ${fmtMoney(lmtd.revenue)} in the same days last month`),
    h('div', { class: 'kv' },
      kv('Margin this month', fmtMoney(tm.margin)),
      kv('Invoices this month', fmtInt(tm.invoices)),
      kv('Last month revenue', fmtMoney(lm.revenue)),
      kv('Last month margin', fmtMoney(lm.margin))),
    legend(),
    daily.length ? dailyChart(daily, chartWidth('card-sales', 1100)) : h('p', { class: 'muted' }, 'No daily figures.'),
    daily.length ? h('details', null, h('summary', null, 'Daily figures'),
      dataTable({ class: 'table compact' }, ['Day', [`This month (${cur})`, 'num'], [`Last month (${cur})`, 'num']],
        daily.map((d) => h('tr', null, td(String(d.day)), tdNum(fmtMoney(d.this_month)), tdNum(fmtMoney(d.last_month)))))) : null,
  ];
}

function topCard(sm, key) {
  const rows = ((key === 'revenue' ? sm.top_by_revenue : sm.top_by_margin) || []).slice(0, 5);
  if (!rows.length) return empty('No sales this month yet.');
  return [
    hbarChart(rows.map((p) => ({ label: p.sku || p.name, value: p[key], text: fmtMoney(p[key]) })), `Top products by ${key}`, chartWidth(key === 'revenue' ? 'card-top-revenue' : 'card-top-margin', 560)),
    dataTable({ class: 'table compact' },
      ['Product', ['Qty', 'num'], ['Revenue', 'num'], ['Margin', 'num'], ['Margin %', 'num']],
      rows.map((p) => h('tr', { 'data-sku': p.sku },
        td([h('strong', null, p.sku), ' ', h('span', { class: 'muted' }, p.name)]),
        tdNum(fmtQty(p.quantity)),
        tdNum(fmtMoney(p.revenue)),
        tdNum(fmtMoney(p.margin)),
        tdNum(p.margin_percent === null || p.margin_percent === undefined ? '—' : fracPct(p.margin_percent))))),
  ];
}

async function stockCard() {
  const [low, over] = await Promise.all([get('/reports/low-stock' + qs({ limit: 50 })), get('/reports/overstock')]);
  const lows = rowsOf(low);
  const overs = rowsOf(over);
  const more = !Array.isArray(low) && low && low.next_cursor;
  return [
    figure(`${lows.length}${more ? '+' : ''}`, lows.length === 1 ? 'item at or below its reorder point' : 'items at or below their reorder point'),
    lows.length
      ? dataTable({ class: 'table compact', id: 'low-stock-table' }, ['Item', ['Available', 'num'], ['Reorder at', 'num'], ['Suggested', 'num']],
        lows.slice(0, 8).map((r) => h('tr', { 'data-sku': r.sku },
          td([h('strong', null, r.sku), ' ', h('span', { class: 'muted' }, r.item_name)]),
          tdNum(fmtQty(r.available)), tdNum(fmtQty(r.reorder_point)), tdNum(fmtQty(r.suggested_order)))))
      : h('p', { class: 'muted' }, 'Nothing is running low.'),
    h('h3', null, `Overstock & slow-moving (${overs.length})`),
    overs.length
      ? dataTable({ class: 'table compact', id: 'overstock-table' }, ['Item', ['On hand', 'num'], ['Value', 'num'], 'Why'],
        overs.slice(0, 6).map((r) => h('tr', { 'data-sku': r.sku },
          td([h('strong', null, r.sku), ' ', h('span', { class: 'muted' }, r.item_name)]),
          tdNum(fmtQty(r.on_hand)), tdNum(fmtMoney(r.value)),
          td(r.over_max ? `above max ${fmtQty(r.max_stock)}` : r.days_without_movement !== null && r.days_without_movement !== undefined ? `no movement for ${r.days_without_movement} days` : 'slow-moving'))))
      : h('p', { class: 'muted' }, 'No overstock.'),
  ];
}

const AGING_BUCKETS = [['Current', 'current'], ['1–30 days', '1_30'], ['31–60 days', '31_60'], ['61–90 days', '61_90'], ['Over 90 days', 'over_90']];

async function arCard(asOf) {
  const ag = await get('/reports/ar-aging' + qs({ as_of: asOf }));
  const t = ag.totals || {};
  const overdue = (ag.rows || [])
    .map((r) => ({ r, overdue: decAdd(r['1_30'], r['31_60'], r['61_90'], r.over_90) }))
    .filter((x) => decCmp(x.overdue, '0') > 0)
    .sort((a, b) => decCmp(b.overdue, a.overdue));
  return [
    figure(fmtMoney(t.total), `${ag.currency || baseCurrency()} outstanding`),
    hbarChart(AGING_BUCKETS.map(([label, key]) => ({ label, value: t[key], text: fmtMoney(t[key]) })), 'Receivables by age', chartWidth('card-ar', 560)),
    h('h3', null, `Overdue customers (${overdue.length})`),
    overdue.length
      ? dataTable({ class: 'table compact', id: 'overdue-table' }, ['Customer', ['Overdue', 'num'], ['Over 90', 'num'], ['Total', 'num']],
        overdue.slice(0, 8).map(({ r, overdue: o }) => h('tr', { 'data-party': r.code },
          td([h('strong', null, r.name), ' ', h('span', { class: 'muted' }, r.code)]),
          tdNum(fmtMoney(o)), tdNum(fmtMoney(r.over_90)), tdNum(fmtMoney(r.total)))))
      : h('p', { class: 'muted' }, 'No customer is overdue.'),
  ];
}

async function repurchaseCard(asOf) {
  const seg = await get('/reports/customer-segments' + qs({ as_of: asOf }));
  const rate = seg.repurchase_rate;
  return [
    figure(rate === null || rate === undefined ? '—' : fracPct(rate, 1), 'of buyers ordered again'),
    h('p', { class: 'figure-note' }, `${fmtInt(seg.repeat_buyers)} of ${plural(seg.buyers || 0, 'buyer')} bought more than once.`),
    (seg.segments || []).length
      ? h('ul', { class: 'chips' }, seg.segments.map((x) => h('li', null, badge(`${humanize(x.segment)}: ${x.customers}`, 'accent'))))
      : null,
  ];
}

async function funnelCard() {
  const f = await get('/reports/sales-funnel');
  const stages = (f.stages || []).filter((st) => st.kind !== 'lost');
  return [
    h('div', { class: 'kv' },
      kv('Open opportunities', fmtInt(f.open_count)),
      kv('Open amount', fmtMoney(f.open_amount)),
      kv('Weighted', fmtMoney(f.weighted_amount))),
    stages.length ? funnelChart(stages, chartWidth('card-funnel', 560)) : h('p', { class: 'muted' }, 'No pipeline stages yet.'),
  ];
}

const REASON_LABELS = { late: ['late', 'bad'], short_of_material: ['short of material', 'warn'] };

async function productionCard(asOf) {
  const alerts = rowsOf(await get('/reports/production-alerts' + qs({ as_of: asOf })));
  return [
    figure(String(alerts.length), alerts.length === 1 ? 'order late or short of material' : 'orders late or short of material'),
    alerts.length
      ? dataTable({ class: 'table compact', id: 'production-alerts-table' }, ['Order', 'Due', ['Done', 'num'], 'Issues'],
        alerts.slice(0, 10).map((a) => h('tr', { 'data-number': a.number },
          td([h('strong', null, a.number), ' ', h('span', { class: 'muted' }, humanize(a.status))]),
          td(fmtDate(a.due_date), 'nowrap'),
          tdNum(`${fmtQty(a.completed)} / ${fmtQty(a.quantity)}`),
          td((a.reasons || []).map((r) => { const [label, kind] = REASON_LABELS[r] || [humanize(r), '']; return [badge(label, kind), ' ']; })))))
      : h('p', { class: 'muted' }, 'All production orders are on track.'),
  ];
}

async function renderDashboard(ctx) {
  // The reports run to the server's today, the same day for every card (the browser's
  // clock and zone may differ): no as_of is sent.
  const asOf = undefined;
  const c = {
    sales: card('card-sales', 'Sales this month', 'wide'),
    topRevenue: card('card-top-revenue', 'Top products by revenue'),
    topMargin: card('card-top-margin', 'Top products by margin'),
    stock: card('card-stock', 'Stock'),
    ar: card('card-ar', 'Receivables'),
    repurchase: card('card-repurchase', 'Repurchase rate'),
    funnel: card('card-funnel', 'Sales funnel'),
    production: card('card-production', 'Production alerts'),
  };
  ctx.render(pageHead('Dashboard', `${tenantName()} · ${fmtDate(todayISO())}`), h('div', { class: 'cards' }, Object.values(c)));
  // Three cards share the one sales summary.
  const summary = get('/reports/sales-summary' + qs({ as_of: asOf }));
  summary.catch(() => { /* each card reports it */ });
  await Promise.allSettled([
    fill(c.sales, async () => salesCard(await summary)),
    fill(c.topRevenue, async () => topCard(await summary, 'revenue')),
    fill(c.topMargin, async () => topCard(await summary, 'margin')),
    fill(c.stock, stockCard),
    fill(c.ar, () => arCard(asOf)),
    fill(c.repurchase, () => repurchaseCard(asOf)),
    fill(c.funnel, funnelCard),
    fill(c.production, () => productionCard(asOf)),
  ]);
  if (ctx.alive && Object.values(c).every((el) => el.dataset.state === 'denied')) {
    c.production.insertAdjacentElement('afterend', empty('Your roles do not include any of the dashboard’s reports.'));
  }
  ctx.ready();
}

// ============================================================================ order trace

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function renderTraceList(ctx) {
  if (!guard(ctx, 'sales:read', 'Order trace')) return;
  const orders = rowsOf(await get('/sales-orders' + qs({ limit: 20, kind: 'order' })));
  if (!ctx.alive) return;

  const rows = orders.map((o) => h('tr', { 'data-number': o.number },
    td(h('a', { class: 'trace-link', href: '#/trace/' + encodeURIComponent(o.id), 'data-number': o.number }, o.number)),
    td(fmtDate(o.order_date), 'nowrap'),
    td(badge(humanize(o.status), statusKind(o.status))),
    tdNum(`${fmtMoney(o.gross_total)} ${o.currency}`)));

  const input = h('input', { name: 'number', type: 'search', placeholder: 'SO-000042', autocomplete: 'off', spellcheck: 'false' });
  // Typing narrows the recent list at once; submitting also searches older orders.
  input.addEventListener('input', () => {
    const q = input.value.trim().toLowerCase();
    rows.forEach((tr) => { tr.hidden = !!q && !tr.dataset.number.toLowerCase().includes(q); });
  });
  const search = form({ id: 'trace-search', role: 'search' },
    h('div', { class: 'search-row' },
      field('Order number', input),
      h('div', { class: 'form-actions' }, submitBtn('trace-search-submit', 'Trace'))),
    formError());
  onSubmit(search, async (fd) => {
    const q = str(fd, 'number');
    if (!q) throw invalid([{ field: 'number', message: 'Enter a sales order number.' }]);
    if (UUID_RE.test(q)) { go('#/trace/' + q); return; }
    const same = (o) => o.number.toLowerCase() === q.toLowerCase();
    let hit = orders.find(same);
    let cursor = null;
    for (let i = 0; !hit && i < 10; i++) {
      const b = await get('/sales-orders' + qs({ limit: 200, kind: 'order', cursor }));
      hit = rowsOf(b).find(same);
      cursor = b && b.next_cursor;
      if (!cursor) break;
    }
    if (!hit) throw invalid([{ field: 'number', message: `No sales order is numbered ${q}.` }]);
    go('#/trace/' + encodeURIComponent(hit.id));
  });

  ctx.render(
    pageHead('Order trace', 'Follow a sales order through delivery, invoicing, payment, production and purchasing.'),
    h('section', { class: 'panel' }, search),
    h('section', { class: 'panel' },
      h('h2', null, 'Recent sales orders'),
      orders.length
        ? dataTable({ id: 'trace-orders' }, ['Number', 'Date', 'Status', ['Total', 'num']], rows)
        : empty('No sales orders yet.')));
  ctx.ready();
}

const STAGES = [['ordered', 'Ordered'], ['delivered', 'Delivered'], ['invoiced', 'Invoiced'], ['paid', 'Paid']];

/** Which of ordered → delivered → invoiced → paid the order reached. `progress` says it for
 * open orders; a closed order's documents say it. Stages begun but not finished are partial. */
function stageStrip(t) {
  const o = t.order || {};
  const p = o.progress || o.status || '';
  const rank = { draft: 0, confirmed: 1, partly_delivered: 1, delivered: 2, invoiced: 3, paid: 4 }[p];
  const deliveries = (t.deliveries || []).filter((d) => d.kind !== 'return');
  const invoices = (t.invoices || []).filter((i) => i.kind !== 'credit_note' && i.status !== 'draft' && i.status !== 'cancelled');
  const allPaid = invoices.length > 0 && invoices.every((i) => i.open_amount !== null && i.open_amount !== undefined && decIsZero(i.open_amount));
  const byDocs = rank === undefined; // closed / cancelled: judge by the documents
  const reached = {
    ordered: o.status !== 'draft' && p !== 'draft',
    delivered: byDocs ? deliveries.length > 0 : rank >= 2,
    invoiced: byDocs ? invoices.length > 0 : rank >= 3,
    paid: byDocs ? allPaid : rank >= 4,
  };
  const partial = {
    ordered: false,
    delivered: p === 'partly_delivered' || deliveries.length > 0,
    invoiced: invoices.length > 0,
    paid: (t.payments || []).length > 0,
  };
  return h('ol', { class: 'stage-strip', id: 'trace-stages', 'aria-label': 'Progress' },
    STAGES.map(([key, label]) => {
      const part = !reached[key] && partial[key];
      return h('li', { class: [reached[key] && 'reached', part && 'partial'], 'data-stage': key, 'data-reached': reached[key] ? 'true' : part ? 'partial' : 'false' },
        label, part ? h('span', { class: 'small muted' }, ' (in part)') : null);
    }));
}

/** A trace section: a table, "None" when empty, or the permissions note when the server sent
 * null for it. */
function traceSection(id, title, rows, headers, rowFn, emptyText) {
  const sec = h('section', { id, class: 'panel trace-section' }, h('h2', null, title));
  if (rows === null) {
    sec.dataset.restricted = 'true';
    sec.appendChild(h('p', { class: 'muted restricted' }, 'Not visible with your permissions'));
  } else if (!rows || !rows.length) {
    sec.appendChild(h('p', { class: 'muted' }, emptyText || 'None.'));
  } else {
    sec.appendChild(dataTable({ class: 'table compact' }, headers, rows.map(rowFn)));
  }
  return sec;
}

async function renderTrace(ctx, id) {
  if (!guard(ctx, 'sales:read', 'Order trace')) return;
  const t = await get('/sales-orders/' + encodeURIComponent(id) + '/trace');
  if (!ctx.alive) return;
  const o = t.order || {};
  const cur = o.currency || '';
  const base = baseCurrency();
  const hasReturned = (t.lines || []).some((l) => l.returned !== undefined && l.returned !== null);
  const pct = (v) => (v === null || v === undefined ? '—' : fracPct(v));
  const flagBadges = (p) => [p.late ? badge('late', 'bad') : null];

  const profit = h('section', { class: 'panel' },
    h('h2', null, 'Profit'),
    h('dl', { id: 'trace-profit', class: 'profit' },
      h('div', { 'data-figure': 'revenue' }, h('dt', null, 'Revenue'), h('dd', null, fmtMoney(t.revenue))),
      h('div', { 'data-figure': 'cost_of_goods' }, h('dt', null, 'Cost of goods'), h('dd', null, fmtMoney(t.cost_of_goods))),
      h('div', { 'data-figure': 'margin' }, h('dt', null, 'Margin'), h('dd', { class: decNeg(t.margin) ? 'change down' : null }, fmtMoney(t.margin))),
      h('div', { 'data-figure': 'margin_percent' }, h('dt', null, 'Margin %'), h('dd', null, pct(t.margin_percent)))),
    h('p', { class: 'small muted' }, `In ${base || 'the base currency'}: revenue billed net of credit notes, cost of the goods issued.`));

  const timeline = h('section', { id: 'trace-timeline', class: 'panel' }, h('h2', null, 'Timeline'),
    (t.timeline || []).length
      ? h('ol', { class: 'timeline' }, t.timeline.map((e) => h('li', null,
        h('time', { datetime: e.at || e.date }, fmtWhen(e.at || e.date)),
        h('span', null, capitalize(e.what)),
        e.document ? [' ', h('span', { class: 'muted' }, e.document)] : null)))
      : h('p', { class: 'muted' }, 'Nothing has happened yet.'));

  ctx.render(h('div', { id: 'trace-view', 'data-order': o.number },
    h('section', { class: 'panel' },
      h('p', { class: 'small' }, h('a', { href: '#/trace' }, '← All orders')),
      h('div', { class: 'trace-head' },
        h('h1', { class: 'trace-number' }, o.number),
        h('span', { class: 'trace-customer' }, o.customer_name),
        badge(humanize(o.status), statusKind(o.status)),
        h('span', { class: 'trace-progress muted' }, humanize(o.progress))),
      h('p', { class: 'muted' }, `Ordered ${fmtDate(o.order_date)} · ${fmtMoney(o.gross_total)} ${cur}`),
      stageStrip(t)),
    profit,
    traceSection('trace-lines', 'Lines', t.lines || [],
      ['#', 'Item', ['Qty', 'num'], ['Shipped', 'num'], hasReturned ? ['Returned', 'num'] : null, ['Invoiced', 'num'], [`Net (${cur})`, 'num'], [`Cost (${base})`, 'num']].filter(Boolean),
      (l) => h('tr', { 'data-line': l.line_no },
        td(String(l.line_no)), td([h('strong', null, l.sku), ' ', h('span', { class: 'muted' }, l.name)]),
        tdNum(fmtQty(l.quantity)), tdNum(fmtQty(l.shipped)), hasReturned ? tdNum(fmtQty(l.returned)) : null,
        tdNum(fmtQty(l.invoiced)), tdNum(fmtMoney(l.net)), tdNum(fmtMoney(l.cost))),
      'No lines.'),
    traceSection('trace-deliveries', 'Deliveries', t.deliveries || [], ['Number', 'Kind', 'Date', [`Cost of goods (${base})`, 'num']],
      (d) => h('tr', { 'data-number': d.number || '' }, td(d.number || '—'), td(humanize(d.kind)), td(fmtDate(d.date), 'nowrap'), tdNum(fmtMoney(d.amount))),
      'Nothing delivered yet.'),
    traceSection('trace-invoices', 'Invoices', t.invoices || [], ['Number', 'Kind', 'Date', 'Status', [`Amount (${cur})`, 'num'], ['Open', 'num']],
      (i) => h('tr', { 'data-number': i.number || '' }, td(i.number || '(draft)'), td(humanize(i.kind)), td(fmtDate(i.date), 'nowrap'),
        td(badge(humanize(i.status), statusKind(i.status))), tdNum(fmtMoney(i.amount)), tdNum(fmtMoney(i.open_amount))),
      'Not invoiced yet.'),
    traceSection('trace-payments', 'Payments', t.payments || [], ['Kind', 'Date', ['Amount', 'num']],
      (p) => h('tr', null, td(humanize(p.kind)), td(fmtDate(p.date), 'nowrap'), tdNum(fmtMoney(p.amount))),
      'No payments yet.'),
    traceSection('trace-production', 'Production orders', t.production_orders === undefined ? [] : t.production_orders,
      ['Number', 'SKU', ['Qty', 'num'], ['Completed', 'num'], 'Status', 'Due', '', [`Material (${base})`, 'num']],
      (p) => h('tr', { 'data-number': p.number, class: p.late ? 'flagged' : null },
        td(p.number), td(p.sku), tdNum(fmtQty(p.quantity)), tdNum(fmtQty(p.completed)),
        td(badge(humanize(p.status), statusKind(p.status))), td(fmtDate(p.due_date), 'nowrap'), td(flagBadges(p)), tdNum(fmtMoney(p.material_cost))),
      'No production orders were made for this order.'),
    traceSection('trace-purchases', 'Purchases', t.purchases === undefined ? [] : t.purchases,
      ['Kind', 'Number', 'Status', 'SKU', ['Qty', 'num'], ['Amount', 'num'], 'Supplier'],
      (p) => h('tr', { 'data-number': p.number },
        td(p.kind === 'purchase_order' ? 'Purchase order' : p.kind === 'purchase_request' ? 'Purchase request' : humanize(p.kind)),
        td(p.number), td(badge(humanize(p.status), statusKind(p.status))), td(p.sku || '—'),
        tdNum(p.quantity ? fmtQty(p.quantity) : '—'), tdNum(p.amount ? `${fmtMoney(p.amount)} ${p.currency || ''}`.trim() : '—'), td(p.supplier || '—')),
      'No purchases were raised for this order.'),
    timeline));
  ctx.ready();
}

// ============================================================================ approvals inbox

const BOXES = [['waiting', 'Waiting for me'], ['submitted', 'Submitted by me'], ['decided', 'Decided by me']];

async function renderApprovals(ctx) {
  if (!guard(ctx, 'approvals:read', 'Approvals')) return;
  // Deciding needs approvals:write on the server (approve/reject/return all take it).
  const canDecide = canWrite('approvals:write');
  const base = baseCurrency();
  let box = 'waiting';
  const statsBox = h('div');
  const listBox = h('div');
  const msgBox = h('div');
  const tabs = h('div', { class: 'tabs', role: 'tablist' });

  function drawTabs() {
    tabs.replaceChildren(...BOXES.map(([key, label]) => h('button', {
      type: 'button', role: 'tab', 'data-box': key, class: key === box ? 'active' : null, 'aria-selected': key === box ? 'true' : 'false',
      onclick: () => { box = key; drawTabs(); reload().catch(showError); },
    }, label)));
  }

  async function decide(req, action) {
    msgBox.replaceChildren();
    let comment = null;
    if (action !== 'approve') {
      const asked = window.prompt(action === 'reject' ? `Reject ${req.number}: why?` : `Return ${req.number} for changes: what should change?`);
      if (asked === null) return;
      comment = asked.trim();
      if (!comment) { msgBox.replaceChildren(notice('error', 'A reason is required to reject or return.')); return; }
    }
    try {
      await api('POST', `/approval-requests/${encodeURIComponent(req.id)}/${action}`, { comment });
      toast(`${req.number} ${action === 'approve' ? 'approved' : action === 'reject' ? 'rejected' : 'returned'}.`);
      await reload();
    } catch (err) {
      if (!ctx.alive) return;
      msgBox.replaceChildren(notice('error', problemText(err)));
    }
  }

  function requestRow(r) {
    const actions = box === 'waiting' && canDecide && r.status === 'pending'
      ? td([
        button('Approve', () => decide(r, 'approve'), 'btn btn-sm btn-primary approve'),
        button('Reject', () => decide(r, 'reject'), 'btn btn-sm btn-danger reject'),
        button('Return', () => decide(r, 'return'), 'btn btn-sm return'),
      ], 'actions')
      : null;
    return h('tr', { 'data-request': r.number, 'data-id': r.id },
      td(h('strong', null, r.number)),
      td([humanize(r.document_kind), ' ', h('span', { class: 'muted' }, r.document_number)]),
      td(r.summary),
      tdNum(`${fmtMoney(r.amount)}${base ? ' ' + base : ''}`),
      td((r.requester && (r.requester.name || r.requester.id)) || '—'),
      td(fmtDateTime(r.submitted_at), 'nowrap'),
      td([badge(humanize(r.status), statusKind(r.status)), r.current_step ? h('div', { class: 'small muted' }, r.current_step) : null,
        r.comment ? h('div', { class: 'small muted' }, r.comment) : null]),
      actions || (box === 'waiting' && canDecide ? td('', 'actions') : null));
  }

  async function reload() {
    ctx.loading();
    const [counts, list] = await Promise.all([get('/approval-inbox'), get('/approval-requests' + qs({ box, limit: 100 }))]);
    if (!ctx.alive) return;
    statsBox.replaceChildren(h('div', { class: 'stats', id: 'approval-counts' },
      h('div', { class: 'stat', 'data-count': 'waiting' }, h('div', { class: 'stat-value' }, fmtInt(counts.waiting)), h('div', { class: 'stat-label' }, 'Waiting for your decision')),
      h('div', { class: 'stat', 'data-count': 'submitted_pending' }, h('div', { class: 'stat-value' }, fmtInt(counts.submitted_pending)), h('div', { class: 'stat-label' }, 'Your requests still pending')),
      h('div', { class: 'stat', 'data-count': 'decided' }, h('div', { class: 'stat-value' }, fmtInt(counts.decided)), h('div', { class: 'stat-label' }, 'Decided by you'))));
    const rows = rowsOf(list);
    const headers = ['Request', 'Document', 'Summary', ['Amount', 'num'], 'Requester', 'Submitted', 'Status'];
    if (box === 'waiting' && canDecide) headers.push('');
    listBox.replaceChildren(rows.length
      ? dataTable({ id: 'approvals-table' }, headers, rows.map(requestRow))
      : empty(box === 'waiting' ? 'Nothing is waiting for you.' : 'No requests here.'));
    ctx.ready();
  }

  function showError(err) {
    if (!ctx.alive || (err && err.problem && err.problem.sessionEnded)) return;
    msgBox.replaceChildren(notice('error', problemText(err)));
    ctx.ready();
  }

  drawTabs();
  ctx.render(
    pageHead('Approvals', canDecide ? 'Requests waiting for your decision.' : 'Requests routed through approval flows.'),
    statsBox,
    h('section', { class: 'panel' }, tabs, msgBox, listBox));
  await reload();
}

// ============================================================================ shared list helpers

/** A table that always exists (tests and people can rely on its id); when there are no rows
 * it holds one row with the empty-state text. Null headers are dropped. */
function listTable(attrs, headers, rows, emptyText) {
  const hs = headers.filter((x) => x !== null && x !== undefined);
  const body = rows.length ? rows : [h('tr', { class: 'empty-row' }, h('td', { colspan: hs.length, class: 'empty-cell' }, emptyText))];
  return dataTable(attrs, hs, body);
}

/** An error handler for actions after the first render: shows the problem in `box`. */
function reporter(ctx, box) {
  return (err) => {
    if (!ctx.alive || (err && err.problem && err.problem.sessionEnded)) return;
    if (!(err instanceof ProblemError)) console.error(err);
    box.replaceChildren(notice('error', problemText(err)));
    ctx.ready();
  };
}

function markSelected(table, attr, value) {
  if (!table) return;
  for (const tr of table.querySelectorAll('tbody tr')) tr.classList.toggle('selected', value !== null && tr.getAttribute(attr) === value);
}

const roleCheckItems = (roles, selectedIds) => roles.map((r) => ({
  value: r.id, label: r.name, checked: selectedIds.has(r.id), attrs: { 'data-role-name': r.name },
}));

// ============================================================================ users

async function renderUsers(ctx) {
  if (!guard(ctx, 'admin:read', 'Users')) return;
  const canW = canWrite('admin:write');
  const formBox = h('div');
  const msgBox = h('div');
  const tableBox = h('div');
  const fail = reporter(ctx, msgBox);
  let roles = [];

  const closeForm = () => { formBox.replaceChildren(); markSelected($('#users-table'), 'data-email', null); };

  function showNewUser() {
    msgBox.replaceChildren();
    const f = form({ id: 'user-form', class: 'panel form-card' },
      h('h2', null, 'New user'),
      h('div', { class: 'form-grid three' },
        field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'off' })),
        field('Display name', h('input', { name: 'display_name', type: 'text', autocomplete: 'off' })),
        field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'new-password' }), 'At least 10 characters; they can change it later.')),
      h('fieldset', null, h('legend', null, 'Roles'), checkGroup('role_ids', roleCheckItems(roles, new Set()))),
      formError(),
      h('div', { class: 'form-actions' }, submitBtn('user-submit', 'Create user'), button('Cancel', closeForm)));
    onSubmit(f, async (fd) => {
      const r = await api('POST', '/users', {
        email: str(fd, 'email'),
        display_name: str(fd, 'display_name'),
        password: fd.get('password') || '',
        role_ids: checkedValues(f, 'role_ids'),
      });
      closeForm();
      toast(`${r.body.email} can now sign in.`);
      await reload();
    });
    formBox.replaceChildren(f);
    f.elements.email.focus();
  }

  function showEditRoles(u) {
    msgBox.replaceChildren();
    const f = form({ id: 'user-roles-form', class: 'panel form-card', 'data-email': u.email },
      h('h2', null, `Roles of ${u.display_name || u.email}`),
      h('fieldset', null, h('legend', null, 'Roles'), checkGroup('role_ids', roleCheckItems(roles, new Set((u.roles || []).map((r) => r.id))))),
      formError(),
      h('div', { class: 'form-actions' }, submitBtn('user-roles-submit', 'Save roles'), button('Cancel', closeForm)));
    onSubmit(f, async () => {
      await api('PATCH', `/users/${encodeURIComponent(u.id)}`, { role_ids: checkedValues(f, 'role_ids') }, { etag: etagOf(u) });
      closeForm();
      toast(`Roles of ${u.email} saved.`);
      await reload();
    });
    formBox.replaceChildren(f);
    markSelected($('#users-table'), 'data-email', u.email);
    f.scrollIntoView({ block: 'nearest' });
  }

  async function setActive(u, active, btn) {
    msgBox.replaceChildren();
    btn.disabled = true;
    try {
      await api('PATCH', `/users/${encodeURIComponent(u.id)}`, { is_active: active }, { etag: etagOf(u) });
      toast(active ? `${u.email} is active again.` : `${u.email} is deactivated and signed out.`);
      await reload();
    } catch (err) {
      btn.disabled = false;
      fail(err);
    }
  }

  function row(u) {
    return h('tr', { 'data-email': u.email, 'data-id': u.id, class: u.is_active ? null : 'is-inactive' },
      td(u.email, 'email'),
      td(u.display_name, 'name'),
      td((u.roles || []).map((r) => r.name).join(', '), 'roles'),
      td(badge(u.is_active ? 'active' : 'inactive', u.is_active ? 'ok' : ''), 'active'),
      canW ? td([
        button('Edit roles', () => showEditRoles(u), 'btn btn-sm edit-roles'),
        u.is_active
          ? button('Deactivate', (ev) => setActive(u, false, ev.currentTarget), 'btn btn-sm btn-danger deactivate')
          : button('Activate', (ev) => setActive(u, true, ev.currentTarget), 'btn btn-sm activate'),
      ], 'actions') : null);
  }

  async function reload() {
    ctx.loading();
    const [users, rs] = await Promise.all([fetchAll('/users'), fetchAll('/roles')]);
    if (!ctx.alive) return;
    roles = rs;
    tableBox.replaceChildren(listTable({ id: 'users-table' }, ['Email', 'Name', 'Roles', 'Status', canW ? '' : null], users.map(row), 'No users yet.'));
    ctx.ready();
  }

  ctx.render(
    pageHead('Users', `People who can sign in to ${tenantName()}.`,
      canW ? h('button', { type: 'button', id: 'new-user', class: 'btn btn-primary', onclick: showNewUser }, 'New user') : null),
    msgBox, formBox, tableBox);
  await reload();
}

// ============================================================================ roles

const MODULES = [
  ['admin', 'Admin'], ['audit', 'Audit log'], ['finance', 'Finance'], ['inventory', 'Inventory'],
  ['sales', 'Sales'], ['purchasing', 'Purchasing'], ['crm', 'CRM'], ['production', 'Production'],
  ['approvals', 'Approvals'], ['plugins', 'Plugins'],
];
const ACTIONS = ['read', 'write', 'approve'];

/** The permission grid: modules down, read/write/approve across. */
function permGrid(selected, disabled) {
  return h('div', { class: 'checks perm-wrap', 'data-group': 'permissions' },
    h('div', { class: 'table-wrap' },
      h('table', { class: 'perm-grid' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Module'), ACTIONS.map((a) => h('th', { scope: 'col' }, capitalize(a))))),
        h('tbody', null, MODULES.map(([m, label]) => h('tr', { 'data-module': m },
          h('th', { scope: 'row' }, label),
          ACTIONS.map((a) => h('td', null, h('input', {
            type: 'checkbox', name: 'permissions', value: `${m}:${a}`, checked: selected.has(`${m}:${a}`), disabled,
            'aria-label': `${label}: ${a}`, title: `${m}:${a}`,
          })))))))));
}

async function renderRoles(ctx) {
  if (!guard(ctx, 'admin:read', 'Roles')) return;
  const canW = canWrite('admin:write');
  const formBox = h('div');
  const msgBox = h('div');
  const tableBox = h('div');
  const fail = reporter(ctx, msgBox);

  const closeForm = () => { formBox.replaceChildren(); markSelected($('#roles-table'), 'data-role', null); };

  async function deleteRole(role) {
    if (!window.confirm(`Delete the role “${role.name}”?`)) return;
    msgBox.replaceChildren();
    try {
      await api('DELETE', `/roles/${encodeURIComponent(role.id)}`);
      closeForm();
      toast(`Role ${role.name} deleted.`);
      await reload();
    } catch (err) { fail(err); }
  }

  /** The role form: new (role null), edit (custom role, admin:write) or view (built-in). */
  function openRole(role) {
    msgBox.replaceChildren();
    const editable = canW && (!role || !role.is_builtin);
    const f = form({ id: 'role-form', class: 'panel form-card', 'data-role': role ? role.name : null, 'data-mode': !role ? 'new' : editable ? 'edit' : 'view' },
      h('h2', null, !role ? 'New role' : editable ? `Edit role ${role.name}` : `Role ${role.name}`),
      role && role.is_builtin ? notice('warn', 'Built-in roles cannot be changed. Create a custom role for a different set of permissions.') : null,
      h('div', { class: 'form-grid' },
        field('Name', h('input', { name: 'name', type: 'text', value: role ? role.name : '', disabled: !editable })),
        field('Description', h('input', { name: 'description', type: 'text', value: role ? role.description : '', disabled: !editable }))),
      h('fieldset', null, h('legend', null, 'Permissions'), permGrid(new Set(role ? role.permissions : []), !editable)),
      formError(),
      h('div', { class: 'form-actions' },
        editable ? submitBtn('role-submit', role ? 'Save role' : 'Create role') : null,
        editable && role ? button('Delete role', () => deleteRole(role), 'btn btn-danger', { id: 'role-delete' }) : null,
        button(editable ? 'Cancel' : 'Close', closeForm)));
    if (editable) {
      onSubmit(f, async (fd) => {
        const body = { name: str(fd, 'name'), description: str(fd, 'description'), permissions: checkedValues(f, 'permissions') };
        if (role) await api('PATCH', `/roles/${encodeURIComponent(role.id)}`, body, { etag: etagOf(role) });
        else await api('POST', '/roles', body);
        closeForm();
        toast(role ? `Role ${body.name} saved.` : `Role ${body.name} created.`);
        await reload();
      });
    }
    formBox.replaceChildren(f);
    markSelected($('#roles-table'), 'data-role', role ? role.name : null);
    f.scrollIntoView({ block: 'nearest' });
    if (editable) f.elements.name.focus();
  }

  function row(r) {
    const open = () => openRole(r);
    return h('tr', {
      'data-role': r.name, 'data-id': r.id, class: 'clickable', tabindex: 0,
      onclick: open, onkeydown: (ev) => { if (ev.key === 'Enter') open(); },
    },
    td([h('strong', null, r.name), r.is_builtin ? [' ', badge('built-in')] : null], 'name'),
    td(r.description || '—', 'description'),
    tdNum(String((r.permissions || []).length)));
  }

  async function reload() {
    ctx.loading();
    const roles = await fetchAll('/roles');
    if (!ctx.alive) return;
    tableBox.replaceChildren(listTable({ id: 'roles-table' }, ['Role', 'Description', ['Permissions', 'num']], roles.map(row), 'No roles yet.'));
    ctx.ready();
  }

  ctx.render(
    pageHead('Roles', 'A role is a named set of permissions; users and API keys act with the union of their roles.',
      canW ? h('button', { type: 'button', id: 'new-role', class: 'btn btn-primary', onclick: () => openRole(null) }, 'New role') : null),
    msgBox, formBox, tableBox);
  await reload();
}

// ============================================================================ API keys

async function renderApiKeys(ctx) {
  if (!guard(ctx, 'admin:read', 'API keys')) return;
  const canW = canWrite('admin:write');
  const secretBox = h('div');
  const formBox = h('div');
  const msgBox = h('div');
  const tableBox = h('div');
  const fail = reporter(ctx, msgBox);
  let roles = [];

  const closeForm = () => formBox.replaceChildren();

  function showSecret(key) {
    const copy = () => {
      if (navigator.clipboard) navigator.clipboard.writeText(key.secret).then(() => toast('Copied to the clipboard.'), () => toast('Copy failed: select the key and copy it.'));
    };
    secretBox.replaceChildren(h('div', { class: 'secret-box', role: 'alert' },
      h('strong', null, `API key “${key.name}” created`),
      h('p', null, 'Copy this secret now and store it safely. It will not be shown again.'),
      h('code', { id: 'api-key-secret' }, key.secret),
      h('div', { class: 'btn-row' },
        navigator.clipboard ? button('Copy', copy, 'btn btn-sm', { id: 'api-key-copy' }) : null,
        button('I have stored it', () => secretBox.replaceChildren(), 'btn btn-sm btn-ghost'))));
  }

  function showNewKey() {
    msgBox.replaceChildren();
    const f = form({ id: 'api-key-form', class: 'panel form-card' },
      h('h2', null, 'New API key'),
      h('div', { class: 'form-grid' },
        field('Name', h('input', { name: 'name', type: 'text', autocomplete: 'off', placeholder: 'e.g. Warehouse scanner' })),
        field('Expires', h('input', { name: 'expires_at', type: 'date', min: todayISO() }), 'Optional; the key stops working at the end of that day.')),
      h('fieldset', null, h('legend', null, 'Roles'), checkGroup('role_ids', roleCheckItems(roles, new Set()))),
      formError(),
      h('div', { class: 'form-actions' }, submitBtn('api-key-submit', 'Create key'), button('Cancel', closeForm)));
    onSubmit(f, async (fd) => {
      const day = str(fd, 'expires_at');
      const d = day ? toDate(day) : null;
      if (d) d.setHours(23, 59, 59, 0);
      const r = await api('POST', '/api-keys', {
        name: str(fd, 'name'),
        role_ids: checkedValues(f, 'role_ids'),
        expires_at: d ? d.toISOString() : null,
      });
      closeForm();
      showSecret(r.body);
      await reload();
    });
    formBox.replaceChildren(f);
    f.elements.name.focus();
  }

  async function revoke(k, btn) {
    if (!window.confirm(`Revoke the API key “${k.name}”? Programs using it stop working at once.`)) return;
    msgBox.replaceChildren();
    btn.disabled = true;
    try {
      await api('POST', `/api-keys/${encodeURIComponent(k.id)}/revoke`);
      toast(`API key ${k.name} revoked.`);
      await reload();
    } catch (err) {
      btn.disabled = false;
      fail(err);
    }
  }

  function row(k) {
    return h('tr', { 'data-key': k.name, 'data-id': k.id, class: k.status === 'active' ? null : 'is-inactive' },
      td(h('strong', null, k.name), 'name'),
      td((k.roles || []).map((r) => r.name).join(', ') || '—', 'roles'),
      td(badge(k.status, statusKind(k.status)), 'status'),
      td(k.expires_at ? fmtDateTime(k.expires_at) : 'Never', 'nowrap'),
      td(fmtDateTime(k.created_at), 'nowrap'),
      canW ? td(k.status === 'active' ? button('Revoke', (ev) => revoke(k, ev.currentTarget), 'btn btn-sm btn-danger revoke') : null, 'actions') : null);
  }

  async function reload() {
    ctx.loading();
    const [keys, rs] = await Promise.all([fetchAll('/api-keys'), fetchAll('/roles')]);
    if (!ctx.alive) return;
    roles = rs;
    tableBox.replaceChildren(listTable({ id: 'api-keys-table' }, ['Name', 'Roles', 'Status', 'Expires', 'Created', canW ? '' : null], keys.map(row), 'No API keys yet.'));
    ctx.ready();
  }

  ctx.render(
    pageHead('API keys', 'Keys let other programs use the API with the permissions of their roles.',
      canW ? h('button', { type: 'button', id: 'new-api-key', class: 'btn btn-primary', onclick: showNewKey }, 'New API key') : null),
    secretBox, msgBox, formBox, tableBox);
  await reload();
}

// ============================================================================ plugins

/** base64 of a (possibly several MB) file. Chunks are a multiple of 3 bytes so each chunk's
 * base64 can be concatenated, and no single String.fromCharCode call gets too many args. */
function bytesToBase64(bytes) {
  const CHUNK = 3 * 8192;
  const parts = [];
  for (let i = 0; i < bytes.length; i += CHUNK) {
    parts.push(btoa(String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK))));
  }
  return parts.join('');
}

const pluginHref = (name) => '#/plugins/' + encodeURIComponent(name);

async function renderPlugins(ctx) {
  if (!guard(ctx, 'plugins:read', 'Plugins')) return;
  const canW = canWrite('plugins:write');
  const plugins = rowsOf(await get('/plugins'));
  if (!ctx.alive) return;

  const rows = plugins.map((p) => h('tr', { 'data-plugin': p.name },
    td([h('a', { href: pluginHref(p.name) }, h('strong', null, p.name)), p.description ? h('div', { class: 'small muted' }, p.description) : null], 'name'),
    td(p.active_version, 'version'),
    td(badge(p.enabled ? 'enabled' : 'disabled', p.enabled ? 'ok' : ''), 'status'),
    td((p.hooks || []).join(', ') || '—', 'hooks'),
    tdNum(String(p.consecutive_failures || 0))));

  let upload = null;
  if (canW) {
    const f = form({ id: 'plugin-upload-form' },
      h('div', { class: 'form-grid' },
        field('Manifest (manifest.json)', h('input', { type: 'file', name: 'manifest', accept: '.json,application/json' })),
        field('Component (.wasm)', h('input', { type: 'file', name: 'component', accept: '.wasm,application/wasm' }))),
      formError(),
      h('div', { class: 'form-actions' }, submitBtn('plugin-upload-submit', 'Upload')));
    onSubmit(f, async () => {
      const mf = f.elements.manifest.files[0];
      const cf = f.elements.component.files[0];
      const errs = [];
      let manifest = null;
      if (!mf) errs.push({ field: 'manifest', message: 'Choose the plugin’s manifest.json.' });
      else {
        try {
          manifest = JSON.parse(await mf.text());
          if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest)) throw new Error('it must be a JSON object');
        } catch (e) {
          errs.push({ field: 'manifest', message: `This is not a JSON manifest: ${e.message}` });
        }
      }
      if (!cf) errs.push({ field: 'component', message: 'Choose the plugin’s .wasm component.' });
      if (errs.length) throw invalid(errs);
      const component = bytesToBase64(new Uint8Array(await cf.arrayBuffer()));
      let r;
      try {
        r = await api('POST', '/plugins', { manifest, component });
      } catch (err) {
        // The server caps request bodies (1 MiB by default); base64 adds a third.
        if (err.status === 413) throw invalid([{ field: 'component', message: `The component (${Math.ceil(cf.size / 1024)} KB) is larger than the server accepts in one upload.` }]);
        throw err;
      }
      toast(`${r.body.name} ${r.body.active_version} uploaded.`);
      go(pluginHref(r.body.name));
    });
    upload = h('section', { class: 'panel', id: 'plugin-upload' },
      h('h2', null, 'Upload a plugin'),
      h('p', { class: 'muted small' }, 'A plugin is its manifest.json and its WebAssembly component. Uploading a new version of a plugin makes it the active version; a new plugin starts disabled.'),
      f);
  }

  ctx.render(
    pageHead('Plugins', 'Extensions that run inside Meridian, sandboxed, with only the capabilities you grant.'),
    h('section', { class: 'panel' }, listTable({ id: 'plugins-table' }, ['Plugin', 'Version', 'Status', 'Hooks', ['Failures', 'num']], rows, 'No plugins yet.')),
    upload);
  ctx.ready();
}

const OUTCOMES = ['all', 'ok', 'vetoed', 'failed'];

async function renderPlugin(ctx, name) {
  if (!guard(ctx, 'plugins:read', 'Plugin')) return;
  const canW = canWrite('plugins:write');
  const base = '/plugins/' + encodeURIComponent(name);
  let p = await get(base);
  if (!ctx.alive) return;

  const msgBox = h('div');
  const fail = reporter(ctx, msgBox);
  const main = h('div');
  const invBox = h('div');

  /** Runs one plugin action and redraws with the plugin it returns. */
  async function act(btn, run, done) {
    msgBox.replaceChildren();
    btn.disabled = true;
    try {
      const r = await run();
      p = r.body;
      draw();
      toast(done);
    } catch (err) {
      btn.disabled = false;
      fail(err);
    }
  }

  function capabilitiesPanel() {
    const requested = p.requested_capabilities || [];
    const granted = new Set(p.granted_capabilities || []);
    const panel = h('section', { class: 'panel', id: 'plugin-capabilities' },
      h('h2', null, 'Capabilities'),
      h('p', { class: 'muted small' }, 'What the plugin may do besides answering its hooks. It gets only what is granted when it is enabled.'),
      requested.length
        ? checkGroup('capabilities', requested.map((c) => ({ value: c, label: c, checked: p.enabled ? granted.has(c) : true, disabled: !canW })))
        : h('p', { class: 'muted' }, 'This plugin asks for no capabilities.'));
    if (canW) {
      const caps = () => $$('input[name="capabilities"]', panel).filter((el) => el.checked).map((el) => el.value);
      panel.appendChild(h('div', { class: 'form-actions' },
        h('button', {
          type: 'button', id: 'plugin-enable', class: 'btn btn-primary',
          onclick: (ev) => act(ev.currentTarget, () => api('POST', base + '/enable', { capabilities: caps() }), `${p.name} is enabled.`),
        }, p.enabled ? 'Save grants' : 'Enable'),
        h('button', {
          type: 'button', id: 'plugin-disable', class: 'btn',
          onclick: (ev) => act(ev.currentTarget, () => api('POST', base + '/disable'), `${p.name} is disabled.`),
        }, 'Disable')));
    }
    return panel;
  }

  function versionsPanel() {
    const versions = p.versions || [];
    const others = versions.filter((v) => v.version !== p.active_version);
    let rollback = null;
    if (canW && others.length) {
      const select = h('select', { id: 'plugin-rollback-version', name: 'version', value: p.previous_version && others.some((v) => v.version === p.previous_version) ? p.previous_version : others[0].version },
        others.map((v) => h('option', { value: v.version }, v.version)));
      rollback = h('div', { class: 'search-row' },
        field('Make another version active', select),
        h('div', { class: 'form-actions' }, h('button', {
          type: 'button', id: 'plugin-rollback', class: 'btn',
          onclick: (ev) => act(ev.currentTarget, () => api('POST', base + '/rollback', { version: select.value }), `${p.name} rolled back to ${select.value}.`),
        }, 'Roll back')));
    }
    return h('section', { class: 'panel', id: 'plugin-versions' },
      h('h2', null, 'Versions'),
      listTable({ class: 'table compact' }, ['Version', 'SDK', ['Size', 'num'], 'SHA-256', 'Uploaded'],
        versions.map((v) => h('tr', { 'data-version': v.version },
          td([v.version, v.version === p.active_version ? [' ', badge('active', 'accent')] : null]),
          td(v.sdk || '—'), tdNum(`${fmtDec(String(Math.ceil((v.size_bytes || 0) / 1024)))} KB`),
          td(h('span', { class: 'mono', title: v.sha256 }, (v.sha256 || '').slice(0, 16) + '…')),
          td(fmtDateTime(v.uploaded_at), 'nowrap'))),
        'No versions.'),
      rollback);
  }

  function settingsPanel() {
    const declared = Array.isArray(p.declared_settings) ? p.declared_settings.filter((d) => d && d.key) : [];
    const values = p.settings || {};
    const keys = declared.map((d) => d.key).concat(Object.keys(values).filter((k) => !declared.some((d) => d.key === k)));
    const spec = (k) => declared.find((d) => d.key === k) || {};
    const f = form({ id: 'plugin-settings-form' },
      keys.length
        ? h('div', { class: 'form-grid' }, keys.map((k) => {
          const sp = spec(k);
          return field(k, h('input', {
            name: k, type: 'text', value: values[k] !== undefined ? values[k] : '', disabled: !canW,
            placeholder: sp.default !== undefined && sp.default !== '' ? `default: ${sp.default}` : null,
            inputmode: sp.decimal ? 'decimal' : null,
          }), [sp.description, sp.decimal ? ' (a number)' : ''].filter(Boolean).join('') || null);
        }))
        : h('p', { class: 'muted' }, 'This plugin has no settings.'),
      formError(),
      canW && keys.length ? h('div', { class: 'form-actions' }, submitBtn('plugin-settings-submit', 'Save settings')) : null);
    onSubmit(f, async (fd) => {
      // Empty means "use the manifest's default", so it is left out.
      const settings = {};
      for (const k of keys) { const v = str(fd, k); if (v !== '') settings[k] = v; }
      const r = await api('PUT', base + '/settings', { settings });
      p = r.body;
      draw();
      toast('Settings saved.');
    });
    return h('section', { class: 'panel', id: 'plugin-settings' }, h('h2', null, 'Settings'), f);
  }

  function draw() {
    main.replaceChildren(
      h('section', { class: 'panel' },
        h('p', { class: 'small' }, h('a', { href: '#/plugins' }, '← All plugins')),
        h('div', { class: 'trace-head' },
          h('h1', { class: 'plugin-name' }, p.name),
          h('strong', { id: 'plugin-status', class: p.enabled ? 'enabled' : 'disabled' }, p.enabled ? 'enabled' : 'disabled')),
        p.description ? h('p', { class: 'plugin-description' }, p.description) : null,
        !p.enabled && p.disabled_reason ? notice('warn', p.disabled_reason) : null,
        p.consecutive_failures > 0 ? notice('warn', `${plural(p.consecutive_failures, 'failure')} in a row.`) : null,
        h('div', { class: 'meta-grid' },
          h('div', null, h('span', null, 'Active version'), h('strong', { class: 'version' }, p.active_version)),
          h('div', null, h('span', null, 'Previous version'), h('strong', null, p.previous_version || '—')),
          h('div', null, h('span', null, 'Hooks'), h('strong', null, (p.hooks || []).join(', ') || '—')),
          h('div', null, h('span', null, 'Granted'), h('strong', null, (p.granted_capabilities || []).join(', ') || 'nothing')),
          h('div', null, h('span', null, 'Updated'), h('strong', null, fmtDateTime(p.updated_at))))),
      capabilitiesPanel(),
      settingsPanel(),
      versionsPanel());
  }

  // ---- invocations: newest first, filtered by outcome, paged with next_cursor
  let outcome = 'all';
  let cursor = null;
  const tbody = h('tbody');
  const more = h('button', { type: 'button', id: 'plugin-invocations-more', class: 'btn', hidden: true }, 'Load more');
  const invTable = h('div', { class: 'table-wrap' }, h('table', { class: 'table compact', id: 'plugin-invocations' },
    h('thead', null, h('tr', null, ['Time', 'Hook', 'Subject', 'Outcome', ['Duration', 'num'], ['Fuel', 'num'], 'Error'].map((x) => (Array.isArray(x) ? h('th', { class: x[1] }, x[0]) : h('th', null, x))))),
    tbody));

  function invRow(i) {
    const logs = Array.isArray(i.logs) ? i.logs : [];
    return h('tr', { class: 'invocation', 'data-outcome': i.outcome, 'data-id': i.id },
      td(fmtDateTime(i.started_at), 'nowrap'),
      td([i.hook, h('div', { class: 'small muted' }, i.version)]),
      td(i.subject || '—'),
      td(badge(i.outcome, statusKind(i.outcome)), 'outcome'),
      tdNum(fmtDuration(i.duration_us)),
      tdNum(fmtInt(i.fuel)),
      td([i.error || (logs.length ? '' : '—'),
        logs.length ? h('details', null, h('summary', null, plural(logs.length, 'log line')), h('pre', { class: 'mono' }, logs.map((l) => JSON.stringify(l)).join('\n'))) : null], 'error'));
  }

  async function loadInvocations(append) {
    ctx.loading();
    const b = await get(base + '/invocations' + qs({ outcome: outcome === 'all' ? null : outcome, limit: 50, cursor: append ? cursor : null }));
    if (!ctx.alive) return;
    const rows = rowsOf(b).map(invRow);
    if (!append) tbody.replaceChildren();
    if (!append && !rows.length) tbody.appendChild(h('tr', { class: 'empty-row' }, h('td', { colspan: 7, class: 'empty-cell' }, 'No invocations yet.')));
    tbody.append(...rows);
    cursor = b && b.next_cursor;
    more.hidden = !cursor;
    ctx.ready();
  }
  const filter = h('select', { name: 'outcome', id: 'plugin-invocations-outcome', value: 'all' }, OUTCOMES.map((o) => h('option', { value: o }, o)));
  filter.addEventListener('change', () => { outcome = filter.value; loadInvocations(false).catch(fail); });
  more.addEventListener('click', () => loadInvocations(true).catch(fail));
  invBox.append(h('section', { class: 'panel', id: 'plugin-invocations-panel' },
    h('div', { class: 'panel-head' }, h('h2', null, 'Recent invocations'), h('label', { class: 'field' }, h('span', { class: 'label' }, 'Outcome'), filter)),
    invTable,
    h('div', { class: 'table-foot' }, more)));

  draw();
  ctx.render(msgBox, main, invBox);
  await loadInvocations(false);
}

// ============================================================================ audit log

/** Stable JSON for comparing values regardless of key order. */
function stable(v) {
  if (Array.isArray(v)) return '[' + v.map(stable).join(',') + ']';
  if (v && typeof v === 'object') return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + stable(v[k])).join(',') + '}';
  return JSON.stringify(v === undefined ? null : v);
}
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Pretty JSON in a <pre>; when both sides are objects, top-level keys whose value differs
 * from the other side are wrapped in span.changed. Built as text nodes, never as HTML. */
function jsonBlock(value, other, cls) {
  const pre = h('pre', { class: cls });
  if (value === null || value === undefined) {
    pre.textContent = '—';
    pre.classList.add('none');
    return pre;
  }
  if (!isObj(value) || !isObj(other)) {
    pre.textContent = JSON.stringify(value, null, 2);
    return pre;
  }
  const keys = Object.keys(value);
  pre.append('{\n');
  keys.forEach((k, i) => {
    const changed = !(k in other) || stable(value[k]) !== stable(other[k]);
    const text = '  ' + JSON.stringify(k) + ': ' + JSON.stringify(value[k], null, 2).replace(/\n/g, '\n  ') + (i < keys.length - 1 ? ',' : '');
    pre.append(changed ? h('span', { class: 'changed', 'data-key': k }, text) : text, '\n');
  });
  pre.append('}');
  return pre;
}

function changedKeys(before, after) {
  if (!isObj(before) || !isObj(after)) return [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => stable(before[k]) !== stable(after[k]));
}

async function renderAudit(ctx) {
  if (!guard(ctx, 'audit:read', 'Audit log')) return;
  // The actor filter is a picker of users and API keys for those who may list them.
  let actors = null;
  if (can('admin:read')) {
    try {
      const [users, keys] = await Promise.all([fetchAll('/users'), fetchAll('/api-keys').catch(() => [])]);
      actors = { users, keys };
    } catch (_) { actors = null; }
    if (!ctx.alive) return;
  }
  const actorControl = actors
    ? h('select', { name: 'actor_id', value: '' },
      h('option', { value: '' }, 'Anyone'),
      h('optgroup', { label: 'Users' }, actors.users.map((u) => h('option', { value: u.id }, `${u.display_name} <${u.email}>`))),
      actors.keys.length ? h('optgroup', { label: 'API keys' }, actors.keys.map((k) => h('option', { value: k.id }, k.name))) : null)
    : h('input', { name: 'actor_id', type: 'text', placeholder: 'User or API key id', autocomplete: 'off' });

  const filterForm = form({ id: 'audit-filter' },
    h('div', { class: 'filters' },
      field('Actor', actorControl),
      field('Action', h('input', { name: 'action', type: 'text', placeholder: 'user.create', autocomplete: 'off' })),
      field('Entity type', h('input', { name: 'entity_type', type: 'text', placeholder: 'user', autocomplete: 'off' })),
      field('Entity id', h('input', { name: 'entity_id', type: 'text', autocomplete: 'off' })),
      field('From', h('input', { name: 'from', type: 'date' })),
      field('To', h('input', { name: 'to', type: 'date' }))),
    formError(),
    h('div', { class: 'form-actions' },
      submitBtn('audit-submit', 'Filter'),
      h('button', { type: 'reset', class: 'btn btn-ghost', id: 'audit-reset' }, 'Clear')));

  const tbody = h('tbody');
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'audit-table' },
    h('thead', null, h('tr', null, ['Time', 'Actor', 'Action', 'Entity type', 'Entity id'].map((x) => h('th', { scope: 'col' }, x)))),
    tbody));
  const more = h('button', { type: 'button', id: 'audit-more', class: 'btn', hidden: true }, 'Load more');
  const detailBox = h('div');
  const msgBox = h('div');
  const fail = reporter(ctx, msgBox);
  let params = {};
  let cursor = null;

  function showDetail(ev, tr) {
    const keys = changedKeys(ev.before, ev.after);
    detailBox.replaceChildren(h('section', { id: 'audit-detail', class: 'panel', 'data-id': ev.id },
      h('div', { class: 'panel-head' },
        h('h2', null, `${ev.action} · ${ev.entity_type}`),
        button('Close', () => { detailBox.replaceChildren(); markSelected($('#audit-table'), 'data-id', null); }, 'btn btn-sm btn-ghost')),
      h('p', { class: 'small muted' },
        `${fmtDateTime(ev.occurred_at)} · ${ev.actor_name} (${humanize(ev.actor_kind)})`,
        ev.entity_id ? ` · ${ev.entity_type} ${ev.entity_id}` : '',
        ev.source_ip ? ` · from ${ev.source_ip}` : '',
        ev.request_id ? ` · request ${ev.request_id}` : ''),
      keys.length ? h('p', { class: 'small' }, 'Changed: ', keys.map((k, i) => [i ? ', ' : '', h('code', null, k)])) : null,
      h('div', { class: 'diff' },
        h('div', null, h('h3', null, 'Before'), jsonBlock(ev.before, ev.after, 'before')),
        h('div', null, h('h3', null, 'After'), jsonBlock(ev.after, ev.before, 'after')))));
    markSelected($('#audit-table'), 'data-id', tr.dataset.id);
    detailBox.firstChild.scrollIntoView({ block: 'nearest' });
  }

  function row(ev) {
    const tr = h('tr', { class: 'audit-row clickable', 'data-id': ev.id, 'data-action': ev.action, tabindex: 0 },
      td(fmtDateTime(ev.occurred_at), 'nowrap'),
      td([ev.actor_name, h('div', { class: 'small muted' }, humanize(ev.actor_kind))]),
      td(h('code', null, ev.action)),
      td(ev.entity_type),
      td(ev.entity_id ? h('span', { class: 'mono' }, ev.entity_id) : '—'));
    tr.addEventListener('click', () => showDetail(ev, tr));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') showDetail(ev, tr); });
    return tr;
  }

  async function load(append) {
    ctx.loading();
    const b = await get('/audit-events' + qs({ ...params, limit: 50, cursor: append ? cursor : null }));
    if (!ctx.alive) return;
    const rows = rowsOf(b).map(row);
    if (!append) { tbody.replaceChildren(); detailBox.replaceChildren(); }
    if (!append && !rows.length) tbody.appendChild(h('tr', { class: 'empty-row' }, h('td', { colspan: 5, class: 'empty-cell' }, 'No events match.')));
    tbody.append(...rows);
    cursor = b && b.next_cursor;
    more.hidden = !cursor;
    ctx.ready();
  }

  /** Dates are whole local days: "to" includes its day, so it is sent as the next midnight. */
  function dayStart(v, plusDays) {
    const d = toDate(v);
    if (!d) return null;
    d.setDate(d.getDate() + (plusDays || 0));
    return d.toISOString();
  }

  onSubmit(filterForm, async (fd) => {
    msgBox.replaceChildren();
    params = {
      actor_id: str(fd, 'actor_id'),
      action: str(fd, 'action'),
      entity_type: str(fd, 'entity_type'),
      entity_id: str(fd, 'entity_id'),
      from: dayStart(str(fd, 'from'), 0),
      to: dayStart(str(fd, 'to'), 1),
    };
    await load(false);
  });
  filterForm.addEventListener('reset', () => {
    setTimeout(() => { clearFormErrors(filterForm); params = {}; load(false).catch(fail); }, 0);
  });
  more.addEventListener('click', () => load(true).catch(fail));

  ctx.render(
    pageHead('Audit log', 'Every change, who made it, and what it looked like before and after.'),
    h('section', { class: 'panel' }, filterForm),
    msgBox,
    table,
    h('div', { class: 'table-foot' }, more),
    detailBox);
  await load(false);
}

// ============================================================================ settings

/** A settings section: its own loader and its own error line, so one failing endpoint leaves
 * the other sections usable. */
function settingsSection(id, title, intro) {
  const body = h('div', null, h('p', { class: 'loading-text' }, 'Loading…'));
  const el = h('section', { id, class: 'panel settings-section' }, h('h2', null, title), intro ? h('p', { class: 'muted small' }, intro) : null, body);
  return {
    el,
    body,
    load: async () => {},
    fail(err) {
      if (err && err.problem && err.problem.sessionEnded) return;
      if (!(err instanceof ProblemError)) console.error(err);
      body.replaceChildren(notice('error', problemText(err)));
    },
  };
}

const checkbox = (name, label, checked, attrs = {}) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name, checked: !!checked, ...attrs }), h('span', null, label));
const templateLabel = (t) => (TEMPLATES.find(([v]) => v === t) || [t, t])[1];

// ---------------------------------------------------------------- company

function companySection() {
  const sec = settingsSection('settings-company', 'Company');
  const canW = canWrite('admin:write');
  sec.load = async () => {
    const r = await api('GET', '/tenant');
    let t = r.body;
    let etag = r.etag || etagOf(t);
    const sub = t.subscription || {};
    const ent = t.entitlements || {};
    const usage = t.usage;
    const f = form({ id: 'company-form' },
      h('div', { class: 'form-grid' },
        field('Company name', h('input', { name: 'name', type: 'text', value: t.name, disabled: !canW })),
        field('Company handle', h('input', { name: 'slug', type: 'text', value: t.slug, readonly: true }), 'Staff type it to sign in; it cannot be changed.'),
        field('Base currency', h('input', { name: 'base_currency', type: 'text', value: t.base_currency, readonly: true }), 'Chosen at sign-up; it cannot be changed.'),
        field('Accounting template', h('input', { name: 'accounting_template', type: 'text', value: templateLabel(t.accounting_template), readonly: true, 'data-value': t.accounting_template }), 'Chosen at sign-up; it cannot be changed.')),
      formError(),
      canW ? h('div', { class: 'form-actions' }, submitBtn('company-submit', 'Save')) : null);
    onSubmit(f, async (fd) => {
      const res = await api('PATCH', '/tenant', { name: str(fd, 'name') }, { etag });
      t = res.body;
      etag = res.etag || etagOf(t);
      if (state.me && state.me.tenant) state.me.tenant.name = t.name;
      renderChrome('settings');
      toast('Company name saved.');
    });
    const status = [capitalize(humanize(sub.status)), sub.plan ? `${sub.plan} plan` : null,
      sub.status === 'trial' && sub.trial_ends_at ? `trial ends ${fmtDate(sub.trial_ends_at)}` : null].filter(Boolean).join(' · ');
    sec.body.replaceChildren(f,
      h('h3', { class: 'settings-sub' }, 'Subscription'),
      h('dl', { class: 'readonly-list', id: 'company-subscription' },
        h('dt', null, 'Status'), h('dd', null, status || '—'),
        h('dt', null, 'Seats'), h('dd', { class: 'seats' }, usage ? `${usage.seats_used} of ${ent.seats} used` : fmtInt(ent.seats)),
        h('dt', null, 'Plugins'), h('dd', { class: 'plugin-slots' }, usage ? `${usage.plugins_enabled} of ${ent.plugin_slots} enabled` : `${fmtInt(ent.plugin_slots)} slots`),
        h('dt', null, 'API rate'), h('dd', null, `${fmtInt(ent.api_rate_per_minute)} requests per minute`),
        h('dt', null, 'Modules'), h('dd', null, (ent.modules || []).map(humanize).join(', ') || '—')));
  };
  return sec;
}

// ---------------------------------------------------------------- account mappings

function accountsSection() {
  const sec = settingsSection('settings-accounts', 'Account mappings', 'Which account the posting engine uses for each purpose.');
  const canW = canWrite('finance:approve');
  sec.load = async () => {
    const [maps, accounts] = await Promise.all([get('/account-mappings'), fetchAll('/accounts', { is_postable: true })]);
    let list = rowsOf(maps);
    const options = accounts.filter((a) => a.is_active !== false).sort((a, b) => a.code.localeCompare(b.code));
    const msg = h('div');

    const selectFor = (m) => {
      const opts = options.some((a) => a.id === m.account_id) ? options : [{ id: m.account_id, code: m.account_code, name: m.account_name }, ...options];
      return h('select', { name: m.purpose, value: m.account_id, disabled: !canW, 'aria-label': humanize(m.purpose) },
        opts.map((a) => h('option', { value: a.id }, `${a.code} ${a.name}`)));
    };
    function draw() {
      const f = form({ id: 'mappings-form' },
        listTable({ class: 'table compact', id: 'mappings-table' }, ['Purpose', 'Account'],
          list.map((m) => h('tr', { 'data-purpose': m.purpose },
            td([h('strong', null, capitalize(humanize(m.purpose))), h('div', { class: 'small muted mono' }, m.purpose)]),
            td(selectFor(m)))),
          'No account mappings.'),
        formError(),
        canW ? h('div', { class: 'form-actions' }, submitBtn('mappings-submit', 'Save mappings'))
          : h('p', { class: 'small muted' }, 'Changing the mappings needs finance approve.'));
      onSubmit(f, async (fd) => {
        const body = {};
        for (const m of list) { const v = fd.get(m.purpose); if (v && v !== m.account_id) body[m.purpose] = v; }
        if (!Object.keys(body).length) { toast('Nothing has changed.'); return; }
        const r = await api('PUT', '/account-mappings', body);
        list = rowsOf(r.body);
        draw();
        toast('Account mappings saved.');
      });
      sec.body.replaceChildren(msg, f);
    }
    draw();
  };
  return sec;
}

// ---------------------------------------------------------------- tax codes

function taxCodesSection() {
  const sec = settingsSection('settings-tax-codes', 'Tax codes', 'A tax code’s rate never changes: add a new code for a new rate.');
  const canW = canWrite('finance:write');
  const msg = h('div');
  const tableBox = h('div');
  const formBox = h('div');

  async function setActive(tc, active, btn) {
    msg.replaceChildren();
    btn.disabled = true;
    try {
      await api('PATCH', `/tax-codes/${encodeURIComponent(tc.id)}`, { is_active: active }, { etag: etagOf(tc) });
      toast(`${tc.code} ${active ? 'activated' : 'deactivated'}.`);
      await reloadTable();
    } catch (err) {
      btn.disabled = false;
      msg.replaceChildren(notice('error', problemText(err)));
    }
  }

  async function reloadTable() {
    const codes = rowsOf(await get('/tax-codes'));
    tableBox.replaceChildren(listTable({ class: 'table compact', id: 'tax-codes-table' }, ['Code', 'Name', ['Rate', 'num'], 'Exempt', 'Status', canW ? '' : null],
      codes.map((tc) => h('tr', { 'data-code': tc.code, 'data-id': tc.id, class: tc.is_active ? null : 'is-inactive' },
        td(h('strong', null, tc.code)), td(tc.name), tdNum(fracPct(tc.rate, 2)),
        td(tc.is_exempt ? 'exempt' : '—'),
        td(badge(tc.is_active ? 'active' : 'inactive', tc.is_active ? 'ok' : ''), 'active'),
        canW ? td(tc.is_active
          ? button('Deactivate', (ev) => setActive(tc, false, ev.currentTarget), 'btn btn-sm deactivate')
          : button('Activate', (ev) => setActive(tc, true, ev.currentTarget), 'btn btn-sm activate'), 'actions') : null)),
      'No tax codes.'));
  }

  if (canW) {
    const f = form({ id: 'tax-code-form', class: 'settings-sub' },
      h('h3', null, 'New tax code'),
      h('div', { class: 'form-grid three' },
        field('Code', h('input', { name: 'code', type: 'text', placeholder: 'VAT5', autocomplete: 'off' })),
        field('Name', h('input', { name: 'name', type: 'text', autocomplete: 'off' })),
        field('Rate', h('input', { name: 'rate', type: 'text', inputmode: 'decimal', placeholder: '0.05' }), 'A fraction: 0.13 is 13 %.')),
      h('p', null, checkbox('is_exempt', 'Exempt (no tax, reported as exempt)', false)),
      formError(),
      h('div', { class: 'form-actions' }, submitBtn('tax-code-submit', 'Add tax code')));
    onSubmit(f, async (fd) => {
      const r = await api('POST', '/tax-codes', { code: str(fd, 'code'), name: str(fd, 'name'), rate: str(fd, 'rate'), is_exempt: fd.get('is_exempt') === 'on' });
      f.reset();
      toast(`Tax code ${r.body.code} added.`);
      await reloadTable();
    });
    formBox.appendChild(f);
  }

  sec.load = async () => {
    await reloadTable();
    sec.body.replaceChildren(msg, tableBox, formBox);
  };
  return sec;
}

// ---------------------------------------------------------------- numbering

function numberingSection() {
  const sec = settingsSection('settings-numbering', 'Document numbers', 'Prefix, digits and the next number of each kind of document. Numbers already given keep theirs.');
  const canW = canWrite('admin:write');
  sec.load = async () => {
    const rows = rowsOf(await get('/numbering'));
    // Inputs sit in table cells, so each row's <form> lives outside the table and the inputs
    // join it with the form="" attribute (a <form> may not wrap a <tr>).
    const forms = h('div', { class: 'row-forms' });
    const trs = rows.map((n0) => {
      let n = n0;
      const fid = `numbering-form-${n.key}`;
      const f = form({ id: fid });
      forms.appendChild(f);
      const prefix = h('input', { name: 'prefix', type: 'text', form: fid, value: n.prefix, placeholder: n.default_prefix, maxlength: 10, disabled: !canW, autocapitalize: 'characters', 'aria-label': `${n.label}: prefix` });
      const padding = h('input', { name: 'padding', type: 'number', form: fid, value: n.padding, min: 1, max: 12, disabled: !canW, 'aria-label': `${n.label}: digits` });
      const next = h('input', { name: 'next_value', type: 'number', form: fid, value: n.next_value, min: 1, disabled: !canW, 'aria-label': `${n.label}: next number` });
      const example = h('td', { class: 'example mono' }, n.example);
      onSubmit(f, async (fd) => {
        const nv = str(fd, 'next_value');
        const body = {
          prefix: str(fd, 'prefix') || null,
          padding: intOr(str(fd, 'padding')),
          // Omitted when untouched, so a document numbered meanwhile is not refused as "below".
          next_value: nv === String(n.next_value) ? undefined : intOr(nv),
        };
        const r = await api('PUT', `/numbering/${encodeURIComponent(n.key)}`, body);
        n = r.body;
        prefix.value = n.prefix;
        padding.value = n.padding;
        next.value = n.next_value;
        example.textContent = n.example;
        toast(`${n.label}: next number ${n.example}.`);
      });
      return h('tr', { 'data-key': n.key },
        td([h('strong', null, n.label), h('div', { class: 'small muted mono' }, n.key)]),
        td(prefix), td(padding), td(next), example,
        canW ? td([h('button', { type: 'submit', form: fid, class: 'btn btn-sm save' }, 'Save'), formError(fid)], 'actions') : null);
    });
    sec.body.replaceChildren(forms,
      listTable({ class: 'table compact', id: 'numbering-table' }, ['Document', 'Prefix', 'Digits', 'Next number', 'Example', canW ? '' : null], trs, 'No numbered documents.'));
  };
  return sec;
}

// ---------------------------------------------------------------- approvals: threshold and flows

const DOC_KINDS = ['purchase_request', 'purchase_order', 'sales_order', 'journal_entry', 'production_change', 'expense_claim'];

/** Drops nulls, empty arrays and empty objects, so a flow's JSON reads like what one writes. */
function prune(v) {
  if (Array.isArray(v)) return v.map(prune);
  if (!isObj(v)) return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    const p = prune(x);
    if (p === null || p === undefined) continue;
    if (Array.isArray(p) && !p.length && k !== 'steps' && k !== 'approvers') continue;
    if (isObj(p) && !Object.keys(p).length) continue;
    out[k] = p;
  }
  return out;
}

/** A FlowView as the FlowBody the PUT takes. */
function flowBody(fl) {
  return prune({
    document_kind: fl.document_kind,
    name: fl.name,
    position: fl.position,
    is_active: fl.is_active,
    auto_approve_below: fl.auto_approve_below,
    when: fl.when,
    steps: (fl.steps || []).map((st) => ({
      name: st.name,
      quorum: st.quorum,
      approvers: (st.approvers || []).map((a) => (a.manager ? { manager: true } : a.role_id ? { role_id: a.role_id } : { user_id: a.user_id })),
      when: st.when,
    })),
  });
}

const FLOW_TEMPLATE = {
  document_kind: 'purchase_order',
  name: 'Large purchase orders',
  is_active: true,
  when: { min_amount: '10000' },
  auto_approve_below: null,
  steps: [{ name: 'Manager', quorum: 'any_of', approvers: [{ manager: true }] }],
};

function conditionText(c) {
  if (!c) return '';
  const parts = [];
  if (c.min_amount) parts.push(`the amount is at least ${fmtMoney(c.min_amount)}`);
  if (c.below_amount) parts.push(`the amount is below ${fmtMoney(c.below_amount)}`);
  if (c.discount_above) parts.push(`the discount is above ${fracPct(c.discount_above)}`);
  if (c.departments && c.departments.length) parts.push(`the department is ${c.departments.join(' or ')}`);
  if (c.supplier_ids && c.supplier_ids.length) parts.push(`the supplier is one of ${plural(c.supplier_ids.length, 'chosen supplier')}`);
  return parts.join(' and ');
}

function financeThresholdPart() {
  const wrap = h('div', { id: 'finance-threshold' }, h('h3', null, 'Journal entry approval'), h('p', { class: 'loading-text' }, 'Loading…'));
  const canW = canWrite('finance:approve');
  const load = async () => {
    const r = await api('GET', '/finance-settings');
    let fs = r.body;
    let etag = r.etag || etagOf(fs);
    const f = form({ id: 'finance-settings-form' },
      h('div', { class: 'form-grid' },
        field(`Approval threshold${baseCurrency() ? ' (' + baseCurrency() + ')' : ''}`,
          h('input', { name: 'approval_threshold', type: 'text', inputmode: 'decimal', value: fs.approval_threshold || '', placeholder: 'No threshold', disabled: !canW }),
          'Journal entries above this total need finance approve to post.')),
      formError(),
      canW ? h('div', { class: 'form-actions' }, submitBtn('finance-settings-submit', 'Save threshold')) : null);
    onSubmit(f, async (fd) => {
      const res = await api('PATCH', '/finance-settings', { approval_threshold: strOrNull(fd, 'approval_threshold') }, { etag });
      fs = res.body;
      etag = res.etag || etagOf(fs);
      f.elements.approval_threshold.value = fs.approval_threshold || '';
      toast('Approval threshold saved.');
    });
    wrap.replaceChildren(h('h3', null, 'Journal entry approval'), f);
  };
  return { el: wrap, load: () => load().catch((err) => wrap.replaceChildren(h('h3', null, 'Journal entry approval'), notice('error', problemText(err)))) };
}

function flowsPart() {
  const canW = canWrite('admin:write');
  const wrap = h('div', { id: 'approval-flows', class: can('finance:read') ? 'settings-sub' : null });
  const msg = h('div');
  const editorBox = h('div');
  const listBox = h('div', null, h('p', { class: 'loading-text' }, 'Loading…'));
  let flows = [];
  let roleNames = new Map();
  let userNames = new Map();

  const approverText = (a) => (a.manager ? 'the requester’s manager'
    : a.role_id ? `role ${roleNames.get(a.role_id) || a.role_id.slice(0, 8)}`
      : a.user_id ? (userNames.get(a.user_id) || `user ${a.user_id.slice(0, 8)}`) : 'nobody');

  function flowCard(fl) {
    const when = conditionText(fl.when);
    return h('article', { class: 'flow-card', 'data-flow': fl.name, 'data-flow-id': fl.id },
      h('h3', null, fl.name, badge(humanize(fl.document_kind), 'accent'), badge(fl.is_active ? 'active' : 'inactive', fl.is_active ? 'ok' : ''),
        h('span', { class: 'small muted' }, `order ${fl.position}`)),
      h('p', { class: 'small' }, when ? `Applies when ${when}.` : 'Applies to every document of this kind.',
        fl.auto_approve_below ? ` Approved at once below ${fmtMoney(fl.auto_approve_below)}.` : ''),
      h('ol', { class: 'flow-steps' }, (fl.steps || []).map((st) => {
        const sw = conditionText(st.when);
        return h('li', null, h('strong', null, st.name), ` — ${st.quorum === 'all_of' ? 'all of' : 'any of'}: `,
          (st.approvers || []).map(approverText).join(', ') || 'nobody', sw ? ` (only when ${sw})` : '');
      })),
      canW ? h('div', { class: 'btn-row' },
        button('Edit', () => openEditor(fl), 'btn btn-sm edit-flow'),
        button('Delete', (ev) => deleteFlow(fl, ev.currentTarget), 'btn btn-sm btn-danger delete-flow')) : null);
  }

  function draw() {
    listBox.replaceChildren(...(flows.length ? flows.map(flowCard) : [empty('No approval flows: documents go on without approval.')]));
  }

  async function reload() {
    flows = rowsOf(await get('/approval-flows'));
    draw();
  }

  async function deleteFlow(fl, btn) {
    if (!window.confirm(`Delete the approval flow “${fl.name}”?`)) return;
    msg.replaceChildren();
    btn.disabled = true;
    try {
      await api('DELETE', `/approval-flows/${encodeURIComponent(fl.id)}`);
      editorBox.replaceChildren();
      toast(`Flow ${fl.name} deleted.`);
      await reload();
    } catch (err) {
      btn.disabled = false;
      msg.replaceChildren(notice('error', problemText(err)));
    }
  }

  function openEditor(fl) {
    msg.replaceChildren();
    const text = JSON.stringify(fl ? flowBody(fl) : FLOW_TEMPLATE, null, 2);
    const f = form({ id: 'flow-form', class: 'panel form-card', 'data-flow-id': fl ? fl.id : null },
      h('h3', null, fl ? `Edit flow ${fl.name}` : 'New approval flow'),
      field('Definition (JSON)', h('textarea', { name: 'definition', rows: Math.min(28, text.split('\n').length + 2), spellcheck: 'false', value: text }),
        `document_kind: ${DOC_KINDS.join(' | ')}; quorum: any_of | all_of; approvers: {"manager": true}, {"role_id": "…"} or {"user_id": "…"}; ` +
        'when: min_amount, below_amount, discount_above, departments, supplier_ids.'),
      formError(),
      h('div', { class: 'form-actions' }, submitBtn('flow-submit', fl ? 'Save flow' : 'Create flow'), button('Cancel', () => editorBox.replaceChildren())));
    onSubmit(f, async (fd) => {
      let def;
      try {
        def = JSON.parse(fd.get('definition') || '');
      } catch (e) {
        throw invalid([{ field: 'definition', message: `This is not valid JSON: ${e.message}` }]);
      }
      if (!isObj(def)) throw invalid([{ field: 'definition', message: 'The definition must be a JSON object.' }]);
      if (fl) await api('PUT', `/approval-flows/${encodeURIComponent(fl.id)}`, def, { etag: etagOf(fl) });
      else await api('POST', '/approval-flows', def);
      editorBox.replaceChildren();
      toast(fl ? `Flow ${def.name || fl.name} saved.` : `Flow ${def.name || ''} created.`);
      await reload();
    });
    editorBox.replaceChildren(f);
    f.scrollIntoView({ block: 'nearest' });
  }

  const load = async () => {
    // Names for the steps' approvers, when the user may list them.
    if (can('admin:read')) {
      const [roles, users] = await Promise.all([fetchAll('/roles').catch(() => []), fetchAll('/users').catch(() => [])]);
      roleNames = new Map(roles.map((r) => [r.id, r.name]));
      userNames = new Map(users.map((u) => [u.id, u.display_name || u.email]));
    }
    await reload();
  };

  wrap.append(
    h('div', { class: 'panel-head' }, h('h3', null, 'Approval flows'),
      canW ? h('button', { type: 'button', id: 'new-flow', class: 'btn btn-sm', onclick: () => openEditor(null) }, 'New flow') : null),
    h('p', { class: 'small muted' }, 'For each kind of document the first active flow whose conditions hold routes it through its steps in turn.'),
    msg, editorBox, listBox);
  return { el: wrap, load: () => load().catch((err) => listBox.replaceChildren(notice('error', problemText(err)))) };
}

function approvalsSection() {
  const sec = settingsSection('settings-approvals', 'Approvals');
  const parts = [];
  if (can('finance:read')) parts.push(financeThresholdPart());
  if (can('approvals:read')) parts.push(flowsPart());
  sec.load = async () => {
    sec.body.replaceChildren(...parts.map((p) => p.el));
    await Promise.all(parts.map((p) => p.load()));
  };
  return sec;
}

// ---------------------------------------------------------------- warehouses

function warehousesSection() {
  const sec = settingsSection('settings-warehouses', 'Warehouses');
  const canW = canWrite('inventory:write');
  const msg = h('div');
  const tableBox = h('div');
  const formBox = h('div');

  function buildForm(wh) {
    const f = form({ id: 'warehouse-form', class: 'settings-sub', 'data-mode': wh ? 'edit' : 'new' },
      h('h3', null, wh ? `Edit warehouse ${wh.code}` : 'New warehouse'),
      h('div', { class: 'form-grid three' },
        field('Code', h('input', { name: 'code', type: 'text', value: wh ? wh.code : '', placeholder: 'WH-MAIN', autocomplete: 'off' })),
        field('Name', h('input', { name: 'name', type: 'text', value: wh ? wh.name : '', autocomplete: 'off' })),
        field('Address', h('input', { name: 'address', type: 'text', value: wh ? wh.address || '' : '', autocomplete: 'off' }))),
      h('p', { class: 'btn-row' },
        checkbox('allow_negative', 'Stock may go below zero here', wh ? wh.allow_negative : false),
        wh ? checkbox('is_active', 'Active', wh.is_active) : null),
      formError(),
      h('div', { class: 'form-actions' },
        submitBtn('warehouse-submit', wh ? 'Save warehouse' : 'Add warehouse'),
        wh ? button('Cancel', () => formBox.replaceChildren(buildForm(null))) : null));
    onSubmit(f, async (fd) => {
      const body = { code: str(fd, 'code'), name: str(fd, 'name'), address: strOrNull(fd, 'address'), allow_negative: fd.get('allow_negative') === 'on' };
      if (wh) {
        body.is_active = fd.get('is_active') === 'on';
        await api('PATCH', `/warehouses/${encodeURIComponent(wh.id)}`, body, { etag: etagOf(wh) });
        toast(`Warehouse ${body.code} saved.`);
      } else {
        await api('POST', '/warehouses', body);
        toast(`Warehouse ${body.code} added.`);
      }
      formBox.replaceChildren(buildForm(null));
      await reloadTable();
    });
    return f;
  }

  async function reloadTable() {
    const list = rowsOf(await get('/warehouses'));
    tableBox.replaceChildren(listTable({ class: 'table compact', id: 'warehouses-table' }, ['Code', 'Name', 'Address', 'Negative stock', 'Status', canW ? '' : null],
      list.map((wh) => h('tr', { 'data-code': wh.code, 'data-id': wh.id, class: wh.is_active ? null : 'is-inactive' },
        td(h('strong', null, wh.code)), td(wh.name), td(wh.address || '—'),
        td(wh.allow_negative ? 'allowed' : 'not allowed'),
        td(badge(wh.is_active ? 'active' : 'inactive', wh.is_active ? 'ok' : ''), 'active'),
        canW ? td(button('Edit', () => { msg.replaceChildren(); formBox.replaceChildren(buildForm(wh)); formBox.scrollIntoView({ block: 'nearest' }); }, 'btn btn-sm edit'), 'actions') : null)),
      'No warehouses yet.'));
  }

  sec.load = async () => {
    await reloadTable();
    if (canW) formBox.replaceChildren(buildForm(null));
    sec.body.replaceChildren(msg, tableBox, formBox);
  };
  return sec;
}

// ---------------------------------------------------------------- own account

function accountSection() {
  const sec = settingsSection('settings-account', 'Your account');
  sec.load = async () => {
    const f = form({ id: 'password-form' },
      h('div', { class: 'form-grid' },
        field('Current password', h('input', { name: 'current_password', type: 'password', autocomplete: 'current-password' })),
        field('New password', h('input', { name: 'new_password', type: 'password', autocomplete: 'new-password' }), 'At least 10 characters.')),
      formError(),
      h('div', { class: 'form-actions' }, submitBtn('password-submit', 'Change password')));
    onSubmit(f, async (fd) => {
      await api('POST', '/me/password', { current_password: fd.get('current_password') || '', new_password: fd.get('new_password') || '' });
      f.reset();
      toast('Password changed. Other devices need to sign in again.');
    });
    sec.body.replaceChildren(
      h('p', { class: 'muted small' }, `Signed in as ${state.me.email} (${state.me.display_name || ''}) at ${tenantName()}.`),
      f);
  };
  return sec;
}

async function renderSettings(ctx) {
  const sections = [];
  if (can('admin:read')) sections.push(companySection());
  if (can('finance:read')) sections.push(accountsSection(), taxCodesSection());
  if (can('admin:read')) sections.push(numberingSection());
  if (can('approvals:read') || can('finance:read')) sections.push(approvalsSection());
  if (can('inventory:read')) sections.push(warehousesSection());
  sections.push(accountSection());
  ctx.render(
    pageHead('Settings', readOnly() ? 'The subscription is read-only: settings can be viewed but not changed.' : `How ${tenantName()} is set up.`),
    sections.map((x) => x.el));
  await Promise.allSettled(sections.map((x) => x.load().catch((err) => x.fail(err))));
  ctx.ready();
}
