// The dashboard's vendored @insforge/sdk: one pinned ESM file (socket.io-client included) that
// the x402-payments function embeds and serves, so the page needs no build step, no CDN and
// no CSP exception. `node scripts/e2e/lib/dashboard-sdk.mjs --write` regenerates it after an
// SDK bump; tests/dashboard.test.mjs fails while the committed file differs from a fresh build.
import path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { E2E_DIR } from './util.mjs';

export const VENDORED = path.join(E2E_DIR, '..', '..', 'shared', 'x402payments', 'dashboard', 'assets', 'insforge-sdk.mjs');

export async function bundleDashboardSdk() {
  const pkg = JSON.parse(await readFile(path.join(E2E_DIR, 'node_modules', '@insforge', 'sdk', 'package.json'), 'utf8'));
  const out = await build({
    stdin: { contents: "export { createClient } from '@insforge/sdk';", resolveDir: E2E_DIR, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
    // PKCE's node fallback; browsers use WebCrypto and never reach it.
    external: ['crypto'],
  });
  return `// @insforge/sdk ${pkg.version} with its dependencies, bundled by esbuild (scripts/e2e/lib/dashboard-sdk.mjs). Generated: do not edit.\n` +
    out.outputFiles[0].text;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  await writeFile(VENDORED, await bundleDashboardSdk());
  console.log('wrote', VENDORED);
}
