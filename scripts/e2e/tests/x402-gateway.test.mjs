// The x402 gateway through the local runner with zero gateway configuration: the runner's dev
// profile starts a tiny upstream API and prices three of its routes (GET /pay/quote, POST /pay/echo,
// GET /pay/fail). The real @x402/fetch client pays; the ledger is read straight from PostgreSQL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { devProfileSuite } from '../lib/suite.mjs';
import { v2Fetch, paymentsOf, recordingPayer, newAccount, decodePaymentResponseHeader, unb64json, USDG, XLAYER } from '../lib/x402.mjs';
import { fetchT } from '../lib/util.mjs';

// Only the ledger is named; the gateway's upstream, routes, credential and receipt key come from the dev profile.
const { skip, stack } = devProfileSuite();
const rowsFor = (payer) => paymentsOf(stack.db, payer);

describe('x402 gateway (make dev profile, real @x402/fetch)', { skip }, () => {
  it('an unpriced path is 404; a priced one answers 402 with its own price, description and resource', async () => {
    const none = await fetchT(`${stack.runner.url}/pay/admin/users`);
    assert.equal(none.status, 404, await none.text());
    const r = await fetchT(`${stack.runner.url}/pay/quote?symbol=ETH`);
    assert.equal(r.status, 402);
    const c = unb64json(r.headers.get('payment-required'));
    assert.equal(c.x402Version, 2);
    assert.equal(c.resource.url, `${stack.runner.url}/pay/quote`);
    assert.equal(c.resource.description, 'Demo quote from the local upstream');
    assert.equal(c.accepts.length, 2, 'USDG, then USD₮0 (the dev profile accepts both)');
    assert.equal(c.accepts[0].amount, '1000');
    assert.equal(c.accepts[0].asset.toLowerCase(), USDG);
    assert.equal(c.accepts[0].network, XLAYER);
    const echo = unb64json((await fetchT(`${stack.runner.url}/pay/echo`, { method: 'POST' })).headers.get('payment-required'));
    assert.equal(echo.accepts[0].amount, '500');
  });

  it('@x402/fetch pays GET /pay/quote: the upstream answers with the receipt it verified, one settled row for the route', async () => {
    const account = newAccount();
    const r = await v2Fetch(account)(`${stack.runner.url}/pay/quote?symbol=ETH`);
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const body = JSON.parse(text);
    assert.equal(body.symbol, 'ETH');
    assert.equal(body.paid_by.toLowerCase(), account.address.toLowerCase());
    assert.equal(body.amount, '1000');
    const settle = decodePaymentResponseHeader(r.headers.get('payment-response'));
    assert.equal(settle.success, true);
    assert.match(settle.transaction, /^0x[0-9a-f]{64}$/);
    const rows = await rowsFor(account.address);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0].status, 'settled');
    assert.equal(rows[0].endpoint, 'GET /pay/quote');
    assert.equal(rows[0].amount, '1000');
    assert.equal(body.payment_id, rows[0].id, 'the receipt names the ledger row');
  });

  it('POST /pay/echo: method, path, query, body and allow-listed headers arrive; payment headers, the caller\'s cookie and unlisted headers do not', async () => {
    const account = newAccount();
    const r = await v2Fetch(account)(`${stack.runner.url}/pay/echo?x=1`, {
      method: 'POST', headers: { 'content-type': 'application/json', cookie: 'session=caller', 'accept-language': 'de',
        'x-custom': 'not listed', 'x-http-method-override': 'DELETE' },
      body: JSON.stringify({ hello: 'upstream' }),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const e = JSON.parse(text);
    assert.equal(e.method, 'POST');
    assert.equal(e.path, '/echo');
    assert.equal(e.query, 'x=1');
    assert.deepEqual(e.body, { hello: 'upstream' });
    assert.ok(e.headers.includes('Accept-Language') && e.headers.includes('X-Payment-Receipt'), e.headers.join(','));
    for (const h of ['Payment-Signature', 'X-Payment', 'Cookie', 'X-Custom', 'X-Http-Method-Override']) {
      assert.ok(!e.headers.includes(h), `${h} reached the upstream`);
    }
    assert.equal(e.receipt.route, 'POST /pay/echo');
    assert.equal(e.receipt.amount, '500');
    assert.equal(e.receipt.status, 'verified');
  });

  it('an upstream failure is 502 and not charged; the same authorization stays usable, and a settled one is never served twice', async () => {
    const account = newAccount();
    const { sent, pay } = recordingPayer(account);
    const r = await pay(`${stack.runner.url}/pay/fail`);
    assert.equal(r.status, 502, await r.text());
    assert.equal(sent.length, 1);
    assert.equal((await rowsFor(account.address)).filter((x) => x.status === 'settled').length, 0);
    // Re-presented: still not charged (the upstream still fails), still 502 rather than a replay refusal.
    const again = await fetchT(`${stack.runner.url}/pay/fail`, { headers: { 'PAYMENT-SIGNATURE': sent[0] } });
    assert.equal(again.status, 502, await again.text());
    assert.equal((await rowsFor(account.address)).filter((x) => x.status === 'settled').length, 0);

    // A settled payment re-presented: 402 with the original receipt, no second delivery or row.
    const q = recordingPayer(account);
    assert.equal((await q.pay(`${stack.runner.url}/pay/quote`)).status, 200);
    const first = (await rowsFor(account.address)).filter((x) => x.status === 'settled');
    assert.equal(first.length, 1);
    const replay = await fetchT(`${stack.runner.url}/pay/quote`, { headers: { 'PAYMENT-SIGNATURE': q.sent[0] } });
    assert.equal(replay.status, 402, await replay.text());
    const receipt = decodePaymentResponseHeader(replay.headers.get('payment-response'));
    assert.equal(receipt.transaction, first[0].tx_hash);
    assert.equal((await rowsFor(account.address)).filter((x) => x.status === 'settled').length, 1);
  });

  it('GET /x402/payments breaks revenue down per gateway route', async () => {
    const r = await fetchT(`${stack.runner.url}/x402/payments`);
    assert.equal(r.status, 200);
    const { stats } = await r.json();
    const quote = stats.endpoints.find((e) => e.endpoint === 'GET /pay/quote');
    const echo = stats.endpoints.find((e) => e.endpoint === 'POST /pay/echo');
    assert.ok(quote && quote.requests >= 2, JSON.stringify(stats.endpoints));
    assert.ok(echo && echo.requests >= 1, JSON.stringify(stats.endpoints));
    assert.ok(!stats.endpoints.some((e) => e.endpoint === 'GET /pay/fail'), 'a failing route earns nothing');
    assert.equal(quote.revenue, '0', 'mock rows are never revenue');
  });
});
