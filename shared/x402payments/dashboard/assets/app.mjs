// Live x402 payments: first paint from GET /x402/payments, then the ledger's
// x402_payments realtime channel through @insforge/sdk (anon key), polling the
// same endpoint while realtime is unavailable. Rows only ever carry the public
// columns listed in PUBLIC; the payments table (its header in index.html too) is
// built from TABLE; everything is written with textContent. Realtime messages
// count only when the ledger sent them (realtime.mjs).
import { CHANNEL, EVENTS, ledgerRow } from './realtime.mjs';

const meta = (n) => document.querySelector(`meta[name="${n}"]`)?.content ?? '';
const BASE_URL = meta('insforge-url');
const ANON_KEY = meta('insforge-anon-key');
const EXPLORER = meta('explorer-tx-url');
const PAYMENTS_URL = 'payments';
const POLL_MS = 5000;
const RETRY_MS = 5000;
const MAX_ROWS = 50;
// The ledger's public columns (shared/ledger's Payment; a Go test holds this
// list to it, to the GRANT and to docs/openapi.yaml).
const PUBLIC = ['id', 'payer_address', 'endpoint', 'amount', 'tx_hash', 'chain', 'status', 'response_summary',
  'created_at', 'network', 'asset', 'pay_to', 'nonce', 'valid_before', 'mock', 'updated_at', 'delivered_at',
  'confirmed_at', 'settle_sent_at'];
// Known tokens by asset (lower case): USDG and USD₮0 on X Layer have 6 decimals.
const TOKENS = {
  '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8': { symbol: 'USDG', decimals: 6 },
  '0x779ded0c9e1022225f8e0630b35a9b54be713736': { symbol: 'USD₮0', decimals: 6 },
};
const DEFAULT_TOKEN = { symbol: 'USDG', decimals: 6 };

const rows = new Map(); // id → row
let stats = null;
let routes = null;
let pollTimer = null;
let statsTimer = null;

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
};

function pick(r) {
  const out = {};
  for (const k of PUBLIC) if (r && k in r) out[k] = r[k];
  return out;
}

export function formatAmount(atomic, asset) {
  const t = TOKENS[String(asset ?? '').toLowerCase()] ?? DEFAULT_TOKEN;
  if (!/^[0-9]{1,78}$/.test(String(atomic ?? ''))) return '?';
  const v = BigInt(atomic);
  const unit = 10n ** BigInt(t.decimals);
  let frac = (v % unit).toString().padStart(t.decimals, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${(v / unit).toLocaleString('en-US')}.${frac} ${t.symbol}`;
}

function setMode(mode, text) {
  const m = $('mode');
  m.dataset.mode = mode;
  m.textContent = text;
}

function upsert(r, fresh) {
  if (!r || typeof r.id !== 'string') return;
  const prev = rows.get(r.id);
  const row = { ...(prev ?? {}), ...pick(r) };
  // An older copy (e.g. a poll racing a realtime update) never overwrites a newer one.
  if (prev && prev.updated_at && row.updated_at && Date.parse(r.updated_at) < Date.parse(prev.updated_at)) return;
  row._fresh = fresh;
  rows.set(r.id, row);
}

function render() {
  const list = [...rows.values()].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at)).slice(0, MAX_ROWS);
  const body = $('rows');
  body.replaceChildren(...list.map(renderRow));
  $('empty').hidden = list.length > 0;
  for (const r of list) r._fresh = false;
  renderStats();
  renderChart(list);
  renderRoutes();
}

// The payments table, one entry per column shown: its header and its cell.
const TABLE = [
  { head: 'Time', cell: (r) => {
    const when = new Date(r.created_at);
    return el('td', { text: isNaN(when) ? '' : when.toLocaleTimeString() });
  } },
  { head: 'Route', cell: (r) => el('td', {}, el('code', { text: String(r.endpoint ?? '') })) },
  { head: 'Amount', cell: (r) => {
    const amount = el('td', { class: 'amount', text: formatAmount(r.amount, r.asset) });
    if (r.mock === true) amount.append(el('span', { class: 'mock', title: 'mock facilitator: no money moved', text: 'mock' }));
    return amount;
  } },
  { head: 'Payer', cell: (r) => el('td', { class: 'payer' }, el('code', { text: String(r.payer_address ?? '') })) },
  { head: 'Status', cell: (r) => {
    const status = String(r.status ?? 'unknown');
    return el('td', {}, el('span', { class: `status s-${status.replace(/[^a-z_]/gi, '')}`, text: status }));
  } },
  { head: 'Transaction', cell: (r) => {
    if (typeof r.tx_hash !== 'string' || !/^0x[0-9a-f]{64}$/i.test(r.tx_hash)) return el('td', { class: 'tx', text: '—' });
    const a = el('a', { href: EXPLORER + r.tx_hash, target: '_blank', rel: 'noopener noreferrer', text: `${r.tx_hash.slice(0, 10)}…${r.tx_hash.slice(-6)}` });
    return el('td', { class: 'tx' }, a);
  } },
];

function renderRow(r) {
  const status = String(r.status ?? 'unknown');
  const tr = el('tr', { 'data-id': r.id, 'data-status': status, 'data-mock': String(r.mock === true), 'data-payer': String(r.payer_address ?? '').toLowerCase() },
    ...TABLE.map((c) => c.cell(r)));
  if (r._fresh) tr.className = 'fresh';
  return tr;
}

function renderStats() {
  if (!stats) return;
  $('stat-requests').textContent = String(stats.totalRequests ?? '–');
  // Revenue stays per token when the API gives it (stats.assets); the total
  // adds atomic units of every token and is shown only without it.
  const perAsset = Array.isArray(stats.assets) ? stats.assets.filter((a) => a && a.revenue !== '0') : [];
  $('stat-revenue').textContent = perAsset.length
    ? perAsset.map((a) => formatAmount(String(a.revenue ?? ''), a.asset)).join(' · ')
    : formatAmount(String(stats.totalRevenue ?? ''), null);
  const l = stats.latestPayment ? new Date(stats.latestPayment) : null;
  $('stat-latest').textContent = l && !isNaN(l) ? l.toLocaleString() : '–';
}

function renderChart(list) {
  const svg = $('chart');
  const ns = 'http://www.w3.org/2000/svg';
  const minutes = 30;
  const now = Math.floor(Date.now() / 60000);
  const buckets = new Array(minutes).fill(0);
  for (const r of list) {
    const m = now - Math.floor(Date.parse(r.created_at) / 60000);
    if (m >= 0 && m < minutes) buckets[minutes - 1 - m]++;
  }
  const max = Math.max(1, ...buckets);
  const w = 300 / minutes;
  const kids = [];
  const base = document.createElementNS(ns, 'line');
  for (const [k, v] of Object.entries({ x1: 0, y1: 59.5, x2: 300, y2: 59.5 })) base.setAttribute(k, v);
  kids.push(base);
  buckets.forEach((n, i) => {
    if (!n) return;
    const h = (n / max) * 56;
    const rect = document.createElementNS(ns, 'rect');
    for (const [k, v] of Object.entries({ x: i * w + 1, y: 60 - h, width: w - 2, height: h })) rect.setAttribute(k, v);
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${n} payment${n === 1 ? '' : 's'}, ${minutes - 1 - i} min ago`;
    rect.append(title);
    kids.push(rect);
  });
  svg.replaceChildren(...kids);
  svg.dataset.total = String(buckets.reduce((a, b) => a + b, 0));
}

// A per-route breakdown is rendered when the payments API provides one: an array
// of {endpoint, requests|count|totalRequests, revenue|totalRevenue}.
function renderRoutes() {
  const sec = $('routes');
  if (!Array.isArray(routes) || routes.length === 0) { sec.hidden = true; return; }
  sec.hidden = false;
  $('route-rows').replaceChildren(...routes.map((r) => el('tr', {},
    el('td', {}, el('code', { text: String(r.endpoint ?? r.route ?? '') })),
    el('td', { text: String(r.requests ?? r.count ?? r.totalRequests ?? '') }),
    el('td', { class: 'amount', text: formatAmount(String(r.revenue ?? r.totalRevenue ?? ''), null) }))));
}

// Passes sold and active per product (POST /x402/pass/{product}), when the API has them.
let passes = null;
function renderPasses() {
  const sec = $('passes');
  if (!Array.isArray(passes) || passes.length === 0) { sec.hidden = true; return; }
  sec.hidden = false;
  $('pass-rows').replaceChildren(...passes.map((p) => el('tr', {},
    el('td', {}, el('code', { text: String(p.product ?? '') })),
    el('td', { text: String(p.sold ?? 0) }),
    el('td', { text: String(p.sold_mock ?? 0) }),
    el('td', { text: String(p.active ?? 0) }))));
}

async function load() {
  const res = await fetch(PAYMENTS_URL, { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (!res.ok) throw new Error(`GET /x402/payments: ${res.status}`);
  const body = await res.json();
  for (const p of body.payments ?? []) upsert(p, false);
  stats = body.stats ?? stats;
  routes = body.stats?.endpoints ?? routes;
  passes = body.passes ?? passes;
  render();
  renderPasses();
}

function startPolling(why) {
  setMode('polling', `realtime unavailable (${why}): polling every ${POLL_MS / 1000} s`);
  if (pollTimer) return;
  pollTimer = setInterval(() => load().catch(() => {}), POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

// Stats come from the API (settled, non-mock revenue); refresh them shortly
// after realtime traffic rather than recomputing them here.
function refreshSoon() {
  clearTimeout(statsTimer);
  statsTimer = setTimeout(() => load().catch(() => {}), 1000);
}

function onMessage(msg) {
  const r = ledgerRow(msg);
  if (!r) return; // not the ledger's own message: a client's publish is never shown
  upsert(r, true);
  render();
  refreshSoon();
}

async function goLive() {
  if (!BASE_URL || !ANON_KEY) { startPolling('not configured'); return; }
  let client;
  try {
    const { createClient } = await import('./insforge-sdk.mjs');
    client = createClient({ baseUrl: BASE_URL, anonKey: ANON_KEY });
  } catch {
    startPolling('client failed to load');
    return;
  }
  const rt = client.realtime;
  for (const ev of EVENTS) rt.on(ev, onMessage);
  const subscribe = async () => {
    const res = await rt.subscribe(CHANNEL);
    if (res.ok) {
      stopPolling();
      setMode('live', 'live');
      load().catch(() => {}); // catch up on anything missed while offline
    } else {
      startPolling(res.error?.code ?? 'refused');
    }
  };
  // socket.io reconnects by itself after a dropped transport, but not after the
  // server closed the socket or a failed first connect: then retry while polling.
  let manual = false;
  rt.on('disconnect', (reason) => {
    manual = reason === 'io server disconnect';
    startPolling('disconnected');
  });
  rt.on('connect_error', () => startPolling('cannot connect'));
  rt.on('connect', () => {
    manual = false;
    if (pollTimer || $('mode').dataset.mode !== 'live') subscribe().catch(() => {});
  });
  setInterval(() => {
    if (pollTimer && (manual || rt.connectionState === 'disconnected')) rt.connect().catch(() => {});
  }, RETRY_MS);
  await subscribe();
}

$('head').replaceChildren(...TABLE.map((c) => el('th', { text: c.head })));
load().catch(() => setMode('polling', 'payments API unavailable; retrying'))
  .finally(() => goLive().catch(() => startPolling('error')));
