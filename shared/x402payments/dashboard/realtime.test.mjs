// Unit tests of assets/realtime.mjs (the dashboard's acceptance of realtime
// messages) with Node's built-in runner. Messages are shaped as InsForge's
// socket.io server sends them: the payload spread, then the server's meta
// (backend/src/infra/socket/socket.manager.ts, github.com/InsForge/InsForge; the
// local realtime server, shared/localinsforge/realtime, sends the same).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ledgerRow, CHANNEL, EVENTS } from './assets/realtime.mjs';

const row = {
  id: '0b7c2f7e-3f7a-4f7c-9a43-1d2a0c1e9d11', payer_address: '0x' + 'a'.repeat(40), endpoint: '/x402/report',
  amount: '10000', status: 'settled', created_at: '2026-12-01T10:00:00Z', updated_at: '2026-12-01T10:00:01Z',
};
const meta = (over = {}) => ({
  channel: 'realtime:x402_payments', senderType: 'system', messageId: '4a0a3c2e-8c0e-4b8e-9d1e-2b7f6c5d4e3f',
  timestamp: '2026-12-01T10:00:01.000Z', ...over,
});

test('the ledger trigger\'s message (senderType system, on the ledger channel) is accepted', () => {
  assert.equal(CHANNEL, 'x402_payments');
  assert.deepEqual(EVENTS, ['INSERT_x402_payments', 'UPDATE_x402_payments']);
  assert.deepEqual(ledgerRow({ new: row, meta: meta() }), row);
});

test('a client\'s publish never reaches the page, whatever its payload says', () => {
  // The forgery: a huge settled payment with a far-future updated_at that would
  // pin the row against later polls.
  const forged = { ...row, amount: '999999999999', updated_at: '2099-01-01T00:00:00Z' };
  const cases = {
    'published by an anon-key client': { new: forged, meta: meta({ senderType: 'user' }) },
    'published by a signed-in user': { new: forged, meta: meta({ senderType: 'user', senderId: '6f1c1a52-56a4-4c52-9f35-3c5e2f1d7a10' }) },
    'no meta': { new: forged },
    'meta without a sender type': { new: forged, meta: meta({ senderType: undefined }) },
    'sender type in another case': { new: forged, meta: meta({ senderType: 'System' }) },
    'meta not an object': { new: forged, meta: 'system' },
    'a system message of another channel': { new: forged, meta: meta({ channel: 'realtime:orders' }) },
    'a system message of a look-alike channel': { new: forged, meta: meta({ channel: 'realtime:x402-payments' }) },
    'channel without the room prefix': { new: forged, meta: meta({ channel: 'x402_payments' }) },
  };
  for (const [name, msg] of Object.entries(cases)) {
    assert.equal(ledgerRow(msg), null, name);
  }
});

test('system messages without a usable row are ignored', () => {
  for (const [name, msg] of Object.entries({
    'no row': { meta: meta() },
    'row is null': { new: null, meta: meta() },
    'row is an array': { new: [row], meta: meta() },
    'row without id': { new: { ...row, id: undefined }, meta: meta() },
    'numeric id': { new: { ...row, id: 7 }, meta: meta() },
    'not an object': 'INSERT_x402_payments',
    'null': null,
  })) {
    assert.equal(ledgerRow(msg), null, name);
  }
});
