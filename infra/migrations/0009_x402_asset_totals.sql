-- Revenue per asset (an offer may accept several tokens, e.g. USDG and USD₮0;
-- docs/x402.md "Assets"): totals over settled rows per (network, asset), kept by
-- trigger like x402_payment_totals, and x402_payment_asset_stats() for
-- GET /x402/payments. Atomic units of different tokens are never added together
-- here. Idempotent: IF NOT EXISTS, CREATE OR REPLACE, DROP … IF EXISTS + CREATE.

CREATE TABLE IF NOT EXISTS public.x402_payment_asset_totals (
  network        text        NOT NULL,
  asset          text        NOT NULL,
  requests       bigint      NOT NULL DEFAULT 0,
  revenue        numeric     NOT NULL DEFAULT 0,
  latest_payment timestamptz,
  PRIMARY KEY (network, asset)
);
ALTER TABLE public.x402_payment_asset_totals ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS public_read ON public.x402_payment_asset_totals;
CREATE POLICY public_read ON public.x402_payment_asset_totals FOR SELECT USING (true);
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.x402_payment_asset_totals FROM anon, authenticated;
GRANT SELECT ON public.x402_payment_asset_totals TO anon, authenticated;

-- Same rules as x402_payments_tally: requests count mock rows, revenue does not.
CREATE OR REPLACE FUNCTION public.x402_payments_tally_assets() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  was boolean := TG_OP <> 'INSERT' AND OLD.status = 'settled';
  now_settled boolean := TG_OP <> 'DELETE' AND NEW.status = 'settled';
BEGIN
  IF was AND (NOT now_settled OR OLD.network <> NEW.network OR OLD.asset <> NEW.asset
              OR OLD.amount <> NEW.amount OR OLD.mock <> NEW.mock) THEN
    UPDATE public.x402_payment_asset_totals t
       SET requests = t.requests - 1,
           revenue = t.revenue - CASE WHEN OLD.mock THEN 0 ELSE OLD.amount::numeric END,
           latest_payment = (SELECT pg_catalog.max(p.created_at) FROM public.x402_payments p
                              WHERE p.network = OLD.network AND p.asset = OLD.asset AND p.status = 'settled'
                                AND (TG_OP = 'DELETE' OR p.id <> OLD.id))
     WHERE t.network = OLD.network AND t.asset = OLD.asset;
    was := false;
  END IF;
  IF now_settled AND NOT was THEN
    INSERT INTO public.x402_payment_asset_totals AS t (network, asset, requests, revenue, latest_payment)
    VALUES (NEW.network, NEW.asset, 1, CASE WHEN NEW.mock THEN 0 ELSE NEW.amount::numeric END, NEW.created_at)
    ON CONFLICT (network, asset) DO UPDATE
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
ALTER FUNCTION public.x402_payments_tally_assets() OWNER TO project_admin;
REVOKE ALL ON FUNCTION public.x402_payments_tally_assets() FROM PUBLIC;

DROP TRIGGER IF EXISTS x402_payments_tally_assets ON public.x402_payments;
CREATE TRIGGER x402_payments_tally_assets AFTER INSERT OR UPDATE OR DELETE ON public.x402_payments
  FOR EACH ROW EXECUTE FUNCTION public.x402_payments_tally_assets();

-- Rebuild from the rows (a no-op when they already agree), atomically.
DO $$
BEGIN
  LOCK TABLE public.x402_payments IN SHARE ROW EXCLUSIVE MODE;
  DELETE FROM public.x402_payment_asset_totals;
  INSERT INTO public.x402_payment_asset_totals (network, asset, requests, revenue, latest_payment)
  SELECT network, asset, count(*), coalesce(sum(amount::numeric) FILTER (WHERE NOT mock), 0), max(created_at)
    FROM public.x402_payments WHERE status = 'settled' GROUP BY network, asset;
END
$$;

-- One entry per (network, asset) with settled payments, sorted.
CREATE OR REPLACE FUNCTION public.x402_payment_asset_stats() RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
      'network', t.network, 'asset', t.asset, 'requests', t.requests, 'revenue', t.revenue::text,
      'latestPayment', t.latest_payment) ORDER BY t.network, t.asset) FILTER (WHERE t.requests > 0), '[]'::jsonb)
  FROM public.x402_payment_asset_totals t;
$$;
