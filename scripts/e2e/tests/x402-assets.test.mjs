// Several assets per offer through the local runner (the dev profile accepts USDG and USD₮0): the real
// @x402/fetch client pays the report with either asset, chosen by its spendControls; the ledger row records
// the asset; a payment in an asset the offer does not list is refused with no row; GET /.well-known/x402
// lists the report and the gateway's routes with both assets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { getAddress } from 'viem';
import { devProfileSuite } from '../lib/suite.mjs';
import { v2Fetch, paymentsOf, newAccount, decodePaymentResponseHeader, unb64json, b64json, EIP3009_TYPES, USDG, USDT0, XLAYER } from '../lib/x402.mjs';
import { fetchT } from '../lib/util.mjs';

const { skip, stack } = devProfileSuite();
const rowsFor = (payer) => paymentsOf(stack.db, payer);

describe('x402 assets (make dev profile, real @x402/fetch)', { skip }, () => {
  it('the report\'s 402 lists USDG then USD₮0, each with its EIP-712 domain', async () => {
    const r = await fetchT(`${stack.runner.url}/x402/report`, { method: 'POST' });
    assert.equal(r.status, 402);
    const c = unb64json(r.headers.get('payment-required'));
    assert.deepEqual(c.accepts.map((a) => [a.asset.toLowerCase(), a.extra.name, a.extra.version, a.amount]),
      [[USDG, 'Global Dollar', '1', '1'], [USDT0, 'USD\u20ae0', '1', '1']]);
    const body = await r.json();
    assert.deepEqual(body.accepts.map((a) => a.asset.toLowerCase()), [USDG, USDT0], 'the v1 body lists both too');
  });

  for (const [name, asset] of [['USDG', USDG], ['USD₮0', USDT0]]) {
    it(`@x402/fetch pays the report in ${name}; the row records ${name}`, async () => {
      const account = newAccount();
      const r = await v2Fetch(account, { asset })(`${stack.runner.url}/x402/report`, { method: 'POST' });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      const settle = decodePaymentResponseHeader(r.headers.get('payment-response'));
      assert.equal(settle.success, true);
      const rows = await rowsFor(account.address);
      assert.equal(rows.length, 1, JSON.stringify(rows));
      assert.equal(rows[0].status, 'settled');
      assert.equal(rows[0].asset, asset);
    });
  }

  it('a payment in an asset the offer does not list is refused before any ledger row', async () => {
    const account = newAccount();
    const first = await fetchT(`${stack.runner.url}/x402/report`, { method: 'POST' });
    const c = unb64json(first.headers.get('payment-required'));
    const other = '0x1111111111111111111111111111111111111111';
    const accepted = { ...c.accepts[0], asset: getAddress(other) };
    delete accepted.maxAmountRequired;
    const authorization = {
      from: account.address, to: getAddress(accepted.payTo), value: accepted.amount, validAfter: '0',
      validBefore: String(Math.floor(Date.now() / 1000) + 120), nonce: `0x${randomBytes(32).toString('hex')}`,
    };
    const signature = await account.signTypedData({
      domain: { name: 'Other', version: '1', chainId: 196, verifyingContract: getAddress(other) },
      types: EIP3009_TYPES, primaryType: 'TransferWithAuthorization', message: authorization,
    });
    const header = b64json({ x402Version: 2, resource: c.resource, accepted, payload: { signature, authorization } });
    const r = await fetchT(`${stack.runner.url}/x402/report`, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': header } });
    assert.equal(r.status, 402, await r.text());
    assert.equal(unb64json(r.headers.get('payment-required')).error, 'invalid_payment_requirements');
    assert.equal((await rowsFor(account.address)).length, 0);
  });

  it('GET /.well-known/x402 lists the report and the gateway routes with both assets, cacheable', async () => {
    const r = await fetchT(`${stack.runner.url}/.well-known/x402`);
    assert.equal(r.status, 200);
    const etag = r.headers.get('etag');
    assert.match(r.headers.get('cache-control'), /max-age=/);
    const doc = await r.json();
    assert.equal(doc.x402Version, 2);
    const report = doc.items.find((i) => i.resource === `${stack.runner.url}/x402/report`);
    assert.ok(report, JSON.stringify(doc.items.map((i) => i.resource)));
    assert.equal(report.metadata.input.method, 'POST');
    assert.ok(doc.items.some((i) => i.resource === `${stack.runner.url}/pay/quote`), 'the gateway\'s routes are listed');
    for (const it of doc.items) assert.deepEqual(it.accepts.map((a) => a.asset.toLowerCase()), [USDG, USDT0]);
    assert.equal(doc.pagination.total, doc.items.length);
    const again = await fetchT(`${stack.runner.url}/.well-known/x402`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  it('GET /x402/payments keeps revenue per asset', async () => {
    const { stats } = await (await fetchT(`${stack.runner.url}/x402/payments`)).json();
    const assets = stats.assets.map((a) => a.asset);
    assert.ok(assets.includes(USDG) && assets.includes(USDT0), JSON.stringify(stats.assets));
    for (const a of stats.assets) assert.equal(a.network, XLAYER);
  });
});
