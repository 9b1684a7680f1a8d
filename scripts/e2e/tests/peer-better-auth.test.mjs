// Peer on its own: a real Better Auth server (better-auth + pg) with email+password, bearer() and
// jwt(), tables created by Better Auth's own migrations in the `better_auth` schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startPostgres } from '../lib/pg.mjs';
import { startBetterAuth, baClient, SCHEMA } from '../lib/better-auth.mjs';
import { suite } from '../lib/suite.mjs';
import { jwtHeader } from '../lib/util.mjs';

let pgs; let ba; let c;
const { skip } = suite({ deps: ['postgres'], async start({ own }) {
  pgs = await own(startPostgres());
  ba = await own(startBetterAuth({ databaseUrl: pgs.url }));
  c = baClient(ba.url);
} });

test('Better Auth: migrations create its tables in the better_auth schema', { skip }, async () => {
  const db = new pg.Client({ connectionString: pgs.url });
  await db.connect();
  try {
    const r = await db.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [SCHEMA]);
    assert.deepEqual(r.rows.map((x) => x.table_name), ['account', 'jwks', 'session', 'user', 'verification']);
  } finally { await db.end(); }
});

test('Better Auth: sign-up, sign-in, get-session by cookie and by bearer, /token (EdDSA) verifies against /jwks, sign-out', { skip }, async () => {
  const email = `peer-${Date.now()}@example.com`;
  const up = await c.signUp(email, 'correct horse battery', 'Peer');
  assert.match(up.user.id, /^[A-Za-z0-9]{32}$/);
  assert.match(up.cookie, /^better-auth\.session_token=[A-Za-z0-9]{32}\.[A-Za-z0-9%]+$/);
  const sin = await c.signIn(email, 'correct horse battery');
  assert.equal(sin.user.id, up.user.id);
  // Signed cookie value = token "." standard-base64 HMAC (44 chars with padding), URL-encoded.
  const raw = decodeURIComponent(sin.cookie.split('=').slice(1).join('='));
  const [tok, sig] = [raw.slice(0, raw.lastIndexOf('.')), raw.slice(raw.lastIndexOf('.') + 1)];
  assert.equal(tok, sin.sessionToken);
  assert.equal(sig.length, 44);
  assert.ok(sig.endsWith('='));

  for (const headers of [{ cookie: sin.cookie }, { authorization: `Bearer ${sin.sessionToken}` }, { authorization: `Bearer ${sin.signedToken}` }]) {
    const r = await c.get('/get-session', headers);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const body = await r.json();
    assert.equal(body?.user?.id, up.user.id, `get-session with ${Object.keys(headers)[0]}`);
  }

  const tr = await c.get('/token', { cookie: sin.cookie });
  assert.equal(tr.status, 200);
  const { token } = await tr.json();
  assert.equal(jwtHeader(token).alg, 'EdDSA');
  const jwks = await (await c.get('/jwks')).json();
  assert.equal(jwks.keys[0].kty, 'OKP');
  assert.equal(jwks.keys[0].crv, 'Ed25519');
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${ba.url}/api/auth/jwks`)),
    { issuer: ba.origin, audience: ba.origin, algorithms: ['EdDSA'] });
  assert.equal(payload.sub, up.user.id);
  assert.ok(payload.exp - payload.iat <= 15 * 60);

  await c.signOut(sin.cookie);
  const after = await c.get('/get-session', { cookie: sin.cookie });
  assert.equal(after.status, 200);
  assert.equal(await after.text(), 'null', 'a signed-out session reads as a null body');
});

test('Better Auth: a wrong password is refused and mints no session', { skip }, async () => {
  const email = `wrong-${Date.now()}@example.com`;
  await c.signUp(email, 'correct horse battery', 'W');
  const r = await c.post('/sign-in/email', { email, password: 'incorrect horse' });
  assert.equal(r.status, 401);
  assert.equal(r.headers.getSetCookie().filter((x) => x.includes('session_token=') && !x.includes('Max-Age=0')).length, 0);
});
