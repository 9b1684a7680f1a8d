// Everything at once for the through-the-runner tests: PostgreSQL, Better Auth, the provider
// issuers, the SPA origins, the InsForge-compatible stack, and the local runner serving every
// function's real binary with a SAM env.json pointing the bridges at those peers.
import { randomBytes } from 'node:crypto';
import { startPostgres, createDatabase } from './pg.mjs';
import { startBetterAuth } from './better-auth.mjs';
import { startIssuers } from './oidc.mjs';
import { startSpa } from './spa-server.mjs';
import { startInsforge, startRunner } from './stack.mjs';
import { teardown } from './suite.mjs';
import { freePort } from './util.mjs';

// Lower-case on purpose: clients checksum `to`, so the server must compare case-insensitively.
export const PAYMENT_RECIPIENT = '0x209693bc6afc0c5328ba36faf03c514ef312287c';

export async function startWorld({ browser = true, betterAuth = {} } = {}) {
  const { own, stop } = teardown();
  // A failing stop does not fail the suite's teardown: the world is torn down as far as it goes.
  const w = { stop: () => stop().catch(() => {}) };
  try {
    // The SPA's origin must be known first: Better Auth trusts it, Clerk tokens carry it as azp,
    // and ALLOWED_ORIGINS lists it.
    if (browser) {
      w.spa = await own(startSpa());
      w.evil = await own(startSpa({ host: 'localhost' }));
    }
    const spaOrigin = w.spa?.origin ?? `http://127.0.0.1:${await freePort()}`;
    w.pg = await own(startPostgres());
    const baDb = await createDatabase(w.pg.url, 'better_auth_e2e');
    w.ba = await own(startBetterAuth({ databaseUrl: baDb, trustedOrigins: [spaOrigin], ...betterAuth }));
    w.issuers = await own(startIssuers({ spaOrigin }));
    w.jwtSecret = randomBytes(32).toString('hex');
    w.insforge = await own(startInsforge({ databaseUrl: w.pg.url, jwtSecret: w.jwtSecret }));
    const providerEnv = Object.assign({}, ...Object.values(w.issuers.providers).map((p) => p.env));
    w.env = {
      Parameters: {
        INSFORGE_JWT_SECRET: w.jwtSecret,
        TOKEN_TTL: '15m',
        ALLOWED_ORIGINS: spaOrigin,
        LOG_LEVEL: 'INFO',
        ...providerEnv,
        BETTER_AUTH_URL: w.ba.url,
        ENVIRONMENT: 'development',
        MOCK_OKX_FACILITATOR: 'true',
        PAYMENT_RECIPIENT,
        X402_PRICE: '1',
        INSFORGE_BASE_URL: w.insforge.url,
        INSFORGE_SERVICE_KEY: w.insforge.serviceKey,
        INSFORGE_ANON_KEY: w.insforge.anonKey,
      },
    };
    w.runner = await own(startRunner({ envVars: w.env }));
    w.api = w.runner.url;
    return w;
  } catch (err) {
    await w.stop();
    throw err;
  }
}
