// A throwaway PostgreSQL cluster for the e2e run (or the one DATABASE_URL names).
// Root cannot run postgres, so initdb/postgres run as the `postgres` user via runuser.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, chownSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, startProcess, waitFor, LOOPBACK } from './util.mjs';

export function findPgBin() {
  const candidates = [process.env.PG_BIN, '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];
  for (const c of candidates) if (c && existsSync(path.join(c, 'initdb'))) return c;
  return null;
}

function asPostgres(bin, args) {
  if (userInfo().uid === 0) return ['runuser', ['-u', 'postgres', '--', bin, ...args]];
  return [bin, args];
}

/**
 * Starts PostgreSQL on a free loopback port (trust auth, fsync off) and returns
 * {url, stop}. url connects as the superuser `postgres` to database `postgres`.
 * With DATABASE_URL set, that server is used instead and stop() does nothing.
 */
export async function startPostgres() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const bin = findPgBin();
  if (!bin) throw new Error('PostgreSQL server binaries not found (apt-get install postgresql-15, or set DATABASE_URL)');
  const dir = mkdtempSync(path.join(tmpdir(), 'e2e-pg-'));
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const [c1, a1] = asPostgres(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '--encoding=UTF8', '--locale=C']);
  execFileSync(c1, a1, { stdio: 'pipe' });
  const port = await freePort();
  const [c2, a2] = asPostgres(path.join(bin, 'postgres'), ['-D', data, '-h', LOOPBACK, '-p', String(port), '-k', dir,
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200']);
  const proc = startProcess('postgres', c2, a2);
  const url = `postgres://postgres@${LOOPBACK}:${port}/postgres`;
  await waitFor('postgres to accept connections', async () => {
    if (proc.exited()) throw new Error(`postgres exited: ${proc.output()}`);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.end();
    return true;
  }, { timeoutMs: 30_000, intervalMs: 150 });
  return {
    url,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a database (idempotent) and returns a URL for it. */
export async function createDatabase(adminUrl, name) {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount === 0) await c.query(`CREATE DATABASE "${name.replaceAll('"', '')}"`);
  } finally {
    await c.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}
