// Through the local runner: a minted token never claims more, or lives longer, than the
// provider's credential. Real peers: Better Auth in production cookie mode
// (advanced.useSecureCookies → __Secure-better-auth.session_token) and the OIDC issuers.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld } from '../lib/world.mjs';
import { baClient } from '../lib/better-auth.mjs';
import { callBridge, assertMinted, assertRefused } from '../lib/assert-token.mjs';
import { suite } from '../lib/suite.mjs';
import { jwtPayload } from '../lib/util.mjs';

const SECURE_COOKIE = '__Secure-better-auth.session_token';
let w;
const { skip } = suite({ deps: ['go', 'postgres'], timeout: 360_000, async start({ own }) {
  w = await own(startWorld({ browser: false, betterAuth: { advanced: { useSecureCookies: true } } }));
} });

describe('Better Auth with useSecureCookies (real server) → /token/better-auth', { skip }, () => {
  let s;
  const ba = () => baClient(w.ba.url);
  before(async () => { s = await ba().signUp(`secure-${Date.now()}@example.com`, 'correct horse battery', 'Sec'); });

  it('Better Auth sets __Secure-better-auth.session_token (Secure, HttpOnly)', () => {
    assert.ok(s.cookie.startsWith(`${SECURE_COOKIE}=`), s.cookie);
    assert.match(s.setCookie, /;\s*Secure/i);
    assert.match(s.setCookie, /;\s*HttpOnly/i);
  });

  it('the __Secure- cookie mints for that user; expires_at never beyond the session; no unverified email', async () => {
    const r = await callBridge(w.api, 'better-auth', { cookie: s.cookie, method: 'GET' });
    const { payload } = await assertMinted(r, { secret: w.jwtSecret, sub: s.user.id, label: 'secure cookie' });
    assert.equal(s.user.emailVerified, false, 'email+password sign-up leaves the email unverified');
    assert.equal(payload.email, undefined, 'an unverified email never reaches the InsForge token');
    assert.ok(r.body.expires_in <= 15 * 60, 'capped at TOKEN_TTL (the session lives 7 days)');
  });

  it('the same value under the non-secure name is refused: Better Auth itself ignores it', async () => {
    const value = s.cookie.slice(SECURE_COOKIE.length + 1);
    assertRefused(await callBridge(w.api, 'better-auth', { cookie: `better-auth.session_token=${value}` }), 401,
      { code: 'invalid_token', label: 'plain name' });
  });

  it('the session cookie twice (cookie tossing) is refused, like two Authorization headers', async () => {
    const other = await ba().signUp(`tossed-${Date.now()}@example.com`, 'correct horse battery', 'Other');
    assertRefused(await callBridge(w.api, 'better-auth', { cookie: `${other.cookie}; ${s.cookie}` }), 401,
      { code: 'invalid_token', label: 'two session cookies' });
  });

  it('after sign-out the __Secure- cookie is refused', async () => {
    const t = await ba().signIn(s.user.email, 'correct horse battery');
    await assertMinted(await callBridge(w.api, 'better-auth', { cookie: t.cookie }), { secret: w.jwtSecret, sub: s.user.id });
    await ba().signOut(t.cookie);
    assertRefused(await callBridge(w.api, 'better-auth', { cookie: t.cookie }), 401, { code: 'invalid_token', label: 'signed out' });
  });
});

describe('OIDC peer → exp = min(now + TOKEN_TTL, credential exp)', { skip }, () => {
  const p = (name) => w.issuers.providers[name];

  it('a WorkOS token with 20 s left mints a token expiring with it, and says so', async () => {
    const { token, sub } = await p('workos').mint({ expiresIn: 20 });
    const credExp = jwtPayload(token).exp;
    const r = await callBridge(w.api, 'workos', { bearer: token });
    const { payload } = await assertMinted(r, { secret: w.jwtSecret, sub, label: 'short-lived' });
    assert.equal(payload.exp, credExp, 'exp is the credential\'s exp');
    assert.equal(r.body.expires_at, credExp);
    assert.ok(r.body.expires_in > 0 && r.body.expires_in <= 20, `expires_in ${r.body.expires_in}`);
  });

  it('a token with 3 s left is refused as expired (no 3-second tokens)', async () => {
    const { token } = await p('workos').mint({ expiresIn: 3 });
    assertRefused(await callBridge(w.api, 'workos', { bearer: token }), 401, { code: 'token_expired' });
  });

  it('a token that expired 10 s ago (inside the clock leeway) is refused as expired', async () => {
    const { token } = await p('clerk').mint({ mutate: (payload) => { payload.exp = Math.floor(Date.now() / 1000) - 10; } });
    assertRefused(await callBridge(w.api, 'clerk', { bearer: token }), 401, { code: 'token_expired' });
  });

  it('a long-lived Auth0 token (24 h) is capped at TOKEN_TTL', async () => {
    const { token, sub } = await p('auth0').mint({ expiresIn: 86400 });
    const r = await callBridge(w.api, 'auth0', { bearer: token });
    const { payload } = await assertMinted(r, { secret: w.jwtSecret, sub });
    assert.equal(payload.exp - payload.iat, 15 * 60);
  });
});

describe('OIDC peer → machine and third-party tokens are not user sessions', { skip }, () => {
  const p = (name) => w.issuers.providers[name];
  const cases = [
    ['auth0', 'client-credentials token', (x) => { x.gty = 'client-credentials'; x.sub = `${x.azp}@clients`; }, 'not_user_session'],
    ['clerk', 'token without sid', (x) => { delete x.sid; }, 'not_user_session'],
    ['workos', 'token without sid', (x) => { delete x.sid; }, 'not_user_session'],
    ['workos', 'impersonation token (act)', (x) => { x.act = { sub: 'admin@example.com' }; }, 'impersonation_refused'],
    ['stytch', 'token without the session claim (M2M)', (x) => { delete x['https://stytch.com/session']; }, 'not_user_session'],
    ['kinde', 'client-credentials token', (x) => { x.gty = ['client_credentials']; }, 'not_user_session'],
  ];
  for (const [name, what, mutate, code] of cases) {
    it(`${name}: ${what} → 401 ${code}, nothing minted`, async () => {
      const { token } = await p(name).mint({ mutate });
      assertRefused(await callBridge(w.api, name, { bearer: token }), 401, { code, label: `${name} ${what}` });
    });
  }

  it('clerk: the __session cookie twice is refused', async () => {
    const { token: a } = await p('clerk').mint();
    const { token: b } = await p('clerk').mint();
    assertRefused(await callBridge(w.api, 'clerk', { cookie: `__session=${a}; __session=${b}`, method: 'GET' }), 401, { code: 'invalid_token' });
  });
});
