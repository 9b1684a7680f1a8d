-- x402_payments hardening (shared/ledger, docs/x402.md):
--  * statuses beyond pending/settled/failed: released (a claim given back before
--    any settlement: the same authorization may pay again), needs_review (the
--    authorization was used on-chain without transfer evidence, or the facilitator
--    returned a hash another row holds), cancelled (cancelAuthorization seen on-chain),
--    reverted (the settlement transaction reverted or moved no tokens);
--  * delivered_at: a settled authorization buys exactly one delivery;
--  * per-endpoint totals kept by trigger, so stats cost O(1) per request;
--  * the realtime trigger publishes public columns only (no error text);
--  * every function pins search_path = pg_catalog, pg_temp and qualifies its calls,
--    so nothing planted in public can run as the function owner;
--  * anon and authenticated read every column except error.
-- Idempotent: IF NOT EXISTS, CREATE OR REPLACE, DROP … IF EXISTS + CREATE.

ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS delivered_at timestamptz;
-- confirmed_at: the reconciler found the transfer on-chain for a settled row.
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS confirmed_at timestamptz;

ALTER TABLE public.x402_payments DROP CONSTRAINT IF EXISTS x402_payments_status_check;
ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_status_check
  CHECK (status IN ('pending', 'settled', 'failed', 'released', 'needs_review', 'cancelled', 'reverted'));

-- Rows settled before delivered_at existed count as delivered: re-presenting
-- them gets the receipt, not the content again.
UPDATE public.x402_payments SET delivered_at = updated_at WHERE status = 'settled' AND delivered_at IS NULL;

CREATE INDEX IF NOT EXISTS idx_x402_payments_settled_endpoint
  ON public.x402_payments (endpoint, created_at DESC) WHERE status = 'settled';
-- The reconciler re-checks recently settled rows.
CREATE INDEX IF NOT EXISTS idx_x402_payments_settled_updated
  ON public.x402_payments (updated_at) WHERE status = 'settled';

-- Public reads: every column but error (upstream error text stays private).
REVOKE SELECT ON public.x402_payments FROM anon, authenticated;
GRANT SELECT (id, payer_address, endpoint, amount, tx_hash, chain, status, response_summary, created_at,
              network, asset, pay_to, nonce, valid_before, mock, updated_at, delivered_at, confirmed_at)
  ON public.x402_payments TO anon, authenticated;

CREATE OR REPLACE FUNCTION public.x402_payments_touch() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  NEW.updated_at := pg_catalog.now();
  RETURN NEW;
END;
$$;

-- Realtime: the same channel and event names as before, public columns only.
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
      'delivered_at', NEW.delivered_at, 'confirmed_at', NEW.confirmed_at))
  );
  RETURN NEW;
END;
$$;
ALTER FUNCTION public.x402_payments_publish() OWNER TO project_admin;
REVOKE ALL ON FUNCTION public.x402_payments_publish() FROM PUBLIC;

-- Per-endpoint totals over settled rows: requests (mock included, as before),
-- revenue (non-mock only, exact numeric) and the latest settled payment.
CREATE TABLE IF NOT EXISTS public.x402_payment_totals (
  endpoint       text        PRIMARY KEY,
  requests       bigint      NOT NULL DEFAULT 0,
  revenue        numeric     NOT NULL DEFAULT 0,
  latest_payment timestamptz
);
ALTER TABLE public.x402_payment_totals ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS public_read ON public.x402_payment_totals;
CREATE POLICY public_read ON public.x402_payment_totals FOR SELECT USING (true);
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.x402_payment_totals FROM anon, authenticated;
GRANT SELECT ON public.x402_payment_totals TO anon, authenticated;

-- SECURITY DEFINER: any writer of x402_payments (the service key) keeps the
-- totals right, though only the owner writes the totals table.
CREATE OR REPLACE FUNCTION public.x402_payments_tally() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  was boolean := TG_OP <> 'INSERT' AND OLD.status = 'settled';
  now_settled boolean := TG_OP <> 'DELETE' AND NEW.status = 'settled';
BEGIN
  IF was AND (NOT now_settled OR OLD.endpoint <> NEW.endpoint OR OLD.amount <> NEW.amount OR OLD.mock <> NEW.mock) THEN
    UPDATE public.x402_payment_totals t
       SET requests = t.requests - 1,
           revenue = t.revenue - CASE WHEN OLD.mock THEN 0 ELSE OLD.amount::numeric END,
           latest_payment = (SELECT pg_catalog.max(p.created_at) FROM public.x402_payments p
                              WHERE p.endpoint = OLD.endpoint AND p.status = 'settled'
                                AND (TG_OP = 'DELETE' OR p.id <> OLD.id))
     WHERE t.endpoint = OLD.endpoint;
    was := false;
  END IF;
  IF now_settled AND NOT was THEN
    INSERT INTO public.x402_payment_totals AS t (endpoint, requests, revenue, latest_payment)
    VALUES (NEW.endpoint, 1, CASE WHEN NEW.mock THEN 0 ELSE NEW.amount::numeric END, NEW.created_at)
    ON CONFLICT (endpoint) DO UPDATE
       SET requests = t.requests + 1,
           revenue = t.revenue + EXCLUDED.revenue,
           latest_payment = GREATEST(t.latest_payment, EXCLUDED.latest_payment);
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END;
$$;
ALTER FUNCTION public.x402_payments_tally() OWNER TO project_admin;
REVOKE ALL ON FUNCTION public.x402_payments_tally() FROM PUBLIC;

DROP TRIGGER IF EXISTS x402_payments_tally ON public.x402_payments;
CREATE TRIGGER x402_payments_tally AFTER INSERT OR UPDATE OR DELETE ON public.x402_payments
  FOR EACH ROW EXECUTE FUNCTION public.x402_payments_tally();

-- Rebuild the totals from the rows (a no-op when they already agree). One
-- statement, so it is atomic whether or not the runner wraps the file in a
-- transaction; the lock keeps writers out while the totals are brought in line.
DO $$
BEGIN
  LOCK TABLE public.x402_payments IN SHARE ROW EXCLUSIVE MODE;
  DELETE FROM public.x402_payment_totals;
  INSERT INTO public.x402_payment_totals (endpoint, requests, revenue, latest_payment)
  SELECT endpoint, count(*), coalesce(sum(amount::numeric) FILTER (WHERE NOT mock), 0), max(created_at)
    FROM public.x402_payments WHERE status = 'settled' GROUP BY endpoint;
END
$$;

-- Stats for GET /x402/payments: the same totals as before plus a per-endpoint
-- breakdown, read from the totals (one row per endpoint, not per payment).
CREATE OR REPLACE FUNCTION public.x402_payment_stats() RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.jsonb_build_object(
    'totalRequests', coalesce(pg_catalog.sum(t.requests), 0)::bigint,
    'totalRevenue',  coalesce(pg_catalog.sum(t.revenue), 0)::text,
    'latestPayment', pg_catalog.max(t.latest_payment),
    'endpoints', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
        'endpoint', t.endpoint, 'requests', t.requests, 'revenue', t.revenue::text,
        'latestPayment', t.latest_payment) ORDER BY t.endpoint) FILTER (WHERE t.requests > 0), '[]'::jsonb)
  )
  FROM public.x402_payment_totals t;
$$;
