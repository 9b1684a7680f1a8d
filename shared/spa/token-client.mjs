// Keeps an @insforge/sdk client signed in with InsForge tokens from a token bridge
// (POST /token/<provider>, docs/openapi.yaml). No dependencies; copy it into your app
// or import it from here. Types: token-client.d.ts.
//
// Rules (each has a unit test in token-client.test.mjs):
// - one fetch at a time: concurrent getToken() calls share it;
// - every new token goes to insforge.setAccessToken(token);
// - refresh ahead of expires_at (refreshBefore, at most a third of the lifetime, minus
//   random jitter), never sooner than minInterval after the previous fetch;
// - 503/429 (and network errors, other 5xx): retry after the exponential backoff, or
//   after Retry-After when it asks for longer (a "0" or a past date never shortens the
//   wait); every wait is capped at maxBackoff; the current token stays in use meanwhile;
// - 401, a getter that says "signed out" (null, LoginRequiredError, login_required):
//   stop, clear the SDK's token, emit "signed-out";
// - other 4xx (bad configuration: origin not allowed, wrong method): stop, emit a fatal "error";
// - while the tab is hidden no timer fetches; on focus/visible it refreshes if due;
// - never logs (tokens and credentials never reach the console).
// Wallet mode (wallet: {...}, url `${API}/token/wallet`): each fetch gets a nonce from
// GET <url>/nonce, builds a Sign-In with Ethereum (EIP-4361) message for this page,
// has the injected signer sign it and POSTs {message, signature}; the same rules apply
// (a signer that refuses, or no account, is "signed out").

const DEFAULTS = {
  refreshBefore: 60_000,
  jitter: 10_000,
  minInterval: 5_000,
  backoffBase: 1_000,
  maxBackoff: 60_000,
  expirySkew: 5_000,
  timeout: 15_000,
};

/** Thrown (or returned as reason) when the provider says the user is not signed in. */
export class SignedOutError extends Error {
  constructor(message = 'signed out') {
    super(message);
    this.name = 'SignedOutError';
  }
}

/**
 * isSignedOutError reports whether an error thrown by a credential getter means
 * "no session" rather than a failure: SignedOutError, WorkOS AuthKit's
 * LoginRequiredError, Auth0 SPA SDK's login_required / consent_required /
 * missing_refresh_token errors.
 */
export function isSignedOutError(err) {
  if (!err || typeof err !== 'object') return false;
  if (err.name === 'SignedOutError' || err.name === 'LoginRequiredError') return true;
  const code = err.error ?? err.code;
  return code === 'login_required' || code === 'consent_required' || code === 'missing_refresh_token' ||
    code === 'invalid_grant';
}

/**
 * createTokenClient returns a client that fetches, sets and refreshes InsForge tokens.
 * @param {import('./token-client').TokenClientOptions} options
 * @returns {import('./token-client').TokenClient}
 */
export function createTokenClient(options) {
  const o = { ...DEFAULTS, ...options };
  if (typeof o.url !== 'string' || o.url === '') throw new TypeError('createTokenClient: url is required');
  const wallet = o.wallet ?? null;
  const bearer = typeof o.getCredential === 'function';
  if (wallet) {
    if (typeof wallet.signMessage !== 'function' || (typeof wallet.getAddress !== 'function' && typeof wallet.address !== 'string')) {
      throw new TypeError('createTokenClient: wallet needs signMessage(message) and getAddress() (or address)');
    }
  } else if (!bearer && o.credentials !== 'include') {
    throw new TypeError("createTokenClient: pass getCredential (bearer), credentials: 'include' (cookie) or wallet");
  }
  const doFetch = o.fetch ?? ((...a) => globalThis.fetch(...a));
  const random = o.random ?? Math.random;
  const doc = o.document === undefined ? globalThis.document : o.document;
  const win = o.window === undefined ? globalThis.window : o.window;

  let state = 'idle'; // idle | active | retrying | signed-out | failed | stopped
  let token = null;
  let expiresAt = 0; // ms
  let lifetime = 0; // ms, of the current token when received
  let lastFetch = -Infinity;
  let attempt = 0; // consecutive retryable failures
  let timer = null;
  let dueAt = 0; // when the timer was meant to fetch
  let dueWhileHidden = false;
  let flight = null; // the one request in progress
  let settled = deferred(); // resolved whenever a flight ends or the client stops
  const listeners = new Set();

  const now = () => Date.now();
  const hidden = () => !!doc && doc.visibilityState === 'hidden';
  const terminal = () => state === 'signed-out' || state === 'failed' || state === 'stopped';
  const valid = () => token !== null && now() < expiresAt - Math.min(o.expirySkew, lifetime / 10);

  function emit(event) {
    for (const l of [...listeners]) {
      try { l(event); } catch { /* a listener's failure must not stop refreshing */ }
    }
  }

  function schedule(delay) {
    clearTimeout(timer);
    dueAt = now() + delay;
    dueWhileHidden = false;
    timer = setTimeout(onTimer, delay);
  }

  function onTimer() {
    timer = null;
    if (terminal()) return;
    if (hidden()) { dueWhileHidden = true; return; } // paused: the visible/focus handler resumes
    refresh();
  }

  function onVisible() {
    if (terminal() || hidden() || flight) return;
    if (dueWhileHidden || (timer !== null && now() >= dueAt)) {
      clearTimeout(timer);
      timer = null;
      dueWhileHidden = false;
      refresh();
    }
  }

  function refresh() {
    if (terminal()) return Promise.resolve(null);
    if (!flight) {
      flight = attemptFetch().finally(() => {
        flight = null;
        const s = settled;
        settled = deferred();
        s.resolve();
      });
    }
    return flight;
  }

  async function credential() {
    if (!bearer) return { ok: true };
    let c;
    try {
      c = await o.getCredential();
    } catch (err) {
      if (isSignedOutError(err)) return { signedOut: 'credential' };
      return { error: err };
    }
    if (c === null || c === undefined || c === '') return { signedOut: 'credential' };
    if (typeof c !== 'string') return { error: new TypeError('getCredential must resolve to a string or null') };
    return { ok: true, value: c };
  }

  // walletSignIn gets a nonce, builds and signs the sign-in message: the POST body.
  async function walletSignIn(signal) {
    let address;
    try {
      address = typeof wallet.getAddress === 'function' ? await wallet.getAddress() : wallet.address;
    } catch (err) {
      return isSignedOutError(err) ? { signedOut: 'wallet' } : { error: err };
    }
    if (!address) return { signedOut: 'wallet' };
    const res = await doFetch(o.url.replace(/\/+$/, '') + '/nonce', { method: 'GET', headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'omit', signal });
    const nb = await res.json().catch(() => null);
    if (!res.ok || !nb || typeof nb.nonce !== 'string') return { response: res, body: nb };
    const loc = globalThis.location;
    const fields = {
      domain: wallet.domain ?? loc?.host, uri: wallet.uri ?? loc?.origin, address, version: '1', chainId: nb.chain_id ?? wallet.chainId ?? 196,
      nonce: nb.nonce, statement: wallet.statement, issuedAt: new Date(now()),
      expirationTime: wallet.lifetime ? new Date(now() + wallet.lifetime) : undefined,
    };
    const message = (wallet.createMessage ?? siweMessage)(fields);
    let signature;
    try {
      signature = await wallet.signMessage(message);
    } catch (err) {
      // EIP-1193 4001: the user rejected the request.
      return isSignedOutError(err) || err?.code === 4001 ? { signedOut: 'wallet' } : { error: err };
    }
    return { body: JSON.stringify({ message, signature }) };
  }

  async function attemptFetch() {
    lastFetch = now();
    const cred = wallet ? { ok: true } : await credential();
    if (terminal()) return null;
    if (cred.signedOut) return signOut(cred.signedOut);
    if (cred.error) return retry({ error: cred.error });
    const headers = { Accept: 'application/json' };
    if (cred.value) headers.Authorization = `Bearer ${cred.value}`;
    const init = { method: 'POST', headers, cache: 'no-store', credentials: wallet ? 'omit' : bearer ? (o.credentials ?? 'omit') : 'include' };
    let ctl = null;
    let tm = null;
    if (typeof AbortController === 'function' && o.timeout > 0) {
      ctl = new AbortController();
      init.signal = ctl.signal;
      tm = setTimeout(() => ctl.abort(), o.timeout);
    }
    let res;
    let body;
    try {
      if (wallet) {
        const w = await walletSignIn(init.signal);
        if (terminal()) return null;
        if (w.signedOut) return signOut(w.signedOut);
        if (w.error) return retry({ error: w.error });
        if (w.response) { // the nonce request failed: answered like the sign-in itself
          res = w.response;
          body = w.body;
        } else {
          headers['Content-Type'] = 'application/json';
          init.body = w.body;
        }
      }
      if (!res) {
        res = await doFetch(o.url, init);
        body = await res.json().catch(() => null);
      }
    } catch (err) {
      return terminal() ? null : retry({ error: err });
    } finally {
      clearTimeout(tm);
    }
    if (terminal()) return null;
    if (res.ok) {
      if (!body || typeof body.token !== 'string' || (typeof body.expires_in !== 'number' && typeof body.expires_at !== 'number')) {
        return retry({ status: res.status, error: new Error('the bridge answered 200 without token/expires_in') });
      }
      // expires_in (relative) first: a browser clock that is off must not make every
      // fresh token look expired (which would refetch in a loop).
      const exp = typeof body.expires_in === 'number' ? now() + body.expires_in * 1000 : body.expires_at * 1000;
      return accept(body.token, exp);
    }
    const code = body && typeof body.error === 'string' ? body.error : undefined;
    if (res.status === 401) return signOut(code ?? 'unauthorized');
    if (res.status === 429 || res.status >= 500) {
      return retry({ status: res.status, code, retryAfter: parseRetryAfter(res.headers?.get?.('Retry-After')) });
    }
    return fail(res.status, code);
  }

  function accept(value, exp) {
    const t = now();
    token = value;
    expiresAt = exp;
    lifetime = Math.max(0, exp - t);
    attempt = 0;
    state = 'active';
    o.insforge?.setAccessToken(value);
    const lead = Math.min(o.refreshBefore, lifetime / 3) + random() * Math.min(o.jitter, lifetime / 10);
    const delay = Math.max(o.minInterval - (t - lastFetch), exp - t - lead, 0);
    schedule(delay);
    emit({ type: 'token', token: value, expiresAt: exp, refreshAt: t + delay });
    return value;
  }

  function retry({ status, code, error, retryAfter }) {
    attempt++;
    state = 'retrying';
    const backoff = o.backoffBase * 2 ** (attempt - 1) * (1 + random() / 2);
    // The backoff is the floor: Retry-After may only lengthen a wait. A bridge (or a
    // proxy) answering "Retry-After: 0" or a past date would otherwise be called in a
    // tight loop, hundreds of times a second.
    const wait = Math.min(o.maxBackoff, Math.max(backoff, retryAfter ?? 0));
    schedule(Math.max(wait, 0));
    emit({ type: 'error', status, code, message: error ? String(error.message ?? error) : undefined, retryIn: wait, fatal: false });
    return valid() ? token : null;
  }

  function signOut(reason) {
    end('signed-out');
    emit({ type: 'signed-out', reason });
    return null;
  }

  function fail(status, code) {
    end('failed');
    emit({ type: 'error', status, code, fatal: true });
    return null;
  }

  function end(next) {
    state = next;
    clearTimeout(timer);
    timer = null;
    const had = token !== null;
    token = null;
    expiresAt = 0;
    if (had && next !== 'stopped') o.insforge?.setAccessToken(null);
    detach();
    settled.resolve();
  }

  const onVisibility = () => onVisible();
  const onFocus = () => onVisible();
  let attached = false;
  function attach() {
    if (attached) return;
    attached = true;
    doc?.addEventListener?.('visibilitychange', onVisibility);
    win?.addEventListener?.('focus', onFocus);
  }
  function detach() {
    if (!attached) return;
    attached = false;
    doc?.removeEventListener?.('visibilitychange', onVisibility);
    win?.removeEventListener?.('focus', onFocus);
  }

  return {
    async getToken() {
      if (state === 'idle') {
        state = 'active';
        attach();
      }
      for (;;) {
        if (terminal()) return null;
        if (valid()) return token;
        if (state === 'retrying' && !flight) { await settled.promise; continue; } // the scheduled retry is the flight
        // The freshest token is returned even if it is already close to expiry: asking
        // again would only loop.
        const t = await (flight ?? refresh());
        if (t !== null || terminal()) return t;
      }
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop() {
      if (terminal()) return;
      end('stopped');
      emit({ type: 'stopped' });
    },
    get state() { return state; },
  };
}

/**
 * siweMessage lays out an EIP-4361 message (https://eips.ethereum.org/EIPS/eip-4361),
 * as viem's createSiweMessage does. address must be EIP-55 checksummed (wallets and
 * viem accounts give it so).
 */
export function siweMessage({ domain, address, statement, uri, chainId, nonce, issuedAt, expirationTime, notBefore, requestId, resources }) {
  let m = `${domain} wants you to sign in with your Ethereum account:\n${address}\n\n`;
  if (statement) m += `${statement}\n\n`;
  m += `URI: ${uri}\nVersion: 1\nChain ID: ${chainId}\nNonce: ${nonce}\nIssued At: ${issuedAt.toISOString()}`;
  if (expirationTime) m += `\nExpiration Time: ${expirationTime.toISOString()}`;
  if (notBefore) m += `\nNot Before: ${notBefore.toISOString()}`;
  if (requestId) m += `\nRequest ID: ${requestId}`;
  if (resources?.length) m += `\nResources:${resources.map((r) => `\n- ${r}`).join('')}`;
  return m;
}

// parseRetryAfter returns milliseconds from delta-seconds or an HTTP date.
function parseRetryAfter(v) {
  if (v == null || v === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}
