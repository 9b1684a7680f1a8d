// What every suite does around its tests, said once: which dependencies it needs (missing ones skip
// the suite with the reason; under CI=true they fail the file, never skip), what it starts before
// its tests, and the teardown that stops everything it started, last first, even when a start
// failed halfway.
import { before, after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { findPgBin, startPostgres } from './pg.mjs';
import { goAvailable, startInsforge, startRunner } from './stack.mjs';
import { CI, REPO_ROOT, chromiumPath } from './util.mjs';

// Where shared/localchain.FindAnvil looks: $ANVIL, the npm package scripts/ensure-devnet installs, $PATH.
function anvilAvailable() {
  if (process.env.ANVIL) return true;
  const pkgs = path.join(REPO_ROOT, 'shared', 'localchain', 'node', 'node_modules', '@foundry-rs');
  const installed = existsSync(pkgs) && readdirSync(pkgs).some((d) => existsSync(path.join(pkgs, d, 'bin', 'anvil')));
  return installed || (process.env.PATH || '').split(':').some((d) => d && existsSync(path.join(d, 'anvil')));
}

const DEPS = {
  go: ['go toolchain', goAvailable],
  postgres: ['PostgreSQL', () => Boolean(findPgBin() || process.env.DATABASE_URL)],
  chromium: ['chromium (scripts/e2e/ensure-deps)', () => Boolean(chromiumPath())],
  anvil: ['Anvil (scripts/ensure-devnet)', anvilAvailable],
};

/**
 * Checks the named dependencies (go, postgres, chromium, anvil). Returns false when all are here, else
 * the skip reason for test/describe options; under CI=true a missing one throws instead.
 */
export function needs(...names) {
  const missing = names.map((n) => {
    if (!DEPS[n]) throw new Error(`unknown e2e dependency ${n}`);
    return DEPS[n][1]() ? null : DEPS[n][0];
  }).filter(Boolean);
  if (missing.length && CI) throw new Error(`e2e dependencies missing under CI=true: ${missing.join(', ')}`);
  return missing.length ? `not runnable here: ${missing.join(', ')}` : false;
}

/**
 * What was started, to stop in reverse order. own(thing, stop) awaits thing (a value or a
 * promise), remembers stop(thing) (default thing.stop()) and returns it; defer(fn) remembers fn.
 * stop() runs them all, last first, and then throws the first error any of them threw.
 */
export function teardown() {
  const stops = [];
  const own = async (thing, stop = (x) => x.stop()) => {
    const x = await thing;
    stops.push(() => stop(x));
    return x;
  };
  const defer = (fn) => { stops.push(fn); };
  const stop = async () => {
    let first;
    for (const s of stops.splice(0).reverse()) {
      try { await s(); } catch (err) { first ??= err; }
    }
    if (first) throw first;
  };
  return { own, defer, stop };
}

/**
 * In the calling scope (the file, or a describe): before() runs start({own, defer}), after() stops
 * what it owned.
 */
export function lifecycle(start, { timeout } = {}) {
  const t = teardown();
  before(() => start(t), timeout ? { timeout } : undefined);
  after(() => t.stop());
}

/**
 * Declares a suite's peers: needs(...deps) now, then lifecycle(start) unless the suite is skipped.
 * Returns {skip} for the tests' options.
 */
export function suite({ deps = [], timeout, start }) {
  const skip = needs(...deps);
  lifecycle(async (t) => { if (!skip) await start(t); }, { timeout });
  return { skip };
}

/** PostgreSQL and the InsForge-compatible stack on it (a fresh JWT secret unless given). */
export async function ownInsforge(own, { jwtSecret = randomBytes(32).toString('hex') } = {}) {
  const pgs = await own(startPostgres());
  const insforge = await own(startInsforge({ databaseUrl: pgs.url, jwtSecret }));
  return { pgs, insforge };
}

/** A connected pg client on url, ended at teardown. */
export async function ownDb(own, url) {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  return own(db, (c) => c.end());
}

/**
 * The stack the through-the-runner suites share: PostgreSQL, the InsForge-compatible stack, a pg
 * client on its database, then the local runner with SAM parameters naming that stack (URL and
 * service key) plus params(insforge). prepare(db) runs before the runner starts. Returns
 * {pgs, insforge, db, runner, envVars}.
 */
export async function ownRunnerStack(own, { params = () => ({}), prepare, jwtSecret, issuerPort } = {}) {
  const { pgs, insforge } = await ownInsforge(own, { jwtSecret });
  const db = await ownDb(own, insforge.databaseUrl);
  await prepare?.(db);
  const envVars = { Parameters: { INSFORGE_BASE_URL: insforge.url, INSFORGE_SERVICE_KEY: insforge.serviceKey, ...params(insforge) } };
  const runner = await own(startRunner({ envVars, issuerPort }));
  return { pgs, insforge, db, runner, envVars };
}

/**
 * A suite on the runner's zero-config dev profile with only the ledger named (ownRunnerStack with
 * no params). Returns {skip, stack}; stack gets {pgs, insforge, db, runner, envVars} before the tests.
 */
export function devProfileSuite() {
  const stack = {};
  const { skip } = suite({ deps: ['go', 'postgres'], timeout: 360_000, async start({ own }) {
    Object.assign(stack, await ownRunnerStack(own));
  } });
  return { skip, stack };
}
