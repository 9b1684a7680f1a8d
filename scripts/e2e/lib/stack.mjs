// The Go side, started for real: the InsForge-compatible stack (scripts/e2e/insforge-stack, built
// from shared/localinsforge), the local X Layer (scripts/devnet) and the local runner (scripts/dev),
// which runs each function's real bootstrap binary through the Lambda Runtime API, configured by a
// SAM env.json file.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, startProcess, waitFor, fetchT, freePort, coordinates, LOOPBACK } from './util.mjs';

const pexec = promisify(execFile);
const work = mkdtempSync(path.join(tmpdir(), 'e2e-go-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

export function goAvailable() {
  return ['/usr/local/go/bin/go', '/usr/bin/go'].some(existsSync) || (process.env.PATH || '').split(':').some((d) => existsSync(path.join(d, 'go')));
}

/** go build with a deadline; returns the binary path. */
export async function goBuild(pkg, name) {
  const out = path.join(work, name);
  await pexec('go', ['build', '-tags', 'e2e', '-o', out, pkg], { cwd: REPO_ROOT, timeout: 5 * 60_000, maxBuffer: 16 << 20 });
  return out;
}

/**
 * Starts the InsForge-compatible stack on the given PostgreSQL server. Returns
 * {url, serviceKey, anonKey, jwtSecret, databaseUrl, stop}.
 */
export async function startInsforge({ databaseUrl, jwtSecret, port }) {
  const bin = await goBuild('./scripts/e2e/insforge-stack', 'insforge-stack');
  port ??= await freePort();
  const p = startProcess('insforge', bin, [], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, INSFORGE_JWT_SECRET: jwtSecret ?? '', INSFORGE_ADDR: `${LOOPBACK}:${port}` },
    stdin: 'pipe',
  });
  const info = await coordinates(p, 'insforge-stack', 90_000);
  await waitFor('insforge health', async () => (await fetchT(`${info.url}/api/health`, {}, 2000)).ok, { timeoutMs: 20_000 });
  // Realtime alone goes away (the records API stays) on SIGUSR1 and comes back on SIGUSR2.
  const stopRealtime = () => process.kill(p.proc.pid, 'SIGUSR1');
  const startRealtime = () => process.kill(p.proc.pid, 'SIGUSR2');
  return { ...info, stop: () => p.stop(), stopRealtime, startRealtime, output: p.output };
}

/**
 * Starts the local X Layer (scripts/devnet: Anvil with chain id 196, the test USDG, the OKX
 * emulator settling on it). Returns its coordinates (rpc, chainId, usdg, deployerKey, okxUrl,
 * okxKey, okxSecret, okxPassphrase) with stop.
 */
export async function startDevnet() {
  const bin = await goBuild('./scripts/devnet', 'devnet');
  const p = startProcess('devnet', bin, [], { cwd: REPO_ROOT });
  const info = await coordinates(p, 'devnet', 120_000);
  return { ...info, stop: () => p.stop(), output: p.output };
}

/**
 * Starts the local runner (`go run ./scripts/dev`) with a SAM env.json. Returns {url, stop, output}.
 * envVars: {Parameters: {...}, <LogicalId>: {...}} as `sam local --env-vars` reads it.
 */
export async function startRunner({ envVars, port, issuerPort }) {
  port ??= await freePort();
  const envFile = path.join(work, `env-${port}.json`);
  writeFileSync(envFile, JSON.stringify(envVars, null, 2), { mode: 0o600 });
  const bin = await goBuild('./scripts/dev', 'dev-runner');
  // Free ports for the runner's own dev issuer and (unused: INSFORGE_BASE_URL is given) stack, so
  // the suite never collides with a `make dev` running on the default ports.
  const args = ['--env-vars', envFile, '--addr', `${LOOPBACK}:${port}`,
    '--issuer-addr', `${LOOPBACK}:${issuerPort ?? await freePort()}`, '--insforge-addr', `${LOOPBACK}:${await freePort()}`];
  const p = startProcess('runner', bin, args, { cwd: REPO_ROOT, env: { ...process.env } });
  const url = `http://${LOOPBACK}:${port}`;
  await waitFor('local runner to listen', async () => {
    if (p.exited()) throw new Error(`runner exited ${JSON.stringify(p.exited())}: ${p.output().slice(-4000)}`);
    await fetchT(`${url}/`, {}, 2000);
    return true;
  }, { timeoutMs: 240_000, intervalMs: 250 });
  return { url, stop: () => p.stop(), output: p.output };
}
