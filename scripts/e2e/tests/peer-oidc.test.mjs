// Peer on its own: oauth2-mock-server issuers shaped like WorkOS, Kinde, Auth0, Stytch and Clerk,
// verified with jose (an independent JOSE implementation) against each provider's loopback JWKS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify, createLocalJWKSet } from 'jose';
import { startIssuers } from '../lib/oidc.mjs';
import { suite } from '../lib/suite.mjs';
import { jwtHeader } from '../lib/util.mjs';

let iss;
suite({ async start({ own }) { iss = await own(startIssuers()); } });

const subFormats = {
  workos: /^user_[0-9A-Z]{26}$/,
  kinde: /^kp_[0-9a-f]{32}$/,
  auth0: /^auth0\|[0-9a-f]{24}$/,
  stytch: /^user-test-[0-9a-f-]{36}$/,
  clerk: /^user_[A-Za-z0-9]{27}$/,
};

for (const name of ['workos', 'kinde', 'auth0', 'stytch', 'clerk']) {
  test(`${name}: RS256 token with the provider's issuer, audience and subject shape verifies against its JWKS`, async () => {
    const p = iss.providers[name];
    const { token, sub } = await p.mint();
    assert.deepEqual(Object.keys(jwtHeader(token)).sort(), ['alg', 'kid', 'typ']);
    assert.equal(jwtHeader(token).alg, 'RS256');
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(p.jwksUrl)), { issuer: p.issuer, algorithms: ['RS256'] });
    assert.equal(payload.sub, sub);
    assert.match(sub, subFormats[name]);
    if (name === 'auth0') { assert.ok(p.issuer.endsWith('/')); assert.ok(payload.aud.includes(p.config.audience)); }
    if (name === 'kinde') assert.ok(Array.isArray(payload.aud));
    if (name === 'stytch') { assert.equal(payload.iss, `stytch.com/${p.config.projectId}`); assert.ok(payload['https://stytch.com/session'].id); }
    if (name === 'clerk') { assert.equal(payload.aud, undefined); assert.equal(payload.azp, 'http://127.0.0.1:5173'); }
    if (name === 'workos') { assert.equal(payload.aud, undefined); assert.equal(payload.role, 'member'); }
  });

  test(`${name}: rotation publishes the new key next to the old one; tokens from both verify`, async () => {
    const p = iss.providers[name];
    const before = p.kid;
    const { token: oldTok } = await p.mint();
    const kid = await p.rotate();
    assert.notEqual(kid, before);
    const { token: newTok } = await p.mint();
    assert.equal(jwtHeader(newTok).kid, kid);
    const jwks = await (await fetch(p.jwksUrl)).json();
    assert.ok(jwks.keys.some((k) => k.kid === before) && jwks.keys.some((k) => k.kid === kid));
    assert.ok(jwks.keys.every((k) => !('d' in k)), 'JWKS must not leak private parts');
    const set = createLocalJWKSet(jwks);
    await jwtVerify(oldTok, set, { issuer: p.issuer });
    await jwtVerify(newTok, set, { issuer: p.issuer });
  });

  test(`${name}: an expired token and a token from an unpublished key fail verification`, async () => {
    const p = iss.providers[name];
    const { token: expired } = await p.mint({ expiresIn: -600 });
    await assert.rejects(jwtVerify(expired, createRemoteJWKSet(new URL(p.jwksUrl)), { issuer: p.issuer }), /exp/);
    const { token: rogue } = await p.mintUnpublished();
    await assert.rejects(jwtVerify(rogue, createRemoteJWKSet(new URL(p.jwksUrl)), { issuer: p.issuer }), /matching key|no applicable key/i);
  });
}
