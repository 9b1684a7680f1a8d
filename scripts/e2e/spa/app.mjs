// The SPA a user would write: get a provider credential, exchange it at the bridge (cross-origin,
// CORS preflight, cookies when asked), then use @insforge/sdk with the minted token.
// Bundled for the browser by esbuild (lib/spa-server.mjs); driven by playwright through window.e2e.
import { createClient } from '@insforge/sdk';
import { wrapFetchWithPaymentFromConfig, decodePaymentResponseHeader } from '@x402/fetch';
import { ExactEvmScheme } from '@x402/evm';
import { privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { createTokenClient } from '../../../shared/spa/token-client.mjs';

document.getElementById('origin').textContent = `origin: ${location.origin}`;

function log(title, value) {
  const div = document.createElement('div');
  div.className = 'user';
  const h = document.createElement('strong');
  h.textContent = title;
  const pre = document.createElement('pre');
  pre.textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  div.append(h, pre);
  document.getElementById('log').append(div);
}

async function asResult(res) {
  const text = await res.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body, headers: Object.fromEntries(res.headers.entries()) };
}

/** Runs call; when it throws (the browser blocked the request, a client gave up) logs why and returns {error}. */
async function orError(what, call) {
  try {
    return await call();
  } catch (err) {
    log(what, String(err));
    return { error: String(err) };
  }
}

window.e2e = {
  log,
  /** Signs in to Better Auth from the browser; the session cookie lands in the browser's jar. */
  async betterAuthSignIn(baUrl, email, password) {
    const res = await fetch(`${baUrl}/api/auth/sign-in/email`, {
      method: 'POST', credentials: 'include',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    const r = await asResult(res);
    log(`Better Auth sign-in ${email}`, { status: r.status, user: r.body?.user?.id });
    return r;
  },
  async betterAuthSignOut(baUrl) {
    const res = await fetch(`${baUrl}/api/auth/sign-out`, {
      method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '{}',
    });
    return asResult(res);
  },
  /** Gets a token from an OAuth2 server's token endpoint (client_credentials), as a stand-in login. */
  async oauthToken(tokenUrl) {
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=openid',
    });
    return asResult(res);
  },
  /**
   * Calls a bridge: POST with Authorization: Bearer (forces a preflight), or with the browser's
   * cookies (credentials: 'include'). Returns {status, body} or {error} when the browser blocks it.
   */
  async bridge(url, { bearer, cookies = false, method = 'POST' } = {}) {
    return orError(`bridge ${url} blocked`, async () => {
      const headers = {};
      if (bearer) headers.Authorization = `Bearer ${bearer}`;
      const res = await fetch(url, { method, headers, credentials: cookies ? 'include' : 'same-origin' });
      const r = await asResult(res);
      log(`bridge ${new URL(url).pathname}`, { status: r.status, error: r.body?.error, expires_in: r.body?.expires_in });
      return r;
    });
  },
  /** Uses @insforge/sdk with the minted token: insert todos, then list what this user can see. */
  async todos(baseUrl, anonKey, token, titles) {
    const client = createClient({ baseUrl, anonKey });
    client.setAccessToken(token);
    const inserted = [];
    for (const title of titles) {
      const { data, error } = await client.database.from('todos').insert([{ title }]).select();
      if (error) return { error, stage: 'insert' };
      inserted.push(...data);
    }
    const { data, error } = await client.database.from('todos').select('*').order('title');
    if (error) return { error, stage: 'select' };
    log(`todos visible with token for ${inserted[0]?.user_id ?? '?'}`, data.map((r) => `${r.user_id}: ${r.title}`));
    return { inserted, rows: data };
  },
  /** Pays an x402 v2 endpoint from the browser with @x402/fetch (cross-origin: needs exposed headers). */
  async payX402(url, privateKey, { network = 'eip155:196', asset = '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8' } = {}) {
    const account = privateKeyToAccount(privateKey);
    const pay = wrapFetchWithPaymentFromConfig(fetch, {
      schemes: [{ network, client: new ExactEvmScheme(account) }],
      spendControls: { allowedAssets: [{ network, asset }] },
    });
    return orError(`x402 ${url} failed`, async () => {
      const res = await pay(url, { method: 'POST' });
      const r = await asResult(res);
      const h = res.headers.get('payment-response');
      r.settlement = h ? decodePaymentResponseHeader(h) : null;
      log(`x402 ${new URL(url).pathname}`, { status: r.status, payer: r.settlement?.payer, tx: r.settlement?.transaction });
      return r;
    });
  },
  async tryForeignUpdate(baseUrl, anonKey, token, id) {
    const client = createClient({ baseUrl, anonKey });
    client.setAccessToken(token);
    const { data, error } = await client.database.from('todos').update({ title: 'hijacked' }).eq('id', id).select();
    return { data, error };
  },
};
// The token client keeping one @insforge/sdk client signed in (shared/spa/token-client.mjs),
// with a timeline of what it saw: bridge answers and its events (never the tokens).
window.e2e.kept = null;
window.e2e.startTokenClient = (bridgeUrl, baseUrl, anonKey, { cookie = false } = {}) => {
  const insforge = createClient({ baseUrl, anonKey });
  const t0 = Date.now();
  const timeline = [];
  const at = () => Math.round((Date.now() - t0) / 100) / 10;
  const recordingFetch = async (url, init) => {
    const res = await fetch(url, init);
    timeline.push({ t: at(), bridge: res.status, retryAfter: res.headers.get('retry-after') ?? undefined });
    return res;
  };
  const tc = createTokenClient({
    url: bridgeUrl, insforge, fetch: recordingFetch,
    ...(cookie ? { credentials: 'include' } : { getCredential: () => window.providerCredential() }),
  });
  let tokens = 0;
  tc.onChange((e) => {
    if (e.type === 'token') tokens++;
    timeline.push({
      t: at(), event: e.type, status: e.status, code: e.code, reason: e.reason,
      retryIn: e.retryIn, expiresIn: e.expiresAt && Math.round((e.expiresAt - Date.now()) / 1000),
      refreshIn: e.refreshAt && Math.round((e.refreshAt - Date.now()) / 100) / 10,
    });
    log(`token client: ${e.type}`, { t: at(), status: e.status, code: e.code, reason: e.reason });
  });
  window.e2e.kept = { insforge, tc, timeline, tokens: () => tokens };
  return tc.getToken().then((t) => t !== null);
};
/** Todos through the kept SDK client: no token passed here, the token client set it. */
window.e2e.keptTodos = async (titles = []) => {
  const db = window.e2e.kept.insforge.database;
  const inserted = [];
  for (const title of titles) {
    const { data, error } = await db.from('todos').insert([{ title }]).select();
    if (error) return { error, stage: 'insert' };
    inserted.push(...data);
  }
  const { data, error } = await db.from('todos').select('*').order('title');
  return error ? { error, stage: 'select' } : { inserted, rows: data };
};
window.e2e.keptState = () => ({ state: window.e2e.kept.tc.state, tokens: window.e2e.kept.tokens(), timeline: window.e2e.kept.timeline });
/**
 * Sign-In with Ethereum through the token client's wallet mode, the message made by viem's
 * createSiweMessage and signed by a viem local account. Returns {token, ms} or {state, reason}.
 */
window.e2e.siweSignIn = async (walletUrl, privateKey) => {
  const account = privateKeyToAccount(privateKey);
  const t0 = performance.now();
  let reason;
  const tc = createTokenClient({
    url: walletUrl,
    wallet: { address: account.address, statement: 'Sign in to the e2e SPA.', createMessage: createSiweMessage,
      signMessage: (message) => account.signMessage({ message }) },
  });
  tc.onChange((e) => { if (e.type !== 'token') reason = e.code ?? e.reason ?? e.type; });
  const token = await tc.getToken();
  const ms = Math.round(performance.now() - t0);
  const state = tc.state;
  tc.stop();
  log('SIWE sign-in', { address: account.address, state, ms, reason });
  return token ? { token, ms } : { state, reason };
};
/** Reads premium_reports with @insforge/sdk and the given token: {titles} or {error}. */
window.e2e.premiumReports = async (baseUrl, anonKey, token) => {
  const client = createClient({ baseUrl, anonKey });
  client.setAccessToken(token);
  const t0 = performance.now();
  const { data, error } = await client.database.from('premium_reports').select('title').order('title');
  const ms = Math.round(performance.now() - t0);
  log('premium_reports', { rows: data?.length, error: error?.message, ms });
  return error ? { error: { message: error.message, code: error.code, status: error.statusCode ?? error.status }, ms } : { titles: data.map((r) => r.title), ms };
};
window.e2eReady = true;
