// Makes viem_vectors.json with viem 2.57.20 (scripts/e2e's version), an
// implementation independent of shared/siwe:
//   npm install viem@2.57.20 && node viem_vectors.mjs > viem_vectors.json
// https://viem.sh/docs/siwe/utilities/createSiweMessage
// The nonce is a shared/siwe nonce of the test secret "0123456789abcdef0123456789abcdef"
// (expiry 2026-12-07T12:10:00Z, random part "viem-vector!"), re-derived in verify_test.go.
import { createSiweMessage } from 'viem/siwe';
import { privateKeyToAccount } from 'viem/accounts';
// Anvil's first development key: public, for tests only.
const account = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
const out = [];
for (const statement of ['Sign in to the example app.', undefined]) {
  const message = createSiweMessage({
    address: account.address, chainId: 196, domain: 'app.example.com',
    nonce: '000000006b16a2187669656d2d766563746f7221587de6e8540945792d84b5118d6a5997',
    uri: 'https://app.example.com/login', version: '1', statement,
    issuedAt: new Date('2026-12-07T12:00:30.000Z'), expirationTime: new Date('2026-12-07T12:10:00.000Z'),
    requestId: 'req-42', resources: ['https://app.example.com/terms'],
  });
  out.push({ message, signature: await account.signMessage({ message }), address: account.address });
}
console.log(JSON.stringify(out, null, 1));
