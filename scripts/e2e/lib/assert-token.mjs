// Assertions on what a bridge answers, shared by the through-the-runner tests.
import assert from 'node:assert/strict';
import { jwtVerify } from 'jose';
import { createClient } from '@insforge/sdk';
import { fetchT } from './util.mjs';

/** Calls a bridge the way a server or curl would. */
export async function callBridge(api, provider, { bearer, cookie, method = 'POST', origin } = {}) {
  const headers = {};
  if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
  if (cookie) headers.cookie = cookie;
  if (origin) headers.origin = origin;
  const res = await fetchT(`${api}/token/${provider}`, { method, headers });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: res.status, headers: res.headers, body };
}

/** A 200 from a bridge: contract shape, HS256 with the InsForge secret, fixed role, sub as given. */
export async function assertMinted(r, { secret, sub, label = '' }) {
  assert.equal(r.status, 200, `${label}: expected 200, got ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.headers.get('cache-control'), 'no-store', `${label}: Cache-Control`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  const { token, token_type: type, expires_in: expiresIn, expires_at: expiresAt } = r.body;
  assert.equal(type, 'Bearer');
  assert.equal(typeof expiresIn, 'number');
  const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'], audience: 'insforge-api' });
  assert.equal(protectedHeader.alg, 'HS256');
  assert.equal(payload.sub, sub, `${label}: minted sub`);
  assert.equal(payload.role, 'authenticated', `${label}: role is fixed, never copied`);
  assert.equal(payload.exp, expiresAt, `${label}: expires_at = exp`);
  assert.ok(Math.abs(payload.exp - payload.iat - expiresIn) <= 2, `${label}: expires_in = exp - iat`);
  return { token, payload };
}

/** An error from a bridge: JSON {error, message}, the status, and never a token. */
export function assertRefused(r, status, { code, label = '' } = {}) {
  assert.equal(r.status, status, `${label}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(typeof r.body, 'object', `${label}: JSON error body`);
  assert.equal(typeof r.body.error, 'string');
  assert.match(r.body.error, /^[a-z0-9_]+$/, `${label}: snake_case error code`);
  assert.equal(typeof r.body.message, 'string');
  assert.equal(r.body.token, undefined, `${label}: nothing minted on an error path`);
  if (code) assert.equal(r.body.error, code, label);
}

/** @insforge/sdk with a minted token, as an app uses it (Node). */
export function sdkFor(insforge, token) {
  const client = createClient({ baseUrl: insforge.url, anonKey: insforge.anonKey });
  client.setAccessToken(token);
  return client;
}

/** Inserts one todo with the token, then returns every row the token can read. */
export async function todoRoundTrip(insforge, token, title) {
  const c = sdkFor(insforge, token);
  const ins = await c.database.from('todos').insert([{ title }]).select();
  assert.equal(ins.error, null, `insert: ${JSON.stringify(ins.error)}`);
  const all = await c.database.from('todos').select('*');
  assert.equal(all.error, null, `select: ${JSON.stringify(all.error)}`);
  return { inserted: ins.data[0], rows: all.data };
}
