// The generic OpenID Connect bridge end to end: a real OIDC server (oauth2-mock-server, which serves
// discovery) and the real token-oidc binary behind the local runner, configured with only
// OIDC_ISSUER and OIDC_AUDIENCE — the JWKS URL and RS256 come from the discovery document.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startIssuers } from '../lib/oidc.mjs';
import { startRunner } from '../lib/stack.mjs';
import { suite } from '../lib/suite.mjs';
import { callBridge, assertMinted, assertRefused } from '../lib/assert-token.mjs';
import { fetchT, jwtHeader } from '../lib/util.mjs';

let iss; let runner; let p; const secret = randomBytes(32).toString('hex');
const { skip } = suite({ deps: ['go'], timeout: 360_000, async start({ own }) {
  iss = await own(startIssuers({ names: ['oidc'] }));
  p = iss.providers.oidc;
  runner = await own(startRunner({ envVars: { Parameters: { INSFORGE_JWT_SECRET: secret, TOKEN_TTL: '15m', ...p.env } } }));
} });

describe('OIDC server (oauth2-mock-server) → /token/oidc, configured by discovery', { skip }, () => {
  it('the peer publishes a discovery document naming itself as issuer, its jwks_uri and RS256', async () => {
    const doc = await (await fetchT(`${p.issuer}/.well-known/openid-configuration`)).json();
    assert.equal(doc.issuer, p.issuer);
    assert.equal(doc.jwks_uri, `${p.issuer}/jwks`);
    assert.ok(doc.id_token_signing_alg_values_supported.includes('RS256'));
    assert.deepEqual(Object.keys(p.env).sort(), ['OIDC_AUDIENCE', 'OIDC_ISSUER'], 'no JWKS URL or algorithm is configured');
  });

  it('a valid token mints an InsForge token for its subject, with the verified email', async () => {
    const { token, sub } = await p.mint();
    const { payload } = await assertMinted(await callBridge(runner.url, 'oidc', { bearer: token }), { secret, sub, label: 'oidc' });
    assert.equal(payload.email, `${sub}@example.test`);
  });

  it('a token with 90 s left mints a token that expires with it, not after TOKEN_TTL', async () => {
    const { token, sub } = await p.mint({ expiresIn: 90 });
    const { payload } = await assertMinted(await callBridge(runner.url, 'oidc', { bearer: token }), { secret, sub, label: 'short-lived' });
    assert.equal(payload.exp, JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).exp);
  });

  it('an email without email_verified is not copied', async () => {
    const { token, sub } = await p.mint({ mutate: (c) => { delete c.email_verified; } });
    const { payload } = await assertMinted(await callBridge(runner.url, 'oidc', { bearer: token }), { secret, sub, label: 'unverified' });
    assert.equal(payload.email, undefined);
  });

  it('expired, foreign-audience and client-credentials tokens are refused (401)', async () => {
    const { token: expired } = await p.mint({ expiresIn: -600 });
    assertRefused(await callBridge(runner.url, 'oidc', { bearer: expired }), 401, { code: 'token_expired', label: 'expired' });
    const { token: foreign } = await p.mint({ mutate: p.foreignAud });
    assertRefused(await callBridge(runner.url, 'oidc', { bearer: foreign }), 401, { code: 'invalid_token', label: 'foreign aud' });
    const { token: machine } = await p.mint({ mutate: (c) => { c.sub = p.config.audience; c.client_id = p.config.audience; } });
    assertRefused(await callBridge(runner.url, 'oidc', { bearer: machine }), 401, { code: 'not_user_session', label: 'machine token' });
  });

  // Rotation before the unknown-kid probe: a refetch for an unknown kid arms the refetch cooldown.
  it('key rotation on the provider is picked up without restarting the function', async () => {
    const { token: before, sub: s1 } = await p.mint();
    await assertMinted(await callBridge(runner.url, 'oidc', { bearer: before }), { secret, sub: s1, label: 'before rotation' });
    const kid = await p.rotate();
    const { token: after, sub: s2 } = await p.mint();
    assert.equal(jwtHeader(after).kid, kid);
    await assertMinted(await callBridge(runner.url, 'oidc', { bearer: after }), { secret, sub: s2, label: 'rotated' });
    // The key published before the rotation is still listed, so its tokens keep working.
    await assertMinted(await callBridge(runner.url, 'oidc', { bearer: before }), { secret, sub: s1, label: 'old key still published' });
  });

  it('a token signed by a key the provider never published: 503 + Retry-After while the refetch cools down', async () => {
    const { token } = await p.mintUnpublished();
    const r = await callBridge(runner.url, 'oidc', { bearer: token });
    assertRefused(r, 503, { code: 'provider_unavailable', label: 'unknown kid' });
    assert.match(r.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  });
});
