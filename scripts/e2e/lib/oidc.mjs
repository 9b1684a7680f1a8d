// Real OIDC/OAuth2 servers (oauth2-mock-server, one per provider) issuing RS256 access tokens
// shaped like WorkOS, Kinde, Auth0, Stytch session JWTs and Clerk session tokens (claims as each
// provider documents them; the links are in docs/providers.md). Each provider keeps its real issuer string while its JWKS is
// served from loopback at the provider's real JWKS path, so the bridges run with only URL overrides.
import { randomUUID, randomBytes } from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';
import { freePort, LOOPBACK } from './util.mjs';

const alnum = (n) => {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(n), (b) => abc[b % abc.length]).join('');
};
const ulid = () => Array.from(randomBytes(26), (b) => '0123456789ABCDEFGHJKMNPQRSTVWXYZ'[b % 32]).join('');

/**
 * Provider shapes. issuer/audience are what the real provider puts in its tokens; env() is the
 * bridge configuration (template.yaml variable names) pointing the JWKS at loopback.
 */
export const PROVIDERS = {
  workos: {
    clientId: `client_${ulid()}`,
    jwksPath: (p) => `/sso/jwks/${p.clientId}`,
    issuer: (p) => `https://api.workos.com/user_management/${p.clientId}`,
    newSub: () => `user_${ulid()}`,
    claims: (p, sub) => ({ sub, sid: `session_${ulid()}`, org_id: `org_${ulid()}`, role: 'member', roles: ['member'], permissions: [], jti: ulid() }),
    ttl: 300,
    env: (p, jwks) => ({ WORKOS_CLIENT_ID: p.clientId, WORKOS_JWKS_URL: jwks }),
    foreignAud: (payload) => { payload.iss = 'https://api.workos.com/user_management/client_SOMEONEELSE'; },
  },
  kinde: {
    domain: 'e2e-app.kinde.com',
    audience: 'https://api.e2e.example',
    jwksPath: () => '/.well-known/jwks',
    issuer: (p) => `https://${p.domain}`,
    newSub: () => `kp_${randomBytes(16).toString('hex')}`,
    claims: (p, sub) => ({ sub, aud: [p.audience], azp: randomBytes(16).toString('hex'), scp: ['openid', 'profile', 'email', 'offline'], jti: randomUUID(), org_code: `org_${randomBytes(6).toString('hex')}` }),
    ttl: 86400,
    env: (p, jwks) => ({ KINDE_ISSUER_URL: p.issuer(p), KINDE_JWKS_URL: jwks, KINDE_AUDIENCE: p.audience }),
    foreignAud: (payload) => { payload.aud = ['https://api.someone-else.example']; },
  },
  auth0: {
    domain: 'e2e-tenant.us.auth0.com',
    audience: 'https://api.e2e.example',
    jwksPath: () => '/.well-known/jwks.json',
    issuer: (p) => `https://${p.domain}/`, // trailing slash, as Auth0 issues it
    newSub: () => `auth0|${randomBytes(12).toString('hex')}`,
    claims: (p, sub) => ({ sub, aud: [p.audience, `https://${p.domain}/userinfo`], azp: alnum(32), scope: 'openid profile email', permissions: [] }),
    ttl: 86400,
    env: (p, jwks) => ({ AUTH0_DOMAIN: p.domain, AUTH0_AUDIENCE: p.audience, AUTH0_JWKS_URL: jwks }),
    foreignAud: (payload) => { payload.aud = ['https://api.someone-else.example', 'https://e2e-tenant.us.auth0.com/userinfo']; },
  },
  stytch: {
    projectId: `project-test-${randomUUID()}`,
    jwksPath: (p) => `/v1/sessions/jwks/${p.projectId}`,
    issuer: (p) => `stytch.com/${p.projectId}`,
    newSub: () => `user-test-${randomUUID()}`,
    claims: (p, sub) => {
      const now = new Date();
      return {
        sub,
        aud: [p.projectId],
        'https://stytch.com/session': {
          id: `session-test-${randomUUID()}`,
          started_at: now.toISOString(),
          last_accessed_at: now.toISOString(),
          expires_at: new Date(now.getTime() + 3600e3).toISOString(),
          attributes: { ip_address: '', user_agent: '' },
          authentication_factors: [{ type: 'password', delivery_method: 'knowledge', last_authenticated_at: now.toISOString() }],
          roles: ['stytch_user'],
        },
      };
    },
    ttl: 300,
    env: (p, jwks) => ({ STYTCH_PROJECT_ID: p.projectId, STYTCH_JWKS_URL: jwks, STYTCH_SECRET: `secret-test-${alnum(36)}` }),
    foreignAud: (payload) => { payload.aud = ['project-test-00000000-0000-0000-0000-000000000000']; },
  },
  clerk: {
    frontendApi: 'https://e2e-app.clerk.accounts.dev',
    jwksPath: () => '/.well-known/jwks.json',
    issuer: (p) => p.frontendApi,
    newSub: () => `user_${alnum(27)}`,
    claims: (p, sub) => ({ sub, sid: `sess_${alnum(27)}`, azp: p.azp, v: 2, fva: [0, -1], sts: 'active', jti: alnum(20) }),
    ttl: 60,
    env: (p, jwks) => ({ CLERK_ISSUER: p.frontendApi, CLERK_JWKS_URL: jwks, CLERK_AUTHORIZED_PARTIES: p.azp }),
    // Clerk session tokens carry no aud; the "foreign audience" equivalent is a foreign azp.
    foreignAud: (payload) => { payload.azp = 'https://evil.example'; },
  },
  // The generic OIDC bridge: the issuer is the mock server itself, so the bridge finds jwks_uri and
  // RS256 in the server's own discovery document (/.well-known/openid-configuration).
  oidc: {
    audience: 'e2e-oidc-client',
    jwksPath: () => '/jwks',
    issuer: (p) => p.url,
    newSub: () => randomUUID(),
    claims: (p, sub) => ({ sub, aud: p.audience, azp: p.audience, email: `${sub}@example.test`, email_verified: true, auth_time: Math.floor(Date.now() / 1000) }),
    ttl: 3600,
    env: (p) => ({ OIDC_ISSUER: p.url, OIDC_AUDIENCE: p.audience }),
    foreignAud: (payload) => { payload.aud = 'someone-else'; payload.azp = 'someone-else'; },
  },
};

/**
 * Starts one oauth2-mock-server per provider. Returns {providers, stop} where each provider has
 * {name, jwksUrl, issuer, env, mint(opts), rotate(), kid}.
 * mint({sub, expiresIn, mutate, kid}) signs with the current key (RS256, typ JWT).
 */
export async function startIssuers({ spaOrigin = 'http://127.0.0.1:5173', names = Object.keys(PROVIDERS) } = {}) {
  const out = {};
  const servers = [];
  for (const name of names) {
    const p = { ...PROVIDERS[name] };
    if (name === 'clerk') p.azp = spaOrigin;
    const port = await freePort();
    p.url = `http://${LOOPBACK}:${port}`;
    const server = new OAuth2Server(undefined, undefined, { endpoints: { jwks: p.jwksPath(p) } });
    let key = await server.issuer.keys.generate('RS256', { kid: `${name}-k1-${alnum(8)}` });
    await server.start(port, LOOPBACK);
    servers.push(server);
    const jwksUrl = `http://${LOOPBACK}:${port}${p.jwksPath(p)}`;
    const issuer = p.issuer(p);
    server.issuer.url = issuer; // tokens carry the provider's real issuer string
    // Tokens from the /token endpoint (what the SPA calls from the browser) get the provider's shape.
    server.service.on('beforeTokenSigning', (token) => {
      const { scope, aud, ...rest } = token.payload; // drop the mock server's client_credentials fields
      token.payload = { ...rest, ...p.claims(p, p.newSub()) };
      token.payload.exp = token.payload.iat + p.ttl;
    });
    const prov = {
      name,
      port,
      jwksUrl,
      issuer,
      config: p,
      env: p.env(p, jwksUrl),
      get kid() { return key.kid; },
      newSub: p.newSub,
      async mint({ sub = p.newSub(), expiresIn = p.ttl, mutate, kid = key.kid } = {}) {
        const token = await server.issuer.buildToken({
          kid,
          expiresIn,
          scopesOrTransform: (header, payload) => {
            Object.assign(payload, p.claims(p, sub));
            if (expiresIn < 0) { payload.iat = payload.exp - p.ttl; payload.nbf = payload.iat; }
            mutate?.(payload, header);
          },
        });
        return { token, sub };
      },
      foreignAud: p.foreignAud,
      /** Publishes a new key (next to the old one, as real providers do) and signs with it from now on. */
      async rotate() {
        key = await server.issuer.keys.generate('RS256', { kid: `${name}-k${Date.now()}-${alnum(6)}` });
        return key.kid;
      },
      /** Tokens from a brand-new key the JWKS never publishes (for the unknown-kid refusal). */
      async mintUnpublished(opts = {}) {
        const rogue = new OAuth2Server();
        await rogue.issuer.keys.generate('RS256', { kid: `rogue-${alnum(8)}` });
        rogue.issuer.url = issuer;
        const token = await rogue.issuer.buildToken({
          scopesOrTransform: (h, payload) => Object.assign(payload, p.claims(p, opts.sub ?? p.newSub())),
        });
        return { token };
      },
    };
    out[name] = prov;
  }
  return {
    providers: out,
    async stop() { await Promise.all(servers.map((s) => s.stop().catch(() => {}))); },
  };
}
