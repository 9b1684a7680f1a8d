// Writes usdt0_vectors.json: EIP-3009 TransferWithAuthorization digests and
// signatures made by viem (an implementation independent of go-ethereum) for
// USD₮0 on X Layer, the domain pinned in x402.KnownAssets. Run from
// scripts/e2e (where viem is installed: scripts/e2e/ensure-deps):
//
//	cd scripts/e2e && node ../../shared/x402/testdata/usdt0_vectors.mjs > ../../shared/x402/testdata/usdt0_vectors.json
import { createRequire } from 'node:module';

const require = createRequire(`${process.cwd()}/`);
const { hashTypedData, hashDomain, keccak256, toHex } = require('viem');
const { privateKeyToAccount } = require('viem/accounts');
const { version } = require('viem/package.json');

// Anvil's first well-known development key: a test key, never funded.
const privateKey = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const account = privateKeyToAccount(privateKey);
const domain = { name: 'USD\u20ae0', version: '1', chainId: 196, verifyingContract: '0x779Ded0c9e1022225f8E0630b35a9b54bE713736' };
const types = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' }, { name: 'to', type: 'address' }, { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' }, { name: 'validBefore', type: 'uint256' }, { name: 'nonce', type: 'bytes32' },
  ],
};
const domainTypes = {
  EIP712Domain: [
    { name: 'name', type: 'string' }, { name: 'version', type: 'string' },
    { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' },
  ],
};

const vectors = [];
for (let i = 0; vectors.length < 6; i++) {
  const message = {
    from: account.address, to: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C', value: String(1000 + i),
    validAfter: '0', validBefore: String(1790000300 + i), nonce: keccak256(toHex(`usdt0-vector-${i}`)),
  };
  const typed = { domain, types, primaryType: 'TransferWithAuthorization', message };
  vectors.push({
    domain, privateKey, message,
    digest: hashTypedData(typed),
    signature: await account.signTypedData(typed),
  });
}
const separator = hashDomain({ domain, types: domainTypes });
process.stdout.write(JSON.stringify({ source: `viem ${version}`, domainSeparator: separator, vectors }, null, 1) + '\n');
