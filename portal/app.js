// The fecflow portal: one page, no build step. It signs in with an API token (kept in this
// tab's sessionStorage only) and calls the router's JSON API with it; what a token may see and
// change is decided by the API, never here. Every text from the API is put into the page as
// text (textContent), never as markup.

const TOKEN_KEY = 'fecflow.token';
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const whoEl = document.getElementById('who');

let me = null; // { name, role, isp }
let pollTimer = null;

/** An element with attributes and children (strings become text nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'testid') el.dataset.testid = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(...children) {
  main.replaceChildren(...children);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  let json = null;
  try {
    json = await res.json();
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const e = json && json.error;
    throw new ApiError(res.status, e ? e.code : 'http', e ? e.message : `HTTP ${res.status}`);
  }
  return json;
}

/** An API read that may not exist on this router (a part not enabled), or not be open to this
 * token: null then. */
async function optional(path) {
  try {
    return await api('GET', path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === 'not_found' && /no such endpoint/.test(err.message)) return null;
    // a part this token's role may not read (billing is the operator's)
    if (err instanceof ApiError && err.status === 403) return null;
    throw err;
  }
}

function errorBox(err) {
  return h('p', { class: 'error', testid: 'error' }, err instanceof ApiError ? `${err.message} (${err.status})` : String(err && err.message ? err.message : err));
}

// ---- formatting ----

function bits(n) {
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(n < 10 && i > 0 ? 2 : 0)} ${units[i]}`;
}

function matchText(m) {
  if (!m) return '';
  if (m.mac) return `mac ${m.mac}`;
  if (m.prefix) return `prefix ${m.prefix}`;
  if (m.vlan) return `vlan ${m.vlan.interface} ${m.vlan.outer}${m.vlan.inner !== undefined ? `.${m.vlan.inner}` : ''}`;
  return JSON.stringify(m);
}

const isAdmin = () => me && me.role === 'admin';
const isIsp = () => me && me.isp;

// ---- sign in ----

function signInPage(message) {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', placeholder: 'API token', size: 48, testid: 'token' });
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: async (ev) => {
        ev.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        await signedIn();
      },
    },
    input,
    h('button', { type: 'submit', testid: 'sign-in' }, 'Sign in'),
  );
  show(
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'With an API token: the node token (operator), a reader token, or an ISP token (`fecflow token create`). It stays in this tab only.'),
    form,
    message ? h('p', { class: 'error', testid: 'error' }, message) : null,
  );
  input.focus();
}

async function signedIn() {
  try {
    me = await api('GET', '/v1/whoami');
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    renderNav();
    signInPage(err instanceof ApiError && err.status === 401 ? 'That token is not valid here.' : String(err.message));
    return;
  }
  renderNav();
  if (location.hash === '' || location.hash === '#/signin') location.hash = isIsp() ? '#/isp' : '#/';
  else route();
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  renderNav();
  location.hash = '#/signin';
}

function renderNav() {
  const links = [];
  if (me) {
    if (isIsp()) links.push(['#/isp', `ISP ${me.isp}`]);
    else links.push(['#/', 'Overview']);
    links.push(['#/subscribers', 'Subscribers']);
    if (isAdmin()) links.push(['#/audit', 'Audit log']);
  }
  const here = location.hash.split('?')[0] || '#/';
  nav.replaceChildren(...links.map(([href, text]) => h('a', { href, class: here === href ? 'current' : null, testid: `nav-${text.split(' ')[0].toLowerCase()}` }, text)));
  whoEl.replaceChildren(...(me ? [`${me.name} (${me.role})`, h('button', { class: 'secondary', onclick: signOut, testid: 'sign-out' }, 'Sign out')] : []));
}

// ---- live per-ISP rates ----

/** Polls /v1/stats and calls back with bit/s per ISP and direction, from the counters' growth. */
function pollRates(onRates) {
  let last = null;
  const tick = async () => {
    try {
      const st = await api('GET', '/v1/stats');
      const now = { at: st.at, isps: new Map(st.isps.map((i) => [i.isp, i])) };
      if (last && now.at > last.at) {
        const secs = (now.at - last.at) / 1000;
        const rates = new Map();
        for (const [name, i] of now.isps) {
          const p = last.isps.get(name);
          if (!p) continue;
          const rate = (d) => (Number(BigInt(i[d].in.bytes) - BigInt(p[d].in.bytes)) * 8) / secs;
          rates.set(name, { up: rate('up'), down: rate('down'), upPackets: i.up.in.packets, downPackets: i.down.in.packets });
        }
        onRates(rates);
      }
      last = now;
    } catch (err) {
      onRates(null, err);
    }
  };
  void tick();
  pollTimer = setInterval(tick, 2000);
}

function ispTable(isps) {
  const cells = new Map();
  const rows = isps.map((i) => {
    const up = h('td', { class: 'num', testid: `rate-${i.name}-up` }, '…');
    const down = h('td', { class: 'num', testid: `rate-${i.name}-down` }, '…');
    cells.set(i.name, { up, down });
    return h('tr', { testid: `isp-${i.name}` }, h('td', {}, i.name), h('td', { class: 'num' }, i.subscribers), up, down);
  });
  const table = h('table', { testid: 'isps' }, h('thead', {}, h('tr', {}, h('th', {}, 'ISP'), h('th', { class: 'num' }, 'Subscribers'), h('th', { class: 'num' }, 'Up (now)'), h('th', { class: 'num' }, 'Down (now)'))), h('tbody', {}, rows));
  const note = h('p', { class: 'muted' }, 'Rates are measured from the per-ISP counters every 2 s.');
  pollRates((rates, err) => {
    if (err) {
      note.replaceChildren(errorBox(err));
      return;
    }
    for (const [name, c] of cells) {
      const r = rates.get(name);
      c.up.textContent = r ? bits(r.up) : '–';
      c.down.textContent = r ? bits(r.down) : '–';
    }
  });
  return [table, note];
}

// ---- pages ----

async function overviewPage() {
  const [status, isps] = await Promise.all([api('GET', '/v1/status'), api('GET', '/v1/isps')]);
  const last = status.lastReconcile;
  show(
    h('h1', {}, `Router ${status.node ?? ''}`),
    h(
      'div',
      { class: 'card', testid: 'router' },
      h('p', {}, 'State: ', h('strong', { class: status.ready ? 'ok' : 'error', testid: 'ready' }, status.ready ? 'ready' : status.detached ? 'detached' : 'not ready'), ` · up ${status.uptimeSeconds} s · ${status.subscribers} subscribers · ${status.isps} ISPs`),
      h('p', {}, 'Programs: ', status.programs.map((p) => `${p.role} on ${p.ifname} (${p.mode})`).join(', ') || 'none'),
      h('p', {}, 'Last change: ', last ? `${last.trigger} at ${last.at}: ${last.ok ? 'applied' : `failed: ${last.error}`}` : 'none'),
    ),
    h('h2', {}, 'ISPs'),
    ...ispTable(isps.isps),
  );
}

async function ispPage() {
  const isp = me.isp;
  const isps = await api('GET', '/v1/isps');
  const subs = await api('GET', `/v1/subscribers?limit=200`);
  const sections = [h('h1', {}, `ISP ${isp}`), ...ispTable(isps.isps)];
  sections.push(h('h2', {}, `Subscribers (${subs.total})`), subscriberTable(subs.subscribers));
  const [sessions, usage] = await Promise.all([optional('/v1/sessions'), optional('/v1/usage')]);
  sections.push(h('h2', {}, 'Sessions'));
  sections.push(sessions ? listTable(sessions.sessions ?? [], ['subscriber', 'state', 'openedAt'], 'sessions') : h('p', { class: 'muted' }, 'Sessions are not available here.'));
  sections.push(h('h2', {}, 'Usage'));
  sections.push(usage ? listTable((usage.usage ?? usage.subscribers ?? []).map(flatUsage), ['subscriber', 'upBytes', 'downBytes'], 'usage') : h('p', { class: 'muted' }, 'Usage is not available here.'));
  const period = new Date().toISOString().slice(0, 7);
  // an ISP the broker does not know as a provider has no invoice lines
  const bill = await optional(`/v1/broker/bill?period=${period}&isp=${encodeURIComponent(isp)}`).catch((err) => {
    if (err instanceof ApiError && err.status === 404) return { lines: [] };
    throw err;
  });
  sections.push(h('h2', {}, `Invoices ${period}`));
  sections.push(bill ? listTable(bill.lines ?? [], ['account', 'cpe', 'item', 'quantity', 'amount', 'currency'], 'invoices') : h('p', { class: 'muted' }, 'Invoices are not available to this token.'));
  show(...sections);
}

function flatUsage(u) {
  const sum = (d) => (u[d] ? Object.values(u[d]).reduce((n, c) => n + BigInt(c.bytes ?? 0), 0n) : 0n);
  return { subscriber: u.subscriber ?? u.name, upBytes: String(sum('up')), downBytes: String(sum('down')) };
}

function listTable(items, cols, testid) {
  if (!items.length) return h('p', { class: 'muted', testid }, 'None.');
  return h('table', { testid }, h('thead', {}, h('tr', {}, cols.map((c) => h('th', {}, c)))), h('tbody', {}, items.map((it) => h('tr', {}, cols.map((c) => h('td', {}, it[c] ?? ''))))));
}

function subscriberLink(s) {
  return s.name ? h('a', { href: `#/subscribers/${encodeURIComponent(s.name)}`, testid: `sub-${s.name}` }, s.name) : h('span', { class: 'muted' }, '(unnamed)');
}

function subscriberTable(subs) {
  if (!subs.length) return h('p', { class: 'muted', testid: 'subscribers' }, 'No subscribers.');
  return h(
    'table',
    { testid: 'subscribers' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Match'), h('th', {}, 'ISP'), h('th', {}, 'Delivery'))),
    h('tbody', {}, subs.map((s) => h('tr', {}, h('td', {}, subscriberLink(s)), h('td', {}, h('code', {}, matchText(s.match))), h('td', {}, s.isp), h('td', {}, s.deliver ? h('code', {}, JSON.stringify(s.deliver)) : '–')))),
  );
}

async function subscribersPage(params) {
  const q = params.get('q') ?? '';
  const input = h('input', { type: 'search', name: 'q', value: q, placeholder: 'name, MAC, prefix or VLAN', size: 36, testid: 'search' });
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: (ev) => {
        ev.preventDefault();
        location.hash = `#/subscribers?q=${encodeURIComponent(input.value.trim())}`;
      },
    },
    input,
    h('button', { type: 'submit', testid: 'search-go' }, 'Search'),
  );
  const res = await api('GET', `/v1/subscribers?limit=200${q ? `&q=${encodeURIComponent(q)}` : ''}`);
  show(h('h1', {}, 'Subscribers'), form, h('p', { class: 'muted', testid: 'count' }, `${res.total} matching${res.total > res.subscribers.length ? `, the first ${res.subscribers.length} shown` : ''}`), subscriberTable(res.subscribers));
}

async function subscriberPage(name) {
  let sub;
  try {
    sub = (await api('GET', `/v1/subscribers/${encodeURIComponent(name)}`)).subscriber;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      show(h('h1', {}, 'Subscriber'), h('p', { class: 'error', testid: 'not-found' }, `No subscriber named ${name}.`));
      return;
    }
    throw err;
  }
  const isps = (await api('GET', '/v1/isps')).isps.map((i) => i.name);
  const parts = [
    h('h1', {}, `Subscriber ${sub.name}`),
    h(
      'div',
      { class: 'card', testid: 'subscriber' },
      h('p', {}, 'ISP: ', h('strong', { testid: 'sub-isp' }, sub.isp)),
      h('p', {}, 'Match: ', h('code', {}, matchText(sub.match))),
      h('p', {}, 'Delivery: ', sub.deliver ? h('code', {}, JSON.stringify(sub.deliver)) : 'upstream only'),
    ),
  ];
  const others = isps.filter((i) => i !== sub.isp);
  if (me.role !== 'reader' && others.length) {
    const select = h('select', { name: 'isp', testid: 'move-isp' }, others.map((i) => h('option', { value: i }, i)));
    const area = h('div', {});
    const ask = () => {
      const to = select.value;
      area.replaceChildren(
        h(
          'div',
          { class: 'card confirm', testid: 'confirm' },
          h('p', {}, `Move ${sub.name} from ${sub.isp} to ${to}? Their traffic goes to ${to} from the moment this is applied.`),
          h('button', { testid: 'confirm-move', onclick: () => move(to) }, `Move to ${to}`),
          ' ',
          h('button', { class: 'secondary', testid: 'cancel-move', onclick: () => area.replaceChildren() }, 'Cancel'),
        ),
      );
    };
    const move = async (to) => {
      area.replaceChildren(h('p', { class: 'muted' }, 'Moving…'));
      try {
        // the API's subscriber body: the match's fields beside the ISP, name and delivery
        const doc = { ...sub.match, isp: to, name: sub.name, ...(sub.deliver ? { deliver: sub.deliver } : {}) };
        await api('POST', '/v1/subscribers/move', { subscriber: doc });
        area.replaceChildren(h('p', { class: 'ok', testid: 'moved' }, `Moved to ${to}.`));
        setTimeout(() => route(), 600);
      } catch (err) {
        area.replaceChildren(errorBox(err));
      }
    };
    parts.push(h('h2', {}, 'Move to another ISP'), h('form', { class: 'inline', onsubmit: (ev) => { ev.preventDefault(); ask(); } }, select, h('button', { type: 'submit', testid: 'move' }, 'Move…')), area);
  }
  show(...parts);
}

async function auditPage() {
  const res = await api('GET', '/v1/audit?limit=100000');
  const recs = res.records.slice(-200).reverse();
  show(
    h('h1', {}, 'Audit log'),
    h('p', { class: 'muted' }, `The last ${recs.length} changes, newest first.`),
    h(
      'table',
      { testid: 'audit' },
      h('thead', {}, h('tr', {}, ['When', 'Who', 'Role', 'Action', 'Target', 'Detail'].map((c) => h('th', {}, c)))),
      h('tbody', {}, recs.map((r) => h('tr', {}, h('td', {}, r.at), h('td', {}, r.actor), h('td', {}, r.role), h('td', {}, r.action), h('td', {}, r.target), h('td', {}, h('code', {}, r.detail === null || r.detail === undefined ? '' : JSON.stringify(r.detail).slice(0, 200)))))),
    ),
  );
}

// ---- routing ----

async function route() {
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = null;
  renderNav();
  if (!me) {
    signInPage();
    return;
  }
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query ?? '');
  try {
    if (path === '' || path === '/') await (isIsp() ? ispPage() : overviewPage());
    else if (path === '/isp' && isIsp()) await ispPage();
    else if (path === '/subscribers') await subscribersPage(params);
    else if (path.startsWith('/subscribers/')) await subscriberPage(decodeURIComponent(path.slice('/subscribers/'.length)));
    else if (path === '/audit') await auditPage();
    else show(h('h1', {}, 'Not found'), h('p', { class: 'error', testid: 'not-found' }, 'There is no such page.'));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      me = null;
      renderNav();
      signInPage('Your token is no longer valid.');
      return;
    }
    show(h('h1', {}, 'Error'), errorBox(err));
  }
}

window.addEventListener('hashchange', () => void route());
if (sessionStorage.getItem(TOKEN_KEY)) void signedIn();
else route();
