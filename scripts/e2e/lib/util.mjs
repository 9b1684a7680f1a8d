// Small helpers shared by the e2e harness: free loopback ports, waiting, child processes.
// The CI rule (CI=true turns a missing dependency into a failure, never a skip) is lib/suite.mjs.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(E2E_DIR, '..', '..');
export const ARTIFACTS = path.join(REPO_ROOT, 'artifacts', 'e2e');
export const CI = process.env.CI === 'true' || process.env.CI === '1';
export const LOOPBACK = '127.0.0.1';

/** Returns a free TCP port on 127.0.0.1 (bound then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, LOOPBACK, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value or the deadline passes. */
export async function waitFor(what, fn, { timeoutMs = 30_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** fetch with a hard deadline, so no test can hang on a dead peer. */
export function fetchT(url, init = {}, timeoutMs = 15_000) {
  return fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
}

export function chromiumPath() {
  const p = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  return existsSync(p) ? p : null;
}

/**
 * Spawns a long-running child, keeps the tail of its output for error messages, and
 * returns {proc, stop, output}. stop() sends SIGTERM to the process group, then SIGKILL.
 */
const live = new Set();
// Last resort if a test process dies without its after() hooks: kill every child process group.
process.on('exit', () => { for (const pid of live) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } } });

export function startProcess(name, cmd, args, opts = {}) {
  const { stdin = 'ignore', ...rest } = opts;
  // stdin 'pipe' lets a child notice (EOF) that this process died, even on SIGKILL.
  const proc = spawn(cmd, args, { ...rest, detached: true, stdio: [stdin, 'pipe', 'pipe'] });
  const chunks = [];
  let size = 0;
  const keep = (b) => {
    chunks.push(b);
    size += b.length;
    while (size > 256 * 1024 && chunks.length > 1) size -= chunks.shift().length;
    if (process.env.E2E_VERBOSE) process.stderr.write(`[${name}] ${b}`);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  let exited = null;
  live.add(proc.pid);
  const exitP = new Promise((resolve) => proc.on('exit', (code, sig) => { exited = { code, sig }; live.delete(proc.pid); resolve(exited); }));
  return {
    proc,
    output: () => Buffer.concat(chunks).toString('utf8'),
    exited: () => exited,
    async stop(timeoutMs = 5000) {
      if (exited) return exited;
      try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
      const r = await exitP;
      clearTimeout(t);
      return r;
    },
  };
}

/**
 * Waits for the first JSON line a child started by startProcess prints (the Go helpers print
 * their coordinates that way) and returns it parsed; fails early if the child exits.
 */
export function coordinates(p, what, timeoutMs) {
  return waitFor(`${what} coordinates`, () => {
    if (p.exited()) throw new Error(`${what} exited: ${p.output()}`);
    const line = p.output().split('\n').find((l) => l.startsWith('{"'));
    return line ? JSON.parse(line) : null;
  }, { timeoutMs });
}

/** Decodes a JWT payload without verifying it (for assertions on what a peer minted). */
export function jwtPayload(token) {
  const [, p] = token.split('.');
  return JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
}
export function jwtHeader(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
}
