// Which realtime messages the dashboard believes. Only the ledger's trigger
// publishes on the x402_payments channel, through realtime.publish, and InsForge
// marks those messages meta.senderType "system"; a message a client published
// through its socket is marked "user" (or "system" only for the project's API
// key). The server sets meta itself, after the payload, so a payload cannot claim
// to be a system message (InsForge backend/src/infra/socket/socket.manager.ts,
// buildSocketMessage; github.com/InsForge/InsForge). Anyone holding the public
// anon key could otherwise publish a forged payment where the channel lets them.
export const CHANNEL = 'x402_payments';
export const EVENTS = ['INSERT_x402_payments', 'UPDATE_x402_payments'];
const ROOM = `realtime:${CHANNEL}`;

// ledgerRow returns the ledger row a realtime message carries, or null when the
// message is not the ledger's own: not a system message, another channel, or no
// row with a string id.
export function ledgerRow(msg) {
  if (!msg || typeof msg !== 'object') return null;
  const meta = msg.meta;
  if (!meta || typeof meta !== 'object' || meta.senderType !== 'system' || meta.channel !== ROOM) return null;
  const r = msg.new;
  if (!r || typeof r !== 'object' || Array.isArray(r) || typeof r.id !== 'string') return null;
  return r;
}
