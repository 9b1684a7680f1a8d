// Serves the SPA (spa/index.html + an esbuild bundle of spa/app.mjs with @insforge/sdk) on its own
// loopback origin, so every call to the API is cross-origin, as in production.
import http from 'node:http';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';
import { E2E_DIR, LOOPBACK, freePort } from './util.mjs';

let bundled;
export async function bundleSpa() {
  if (bundled) return bundled;
  const out = await build({
    entryPoints: [path.join(E2E_DIR, 'spa', 'app.mjs')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    // The SDK lazy-loads socket.io for realtime and node's crypto for PKCE; neither is used here.
    external: ['crypto'],
  });
  bundled = out.outputFiles[0].text;
  return bundled;
}

/** Starts a static server on host:port (port 0 = free). Returns {origin, stop}. */
export async function startSpa({ host = LOOPBACK, port } = {}) {
  port ||= await freePort();
  const js = await bundleSpa();
  const html = await readFile(path.join(E2E_DIR, 'spa', 'index.html'));
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    if (p === '/' || p === '/index.html') { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); return res.end(html); }
    if (p === '/app.js') { res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }); return res.end(js); }
    if (p === '/favicon.ico') { res.writeHead(204); return res.end(); }
    res.writeHead(404).end();
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return {
    origin: `http://${host}:${port}`,
    port,
    stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}
