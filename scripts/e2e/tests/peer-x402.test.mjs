// Peer on its own: the real @x402/fetch + @x402/evm v2 client (viem local account) and the InsForge
// x402 guide's hybrid client, paying a minimal loopback resource that checks what they send exactly as
// the x402 v2 HTTP transport specifies (std base64 JSON headers) and verifies the EIP-712 signature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { getAddress } from 'viem';
import { v2Fetch, payLikeGuide, newAccount, b64json, unb64json, verifyEip3009, XLAYER, USDG, decodePaymentResponseHeader } from '../lib/x402.mjs';
import { wrapFetchWithPaymentFromConfig } from '@x402/fetch';
import { ExactEvmScheme } from '@x402/evm';
import { suite } from '../lib/suite.mjs';
import { freePort, LOOPBACK } from '../lib/util.mjs';

const payTo = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C';
const extra = { name: 'Global Dollar', version: '1' };
let srv; let base; const seen = [];

function requirements(url) {
  return { scheme: 'exact', network: XLAYER, amount: '1', asset: USDG, payTo, maxTimeoutSeconds: 300, extra };
}

suite({ async start({ own }) {
  const port = await freePort();
  base = `http://${LOOPBACK}:${port}`;
  srv = http.createServer(async (req, res) => {
    const url = `${base}${req.url}`;
    const sig = req.headers['payment-signature'];
    if (req.url === '/hybrid') {
      const accept = { scheme: 'exact', network: XLAYER, maxAmountRequired: '1', resource: url, description: 'demo', mimeType: 'application/json', payTo, maxTimeoutSeconds: 300, asset: USDG, extra };
      if (!sig) {
        res.writeHead(402, { 'content-type': 'application/json', 'PAYMENT-REQUIRED': b64json({ x402Version: 1, accepts: [accept] }) });
        return res.end(JSON.stringify({ error: 'Payment required' }));
      }
      const p = unb64json(sig); seen.push({ kind: 'hybrid', header: sig, payload: p });
      const ok = await verifyEip3009(p.payload, { ...extra, chainId: 196, asset: USDG });
      res.writeHead(ok ? 200 : 402, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ ok }));
    }
    if (!sig) {
      res.writeHead(402, { 'content-type': 'application/json', 'PAYMENT-REQUIRED': b64json({ x402Version: 2, error: 'Payment required', resource: { url, description: 'demo report', mimeType: 'application/json' }, accepts: [requirements(url)] }) });
      return res.end('{}');
    }
    const p = unb64json(sig); seen.push({ kind: 'v2', header: sig, payload: p });
    const ok = await verifyEip3009(p.payload, { ...extra, chainId: 196, asset: USDG });
    const settle = { success: ok, transaction: ok ? `0x${'ab'.repeat(32)}` : '', network: XLAYER, payer: p.payload.authorization.from };
    res.writeHead(ok ? 200 : 402, { 'content-type': 'application/json', 'PAYMENT-RESPONSE': b64json(settle) });
    res.end(JSON.stringify({ report: ok ? 'paid content' : null }));
  });
  await new Promise((r) => srv.listen(port, LOOPBACK, r));
  await own(srv, (x) => new Promise((r) => x.close(r)));
} });

test('@x402/fetch v2 pays a PAYMENT-REQUIRED challenge for USDG on eip155:196 with a viem account', async () => {
  const account = newAccount();
  const r = await v2Fetch(account)(`${base}/report`, { method: 'POST' });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { report: 'paid content' });
  const settle = decodePaymentResponseHeader(r.headers.get('payment-response'));
  assert.equal(settle.payer, account.address);
  const { header, payload } = seen.at(-1);
  assert.match(header, /^[A-Za-z0-9+/]*={0,2}$/, 'client sends standard base64');
  assert.equal(payload.x402Version, 2);
  assert.deepEqual(payload.accepted, requirements(`${base}/report`), 'accepted is the offered requirement verbatim');
  const a = payload.payload.authorization;
  assert.equal(a.from, account.address);
  assert.equal(a.to, getAddress(payTo));
  assert.equal(a.value, '1');
  assert.equal(a.validAfter, '0');
  assert.match(a.nonce, /^0x[0-9a-f]{64}$/);
  assert.match(payload.payload.signature, /^0x[0-9a-f]{130}$/);
  const v = parseInt(payload.payload.signature.slice(-2), 16);
  assert.ok(v === 27 || v === 28, `v=${v}`);
});

test('@x402/fetch: two payments use two fresh nonces', async () => {
  const account = newAccount();
  const f = v2Fetch(account);
  await f(`${base}/report`, { method: 'POST' });
  await f(`${base}/report`, { method: 'POST' });
  const [x, y] = seen.slice(-2).map((s) => s.payload.payload.authorization.nonce);
  assert.notEqual(x, y);
});

test('@x402/fetch without spendControls refuses to pay USDG on X Layer (documented gotcha)', async () => {
  const f = wrapFetchWithPaymentFromConfig(fetch, { schemes: [{ network: XLAYER, client: new ExactEvmScheme(newAccount()) }] });
  const before = seen.length;
  await assert.rejects(f(`${base}/report`, { method: 'POST' }));
  assert.equal(seen.length, before, 'no payment was sent');
});

test("the InsForge x402 guide's hybrid client (x402Version 1 fields in PAYMENT-REQUIRED, PAYMENT-SIGNATURE) signs a valid EIP-3009 authorization", async () => {
  const account = newAccount();
  const { challengeResponse, challenge, response } = await payLikeGuide(`${base}/hybrid`, account);
  assert.equal(challengeResponse.status, 402);
  assert.equal(challenge.x402Version, 1);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { ok: true });
  const p = seen.at(-1).payload;
  assert.deepEqual(Object.keys(p).sort(), ['network', 'payload', 'scheme', 'x402Version']);
  assert.equal(p.payload.authorization.to, payTo, 'the guide copies payTo verbatim (no checksum normalisation)');
});
