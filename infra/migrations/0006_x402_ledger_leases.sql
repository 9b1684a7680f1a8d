-- x402_payments leases (shared/ledger, docs/x402.md "States and leases"):
--  * lease_by / lease_until: the presentation that holds the row, and until when.
--    A pending claim is held by the presentation that claimed it until its
--    invocation's deadline; a settled, undelivered row is held by the one
--    presentation re-delivering it. Every conditional write names its holder, so a
--    re-read after a lost reply tells "my write committed" from "someone else's".
--  * settle_sent_at: the holder is about to send (or sent) the settlement to the
--    facilitator. A pending row without it was claimed but never charged: once its
--    lease is over, another presentation of the same authorization may take it
--    over. A pending row with it may have moved money: only the reconciler, on
--    on-chain evidence, resolves it.
--  * delivered_by: the holder whose delivery was recorded with delivered_at.
-- lease_by, lease_until and delivered_by are coordination data, not public;
-- settle_sent_at is public (it tells "settling" from "claimed").
-- Idempotent: IF NOT EXISTS, CREATE OR REPLACE.

ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS lease_by       text;
-- Rows that exist when this runs (and inserts that name no lease) are leased to
-- nobody: their lease is over at once.
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS lease_until    timestamptz NOT NULL DEFAULT now();
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS settle_sent_at timestamptz;
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS delivered_by   text;

-- Rows left pending before this migration (no holder: every claim since names
-- one) may have been sent to the facilitator: they keep blocking
-- re-presentations until the reconciler resolves them.
UPDATE public.x402_payments SET settle_sent_at = updated_at
 WHERE status = 'pending' AND settle_sent_at IS NULL AND lease_by IS NULL;

-- Public reads: every column but error and the coordination columns.
REVOKE SELECT ON public.x402_payments FROM anon, authenticated;
GRANT SELECT (id, payer_address, endpoint, amount, tx_hash, chain, status, response_summary, created_at,
              network, asset, pay_to, nonce, valid_before, mock, updated_at, delivered_at, confirmed_at,
              settle_sent_at)
  ON public.x402_payments TO anon, authenticated;

-- Realtime: the same channel and event names, public columns only.
CREATE OR REPLACE FUNCTION public.x402_payments_publish() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM realtime.publish(
    'x402_payments',
    TG_OP || '_x402_payments',
    pg_catalog.jsonb_build_object('new', pg_catalog.jsonb_build_object(
      'id', NEW.id, 'payer_address', NEW.payer_address, 'endpoint', NEW.endpoint, 'amount', NEW.amount,
      'tx_hash', NEW.tx_hash, 'chain', NEW.chain, 'status', NEW.status, 'response_summary', NEW.response_summary,
      'created_at', NEW.created_at, 'network', NEW.network, 'asset', NEW.asset, 'pay_to', NEW.pay_to,
      'nonce', NEW.nonce, 'valid_before', NEW.valid_before, 'mock', NEW.mock, 'updated_at', NEW.updated_at,
      'delivered_at', NEW.delivered_at, 'confirmed_at', NEW.confirmed_at, 'settle_sent_at', NEW.settle_sent_at))
  );
  RETURN NEW;
END;
$$;
ALTER FUNCTION public.x402_payments_publish() OWNER TO project_admin;
REVOKE ALL ON FUNCTION public.x402_payments_publish() FROM PUBLIC;
