// Two facilitators, one chain: the local X Layer (scripts/devnet: Anvil with chain id 196, the test
// USDG at USDG's address, the OKX emulator settling on it) behind the x402 report function in the
// local runner. @x402/fetch pays twice: once settled by the OKX emulator, once by the reference
// facilitator of @x402/evm (its own viem signer, its own simulation and transaction) while the OKX
// emulator's settle fails with a 502 — the row stays pending, and the reconciler (scripts/invoke)
// settles it on the reference facilitator's transaction. Both rows end the same way: settled on a
// receipt carrying the transfer, confirmed by the next run, counted once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createPublicClient, createWalletClient, defineChain, http, parseAbi, parseEventLogs, getAddress } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ExactEvmScheme as ReferenceFacilitator } from '@x402/evm/exact/facilitator';
import { toFacilitatorEvmSigner } from '@x402/evm';
import { startDevnet } from '../lib/stack.mjs';
import { suite, ownRunnerStack } from '../lib/suite.mjs';
import { v2Fetch, recordingPayer, newAccount, decodePaymentResponseHeader, unb64json } from '../lib/x402.mjs';
import { REPO_ROOT, fetchT } from '../lib/util.mjs';

const pexec = promisify(execFile);
const PAY_TO = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C';
const tokenAbi = parseAbi([
  'function mint(address to, uint256 value)',
  'function balanceOf(address) view returns (uint256)',
  'event Transfer(address indexed from, address indexed to, uint256 value)',
  'event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)',
]);

let runner; let db; let dn; let chain; let pub; let deployer; let env; let work;
const { skip } = suite({ deps: ['go', 'postgres', 'anvil'], timeout: 420_000, async start({ own }) {
  work = mkdtempSync(path.join(os.tmpdir(), 'e2e-devnet-'));
  dn = await own(startDevnet());
  chain = defineChain({ id: dn.chainId, name: 'X Layer (local devnet)', nativeCurrency: { name: 'OKB', symbol: 'OKB', decimals: 18 },
    rpcUrls: { default: { http: [dn.rpc] } } });
  pub = createPublicClient({ chain, transport: http(dn.rpc) });
  deployer = createWalletClient({ account: privateKeyToAccount(dn.deployerKey), chain, transport: http(dn.rpc) });

  ({ runner, db, envVars: env } = await ownRunnerStack(own, { params: (i) => ({
    ENVIRONMENT: 'development', MOCK_OKX_FACILITATOR: 'false', PAYMENT_RECIPIENT: PAY_TO, X402_PRICE: '1',
    OKX_BASE_URL: dn.okxUrl, OKX_API_KEY: dn.okxKey, OKX_SECRET_KEY: dn.okxSecret, OKX_PASSPHRASE: dn.okxPassphrase,
    XLAYER_RPC_URL: dn.rpc, X402_RECONCILE_AFTER: '1m', INSFORGE_ANON_KEY: i.anonKey,
  }) }));
} });

async function fund(address, value) {
  const hash = await deployer.writeContract({ address: dn.usdg, abi: tokenAbi, functionName: 'mint', args: [address, value] });
  assert.equal((await pub.waitForTransactionReceipt({ hash })).status, 'success');
}
const balance = (a) => pub.readContract({ address: dn.usdg, abi: tokenAbi, functionName: 'balanceOf', args: [a] });
const rowOf = async (payer) => (await db.query('SELECT * FROM x402_payments WHERE lower(payer_address) = lower($1)', [payer])).rows;

// The transfer the authorization made, read from the receipt with viem (not our Go code).
async function transferIn(hash, from) {
  const rc = await pub.getTransactionReceipt({ hash });
  assert.equal(rc.status, 'success');
  const logs = parseEventLogs({ abi: tokenAbi, logs: rc.logs }).filter((l) => getAddress(l.address) === getAddress(dn.usdg));
  const t = logs.find((l) => l.eventName === 'Transfer');
  assert.ok(t, `no Transfer in ${hash}`);
  assert.equal(getAddress(t.args.from), getAddress(from));
  assert.equal(getAddress(t.args.to), getAddress(PAY_TO));
  assert.ok(logs.some((l) => l.eventName === 'AuthorizationUsed' && getAddress(l.args.authorizer) === getAddress(from)));
  return t.args.value;
}

async function reconcile() {
  const envFile = path.join(work, 'env.json');
  writeFileSync(envFile, JSON.stringify(env), { mode: 0o600 });
  // Age every row past X402_RECONCILE_AFTER; replica mode keeps the touch trigger from resetting updated_at.
  await db.query('BEGIN');
  await db.query('SET LOCAL session_replication_role = replica');
  await db.query(`UPDATE x402_payments SET created_at = created_at - interval '10 minutes', updated_at = updated_at - interval '10 minutes'`);
  await db.query('COMMIT');
  await pexec('go', ['run', './scripts/invoke', '--quiet', '--env-vars', envFile, 'X402ReconcileFunction', 'events/x402-reconcile-scheduled.json'],
    { cwd: REPO_ROOT, timeout: 300_000, maxBuffer: 16 << 20 });
}

describe('the devnet: the OKX emulator and the @x402/evm reference facilitator settle on one chain', { skip }, () => {
  let viaOkx; let viaReference;

  it('the OKX emulator settles a @x402/fetch payment for real', async () => {
    const account = newAccount();
    await fund(account.address, 1000n);
    const started = Date.now();
    const res = await v2Fetch(account)(`${runner.url}/x402/report`, { method: 'POST' });
    const ms = Date.now() - started;
    assert.equal(res.status, 200, await res.clone().text());
    const receipt = decodePaymentResponseHeader(res.headers.get('payment-response'));
    assert.equal(receipt.success, true);
    assert.equal(await transferIn(receipt.transaction, account.address), 1n);
    assert.equal(await balance(account.address), 999n);
    const [row] = await rowOf(account.address);
    assert.equal(row.status, 'settled');
    assert.equal(row.tx_hash, receipt.transaction.toLowerCase());
    viaOkx = { account, tx: receipt.transaction.toLowerCase() };
    console.log(`# paid request through the runner, settled on the devnet by the OKX emulator: ${ms} ms`);
  });

  it('the reference facilitator settles an authorization our paywall left pending', async () => {
    const account = newAccount();
    await fund(account.address, 1000n);
    // OKX's settle fails before answering: outcome unknown, the row stays pending.
    assert.equal((await fetchT(`${dn.okxUrl}/script/settle?status=http502`, { method: 'POST' })).status, 204);
    const { sent, pay } = recordingPayer(account, { asset: dn.usdg });
    const res = await pay(`${runner.url}/x402/report`, { method: 'POST' });
    await fetchT(`${dn.okxUrl}/script/settle`, { method: 'POST' });
    assert.equal(res.status, 202, await res.clone().text());
    assert.equal(sent.length, 1);
    let [row] = await rowOf(account.address);
    assert.equal(row.status, 'pending');
    assert.equal(row.tx_hash, null);
    assert.equal(await balance(account.address), 1000n, 'nothing moved yet');

    // The reference facilitator: its own key (the devnet's third account), its own checks.
    const key = `0x${'5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a'}`;
    const wallet = createWalletClient({ account: privateKeyToAccount(key), chain, transport: http(dn.rpc) });
    const signer = toFacilitatorEvmSigner({
      address: wallet.account.address,
      readContract: (a) => pub.readContract(a),
      verifyTypedData: (a) => pub.verifyTypedData(a),
      writeContract: (a) => wallet.writeContract(a),
      sendTransaction: (a) => wallet.sendTransaction(a),
      waitForTransactionReceipt: (a) => pub.waitForTransactionReceipt(a),
      getCode: (a) => pub.getCode(a),
    });
    const facilitator = new ReferenceFacilitator(signer);
    const payload = unb64json(sent[0]);
    const verified = await facilitator.verify(payload, payload.accepted);
    assert.equal(verified.isValid, true, JSON.stringify(verified));
    const settled = await facilitator.settle(payload, payload.accepted);
    assert.equal(settled.success, true, JSON.stringify(settled));
    assert.equal(await transferIn(settled.transaction, account.address), 1n);
    viaReference = { account, tx: settled.transaction.toLowerCase() };

    await reconcile();
    [row] = await rowOf(account.address);
    assert.equal(row.status, 'settled', row.error);
    assert.equal(row.tx_hash, viaReference.tx);
  });

  it('the reconciler confirms both rows alike, and the revenue counts each payment once', async () => {
    await reconcile();
    for (const p of [viaOkx, viaReference]) {
      const [row] = await rowOf(p.account.address);
      assert.equal(row.status, 'settled');
      assert.equal(row.tx_hash, p.tx);
      assert.ok(row.confirmed_at, `row of ${p.tx} not confirmed`);
    }
    const stats = (await db.query('SELECT x402_payment_stats() AS s')).rows[0].s;
    assert.equal(String(stats.totalRevenue), '2');
    assert.equal(await balance(PAY_TO), 2n);
  });
});
