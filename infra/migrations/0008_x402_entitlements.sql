-- Wallets as InsForge users (docs/wallets.md):
--  * wallet_nonces: used Sign-In with Ethereum nonces, so a nonce signs in once
--    across every instance of token-wallet (the nonces themselves are stateless,
--    HMAC-tagged with their expiry; only used ones are recorded, until they expire);
--  * x402_entitlements: what a wallet paid for — one row per settled pass
--    payment (subject = CAIP-10 account id, product, starts_at, ends_at). A renewal
--    starts where the wallet's active pass of the product ends, so it extends it;
--  * x402_pass_settle_deliver / x402_pass_deliver: record a pass payment settled
--    and delivered AND write its entitlement in one transaction (there is no
--    entitlement without a settled, delivered payment, and no delivered pass
--    payment without its entitlement), by the presentation holding the row's
--    lease, as shared/ledger's SettleDelivered / Deliver (leases: 0006);
--  * has_entitlement(product) for RLS policies, premium_reports as the example;
--  * x402_pass_stats() for the dashboard: passes sold and active per product.
-- A wallet reads only its own entitlements; only the service role writes them.
-- Mock entitlements (bought through MOCK_OKX_FACILITATOR) unlock nothing unless
-- x402_entitlement_settings.accept_mock is set — by development stacks only.
-- Every function pins search_path = pg_catalog, pg_temp and qualifies its calls.
-- Idempotent: IF NOT EXISTS, CREATE OR REPLACE, DROP … IF EXISTS + CREATE.

-- Used sign-in nonces.
CREATE TABLE IF NOT EXISTS public.wallet_nonces (
  nonce      text        PRIMARY KEY CHECK (nonce ~ '^[A-Za-z0-9]{8,128}$'),
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_wallet_nonces_expires ON public.wallet_nonces (expires_at);
ALTER TABLE public.wallet_nonces ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.wallet_nonces FROM anon, authenticated;

-- Records p_nonce as used until p_expires_at; false when it was used already.
-- Expired records are pruned a few at a time, so the table stays the size of
-- ten minutes of sign-ins.
CREATE OR REPLACE FUNCTION public.wallet_nonce_consume(p_nonce text, p_expires_at timestamptz) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n integer;
BEGIN
  DELETE FROM public.wallet_nonces
   WHERE ctid IN (SELECT ctid FROM public.wallet_nonces WHERE expires_at < pg_catalog.now() LIMIT 100);
  INSERT INTO public.wallet_nonces (nonce, expires_at) VALUES (p_nonce, p_expires_at) ON CONFLICT (nonce) DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n = 1;
END;
$$;
REVOKE ALL ON FUNCTION public.wallet_nonce_consume(text, timestamptz) FROM PUBLIC, anon, authenticated;

-- Entitlements.
CREATE TABLE IF NOT EXISTS public.x402_entitlements (
  id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  subject    text        NOT NULL CHECK (subject ~ '^eip155:[1-9][0-9]{0,17}:0x[0-9a-f]{40}$'),
  product    text        NOT NULL CHECK (product ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  starts_at  timestamptz NOT NULL,
  ends_at    timestamptz NOT NULL,
  -- One payment buys one entitlement.
  payment_id uuid        NOT NULL UNIQUE REFERENCES public.x402_payments (id),
  mock       boolean     NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
CREATE INDEX IF NOT EXISTS idx_x402_entitlements_subject_product
  ON public.x402_entitlements (subject, product, ends_at DESC);

ALTER TABLE public.x402_entitlements ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.x402_entitlements FROM anon, authenticated;
GRANT SELECT ON public.x402_entitlements TO authenticated;

DROP POLICY IF EXISTS x402_entitlements_select_own ON public.x402_entitlements;
CREATE POLICY x402_entitlements_select_own ON public.x402_entitlements
  FOR SELECT TO authenticated
  USING (subject = public.requesting_user_id());

-- Deployment settings the entitlement checks read (one row).
CREATE TABLE IF NOT EXISTS public.x402_entitlement_settings (
  id          boolean PRIMARY KEY DEFAULT true CHECK (id),
  -- Development stacks only: entitlements bought through the mock facilitator unlock rows.
  accept_mock boolean NOT NULL DEFAULT false
);
INSERT INTO public.x402_entitlement_settings (id) VALUES (true) ON CONFLICT (id) DO NOTHING;
ALTER TABLE public.x402_entitlement_settings ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.x402_entitlement_settings FROM anon, authenticated;

-- has_entitlement(product): the requesting wallet holds an active pass for
-- product. SECURITY DEFINER so policies can call it without granting anything
-- on x402_entitlements; it reads only the caller's own rows (by the JWT's sub).
CREATE OR REPLACE FUNCTION public.has_entitlement(p_product text) RETURNS boolean
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (
    SELECT 1 FROM public.x402_entitlements e
     WHERE e.subject = public.requesting_user_id()
       AND e.product = p_product
       AND e.starts_at <= pg_catalog.now() AND e.ends_at > pg_catalog.now()
       AND (NOT e.mock OR (SELECT s.accept_mock FROM public.x402_entitlement_settings s WHERE s.id)))
$$;
ALTER FUNCTION public.has_entitlement(text) OWNER TO project_admin;
REVOKE ALL ON FUNCTION public.has_entitlement(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.has_entitlement(text) TO anon, authenticated;

-- Grants the entitlement of a settled pass payment: the payer's CAIP-10
-- account, starting now or where the payer's active pass of the same product
-- (and mock mode) ends. Concurrent grants for one wallet and product are
-- serialised by an advisory lock, so two renewals extend the pass twice.
CREATE OR REPLACE FUNCTION public.x402_grant_entitlement(p_payment public.x402_payments, p_product text,
                                                         p_duration_seconds integer, p_at timestamptz)
RETURNS public.x402_entitlements
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_subject text;
  v_start   timestamptz;
  v_row     public.x402_entitlements;
BEGIN
  IF p_payment.status <> 'settled' THEN
    RAISE EXCEPTION 'x402_grant_entitlement: payment % is not settled', p_payment.id;
  END IF;
  IF p_duration_seconds IS NULL OR p_duration_seconds <= 0 THEN
    RAISE EXCEPTION 'x402_grant_entitlement: duration must be positive';
  END IF;
  IF p_payment.network !~ '^eip155:[1-9][0-9]{0,17}$' THEN
    RAISE EXCEPTION 'x402_grant_entitlement: network % is not an EVM chain', p_payment.network;
  END IF;
  v_subject := p_payment.network || ':' || pg_catalog.lower(p_payment.payer_address);
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(v_subject || '/' || p_product, 0));
  SELECT pg_catalog.max(e.ends_at) INTO v_start
    FROM public.x402_entitlements e
   WHERE e.subject = v_subject AND e.product = p_product AND e.mock = p_payment.mock AND e.ends_at > p_at;
  v_start := coalesce(v_start, p_at);
  INSERT INTO public.x402_entitlements (subject, product, starts_at, ends_at, payment_id, mock)
  VALUES (v_subject, p_product, v_start, v_start + pg_catalog.make_interval(secs => p_duration_seconds),
          p_payment.id, p_payment.mock)
  RETURNING * INTO v_row;
  RETURN v_row;
END;
$$;
REVOKE ALL ON FUNCTION public.x402_grant_entitlement(public.x402_payments, text, integer, timestamptz)
  FROM PUBLIC, anon, authenticated;

-- The pass functions of an earlier draft of this file took no holder; they
-- would write a delivery without its lease.
DROP FUNCTION IF EXISTS public.x402_pass_settle_deliver(uuid, text, boolean, timestamptz, text, text, integer);
DROP FUNCTION IF EXISTS public.x402_pass_deliver(uuid, timestamptz, text, text, integer);

-- The paywall's record step for a pass: p_holder's pending claim becomes
-- settled and delivered by p_holder, under the same conditions as
-- shared/ledger's SettleDelivered (status pending, lease_by = p_holder; 0006),
-- and its entitlement is granted, in one transaction. NULL when the row is not
-- p_holder's pending claim for this endpoint (the caller treats it like
-- ledger.ErrNotPending). A transaction hash another row holds raises
-- unique_violation: nothing is written. Not idempotent on purpose: a caller
-- whose answer was lost re-reads the row (delivered_by = p_holder tells its
-- own write) instead of calling again.
CREATE OR REPLACE FUNCTION public.x402_pass_settle_deliver(p_id uuid, p_holder text, p_tx_hash text, p_mock boolean,
                                                           p_at timestamptz, p_endpoint text, p_product text,
                                                           p_duration_seconds integer)
RETURNS public.x402_entitlements
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_pay public.x402_payments;
BEGIN
  UPDATE public.x402_payments
     SET status = 'settled', mock = p_mock, error = NULL, tx_hash = pg_catalog.lower(p_tx_hash), delivered_at = p_at,
         delivered_by = p_holder
   WHERE id = p_id AND status = 'pending' AND lease_by = p_holder AND endpoint = p_endpoint
  RETURNING * INTO v_pay;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN public.x402_grant_entitlement(v_pay, p_product, p_duration_seconds, p_at);
END;
$$;
REVOKE ALL ON FUNCTION public.x402_pass_settle_deliver(uuid, text, text, boolean, timestamptz, text, text, integer)
  FROM PUBLIC, anon, authenticated;

-- The one delivery of a pass payment settled earlier (answered 202, then
-- resolved by the reconciler), by the holder of its delivery lease, under the
-- same conditions as shared/ledger's Deliver (settled, not delivered,
-- lease_by = p_holder): delivered by p_holder and granted in one transaction;
-- NULL when it is not settled, already delivered, leased to another
-- presentation, or for another endpoint.
CREATE OR REPLACE FUNCTION public.x402_pass_deliver(p_id uuid, p_holder text, p_at timestamptz, p_endpoint text,
                                                    p_product text, p_duration_seconds integer)
RETURNS public.x402_entitlements
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_pay public.x402_payments;
BEGIN
  UPDATE public.x402_payments SET delivered_at = p_at, delivered_by = p_holder
   WHERE id = p_id AND status = 'settled' AND delivered_at IS NULL AND lease_by = p_holder AND endpoint = p_endpoint
  RETURNING * INTO v_pay;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN public.x402_grant_entitlement(v_pay, p_product, p_duration_seconds, p_at);
END;
$$;
REVOKE ALL ON FUNCTION public.x402_pass_deliver(uuid, text, timestamptz, text, text, integer)
  FROM PUBLIC, anon, authenticated;

-- Passes sold (mock and real) and active (distinct wallets now) per product,
-- for the public dashboard: counts only, no subjects.
CREATE OR REPLACE FUNCTION public.x402_pass_stats() RETURNS jsonb
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'product', s.product, 'sold', s.sold, 'sold_mock', s.sold_mock, 'active', s.active) ORDER BY s.product), '[]'::jsonb)
    FROM (SELECT e.product,
                 pg_catalog.count(*) FILTER (WHERE NOT e.mock) AS sold,
                 pg_catalog.count(*) FILTER (WHERE e.mock) AS sold_mock,
                 pg_catalog.count(DISTINCT e.subject) FILTER (WHERE e.starts_at <= pg_catalog.now() AND e.ends_at > pg_catalog.now()) AS active
            FROM public.x402_entitlements e GROUP BY e.product) s
$$;
ALTER FUNCTION public.x402_pass_stats() OWNER TO project_admin;
REVOKE ALL ON FUNCTION public.x402_pass_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.x402_pass_stats() TO anon, authenticated;

-- Example: reports readable only with an active pass for their product.
CREATE TABLE IF NOT EXISTS public.premium_reports (
  id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  product    text        NOT NULL DEFAULT 'pro',
  title      text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
  body       text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.premium_reports ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.premium_reports FROM anon, authenticated;
GRANT SELECT ON public.premium_reports TO authenticated;

DROP POLICY IF EXISTS premium_reports_with_pass ON public.premium_reports;
CREATE POLICY premium_reports_with_pass ON public.premium_reports
  FOR SELECT TO authenticated
  USING (public.has_entitlement(product));

INSERT INTO public.premium_reports (id, product, title, body) VALUES
  ('00000000-0000-4000-8000-00000000a001', 'pro', 'X Layer settlement latency, weekly',
   'Median USDG settlement on X Layer took 2.1 s this week; p99 6.8 s.'),
  ('00000000-0000-4000-8000-00000000a002', 'pro', 'Facilitator uptime',
   'The OKX facilitator answered 99.97 % of verify calls within 1 s.')
ON CONFLICT (id) DO NOTHING;
