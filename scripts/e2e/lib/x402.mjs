// x402 payers: the real @x402/fetch + @x402/evm v2 client with a viem local account, and the
// InsForge x402 guide's hybrid client (docs/x402.md links it) (v1 fields in PAYMENT-REQUIRED, paid with PAYMENT-SIGNATURE,
// EIP-3009 signed with viem's signTypedData), reproduced from the guide's lib/x402-client.ts.
import { randomBytes } from 'node:crypto';
import { wrapFetchWithPaymentFromConfig, decodePaymentResponseHeader } from '@x402/fetch';
import { ExactEvmScheme } from '@x402/evm';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import { getAddress, verifyTypedData } from 'viem';

export const XLAYER = 'eip155:196';
export const USDG = '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8';
export const USDT0 = '0x779ded0c9e1022225f8e0630b35a9b54be713736';

export const EIP3009_TYPES = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
};

export function newAccount() {
  return privateKeyToAccount(generatePrivateKey());
}

/**
 * The v2 client as an app would configure it for USDG on X Layer. @x402/core 2.27 only pays its
 * built-in "default assets" unless told otherwise (spendControls), and USDG/X Layer is not one.
 */
export function v2Fetch(account, { network = XLAYER, asset = USDG, maxAmountPerPayment = '1000000' } = {}, fetchImpl = fetch) {
  return wrapFetchWithPaymentFromConfig(fetchImpl, {
    schemes: [{ network, client: new ExactEvmScheme(account) }],
    spendControls: { allowedAssets: [{ network, asset, maxAmountPerPayment }] },
  });
}

/** v2Fetch that keeps every PAYMENT-SIGNATURE header it sends (to replay them). Returns {sent, pay}. */
export function recordingPayer(account, opts) {
  const sent = [];
  const recording = async (input, init) => {
    const h = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (h.get('payment-signature')) sent.push(h.get('payment-signature'));
    return fetch(input, init);
  };
  return { sent, pay: v2Fetch(account, opts, recording) };
}

/** The ledger rows (x402_payments, read with the pg client db) of one payer, oldest first. */
export async function paymentsOf(db, payer) {
  return (await db.query('SELECT * FROM x402_payments WHERE lower(payer_address) = lower($1) ORDER BY created_at', [payer])).rows;
}

export { decodePaymentResponseHeader };

/** Standard base64 of UTF-8 JSON (what btoa/Buffer produce; the TS client rejects URL-safe). */
export const b64json = (v) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64');
export const unb64json = (s) => JSON.parse(Buffer.from(s, 'base64').toString('utf8'));

/**
 * The InsForge x402 guide's consumer flow: POST → 402 + PAYMENT-REQUIRED (atob JSON, x402Version 1 fields,
 * CAIP-2 network) → sign EIP-3009 with signTypedData → retry with PAYMENT-SIGNATURE = btoa(JSON).
 * Returns {challengeResponse, challenge, paymentPayload, response}.
 */
export async function payLikeGuide(url, account, init = {}) {
  const first = await fetch(url, { method: 'POST', ...init, signal: AbortSignal.timeout(15_000) });
  const header = first.headers.get('payment-required');
  if (first.status !== 402 || !header) {
    return { challengeResponse: first, challenge: null, response: first };
  }
  const challenge = JSON.parse(atob(header));
  const accept = challenge.accepts?.[0];
  if (!accept) throw new Error('Invalid challenge: accepts array is empty');
  const nonce = `0x${randomBytes(32).toString('hex')}`;
  const validBefore = BigInt(Math.floor(Date.now() / 1000) + accept.maxTimeoutSeconds);
  const chainId = Number(String(accept.network).split(':')[1] ?? 196);
  const signature = await account.signTypedData({
    domain: { name: accept.extra.name, version: accept.extra.version, chainId, verifyingContract: accept.asset },
    types: EIP3009_TYPES,
    primaryType: 'TransferWithAuthorization',
    message: {
      from: account.address,
      to: accept.payTo,
      value: BigInt(accept.maxAmountRequired),
      validAfter: 0n,
      validBefore,
      nonce,
    },
  });
  const paymentPayload = {
    x402Version: challenge.x402Version,
    scheme: accept.scheme,
    network: accept.network,
    payload: {
      signature,
      authorization: {
        from: account.address,
        to: accept.payTo,
        value: accept.maxAmountRequired,
        validAfter: '0',
        validBefore: validBefore.toString(),
        nonce,
      },
    },
  };
  const response = await fetch(url, {
    method: 'POST',
    ...init,
    headers: { ...(init.headers || {}), 'PAYMENT-SIGNATURE': btoa(JSON.stringify(paymentPayload)) },
    signal: AbortSignal.timeout(15_000),
  });
  return { challengeResponse: first, challenge, paymentPayload, response };
}

/** Verifies an exact-EVM EIP-3009 payload the way a facilitator would (signature → from). */
export async function verifyEip3009({ authorization, signature }, { name, version, chainId, asset }) {
  return verifyTypedData({
    address: getAddress(authorization.from),
    domain: { name, version, chainId, verifyingContract: getAddress(asset) },
    types: EIP3009_TYPES,
    primaryType: 'TransferWithAuthorization',
    message: {
      from: getAddress(authorization.from),
      to: getAddress(authorization.to),
      value: BigInt(authorization.value),
      validAfter: BigInt(authorization.validAfter),
      validBefore: BigInt(authorization.validBefore),
      nonce: authorization.nonce,
    },
    signature,
  });
}
