// A real Better Auth server (better-auth + pg), tables in the `better_auth` schema as in the
// InsForge guide, email+password on, bearer() and jwt() plugins on (jwt: EdDSA/Ed25519 default).
// Run in-process by the tests, or standalone: `node lib/better-auth.mjs` (DATABASE_URL, PORT).
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { betterAuth } from 'better-auth';
import { bearer, jwt } from 'better-auth/plugins';
import { toNodeHandler } from 'better-auth/node';
import { getMigrations } from 'better-auth/db/migration';
import { freePort, LOOPBACK } from './util.mjs';

export const SCHEMA = 'better_auth';

/**
 * Starts Better Auth on 127.0.0.1:<port>. Returns {url, origin, auth, pool, stop}.
 * trustedOrigins are also answered with CORS (credentials allowed), the way an SPA on
 * another origin talks to Better Auth.
 */
export async function startBetterAuth({ databaseUrl, port, trustedOrigins = [], secret, advanced } = {}) {
  port ??= await freePort();
  const origin = `http://${LOOPBACK}:${port}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: databaseUrl, options: `-c search_path=${SCHEMA}`, max: 5 });
  const options = {
    baseURL: origin,
    secret: secret ?? randomBytes(32).toString('hex'),
    database: pool,
    emailAndPassword: { enabled: true, autoSignIn: true },
    plugins: [bearer(), jwt()],
    trustedOrigins,
    ...(advanced ? { advanced } : {}),
    logger: { disabled: !process.env.E2E_VERBOSE },
    telemetry: { enabled: false },
  };
  // Better Auth's own migrations, run programmatically (what `npx @better-auth/cli migrate` does).
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  const auth = betterAuth(options);
  const handler = toNodeHandler(auth);
  const allowed = new Set(trustedOrigins);
  const server = http.createServer((req, res) => {
    const o = req.headers.origin;
    if (o && allowed.has(o)) {
      res.setHeader('Access-Control-Allow-Origin', o);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Expose-Headers', 'set-auth-token, set-auth-jwt');
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] || 'content-type');
        res.writeHead(204).end();
        return;
      }
    }
    handler(req, res);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, LOOPBACK, resolve));
  return {
    url: origin,
    origin,
    auth,
    pool,
    async stop() {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(() => r()));
      await pool.end();
    },
  };
}

/** Client helpers speaking Better Auth's HTTP API the way its browser client does. */
export function baClient(baseUrl, origin = baseUrl) {
  const post = (p, body, headers = {}) => fetch(`${baseUrl}/api/auth${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin, ...headers },
    body: JSON.stringify(body ?? {}),
    signal: AbortSignal.timeout(15_000),
  });
  const get = (p, headers = {}) => fetch(`${baseUrl}/api/auth${p}`, { headers: { origin, ...headers }, signal: AbortSignal.timeout(15_000) });
  return {
    post,
    get,
    /** Signs up (or in, when the user exists) and returns {user, sessionToken, cookie, signedToken}. */
    async signUp(email, password, name) {
      const r = await post('/sign-up/email', { email, password, name });
      if (!r.ok) throw new Error(`sign-up ${r.status}: ${await r.text()}`);
      return sessionFrom(r);
    },
    async signIn(email, password) {
      const r = await post('/sign-in/email', { email, password });
      if (!r.ok) throw new Error(`sign-in ${r.status}: ${await r.text()}`);
      return sessionFrom(r);
    },
    async signOut(cookie) {
      const r = await post('/sign-out', {}, { cookie });
      if (!r.ok) throw new Error(`sign-out ${r.status}: ${await r.text()}`);
    },
  };
}

async function sessionFrom(r) {
  const body = await r.json();
  const setCookies = r.headers.getSetCookie();
  const sc = setCookies.find((c) => /(^|__Secure-)better-auth\.session_token=/.test(c));
  if (!sc) throw new Error(`no session cookie in ${JSON.stringify(setCookies)}`);
  const cookie = sc.split(';')[0]; // name=value, value URL-encoded "token.sig"
  return {
    user: body.user,
    sessionToken: body.token, // raw session token (bearer plugin accepts it)
    signedToken: r.headers.get('set-auth-token'), // bearer plugin's signed value
    cookie,
    setCookie: sc,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ba = await startBetterAuth({
    databaseUrl: process.env.DATABASE_URL,
    port: Number(process.env.PORT || 0) || undefined,
    trustedOrigins: (process.env.TRUSTED_ORIGINS || '').split(',').filter(Boolean),
  });
  console.log(`Better Auth on ${ba.url} (schema ${SCHEMA})`);
}
