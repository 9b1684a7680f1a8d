-- x402_payments: the exactly-once payment ledger (shared/ledger).
-- A row is claimed as 'pending' BEFORE the facilitator settles (no money moves
-- without a row), then marked 'settled' with tx_hash or 'failed'. The two UNIQUE
-- constraints make a payment impossible to record twice: one per on-chain
-- transaction, and one per EIP-3009 authorization (network, asset, payer, nonce),
-- which is what stops concurrent replays of one payload from settling twice.
-- Differences from the InsForge guide's table: tx_hash is nullable (a pending claim
-- has no hash yet; UNIQUE still holds for non-null values), status defaults to
-- 'pending', and the columns the claim needs are added.
-- Idempotent: IF NOT EXISTS everywhere, constraints added only when missing,
-- DROP … IF EXISTS + CREATE for policies and triggers.

CREATE TABLE IF NOT EXISTS public.x402_payments (
  id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  payer_address    text        NOT NULL,
  endpoint         text        NOT NULL,
  amount           text        NOT NULL,
  tx_hash          text,
  chain            text        DEFAULT 'xlayer',
  status           text        NOT NULL DEFAULT 'pending',
  response_summary text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  network          text        NOT NULL,
  asset            text        NOT NULL,
  pay_to           text        NOT NULL,
  nonce            text        NOT NULL,
  valid_before     bigint      NOT NULL,
  error            text,
  mock             boolean     NOT NULL DEFAULT false,
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Upgrading a table created by the guide's db_init.sql: add what it lacks.
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS network      text;
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS asset        text;
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS pay_to       text;
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS nonce        text;
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS valid_before bigint;
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS error        text;
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS mock         boolean NOT NULL DEFAULT false;
ALTER TABLE public.x402_payments ADD COLUMN IF NOT EXISTS updated_at   timestamptz NOT NULL DEFAULT now();
ALTER TABLE public.x402_payments ALTER COLUMN tx_hash DROP NOT NULL;
ALTER TABLE public.x402_payments ALTER COLUMN status SET DEFAULT 'pending';

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'public.x402_payments'::regclass
                 AND conname = 'x402_payments_tx_hash_key') THEN
    ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_tx_hash_key UNIQUE (tx_hash);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'public.x402_payments'::regclass
                 AND conname = 'x402_payments_authorization_key') THEN
    ALTER TABLE public.x402_payments
      ADD CONSTRAINT x402_payments_authorization_key UNIQUE (network, asset, payer_address, nonce);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'public.x402_payments'::regclass
                 AND conname = 'x402_payments_status_check') THEN
    ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_status_check
      CHECK (status IN ('pending', 'settled', 'failed'));
  END IF;
  -- Canonical forms, so a different spelling cannot slip past the UNIQUE keys.
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'public.x402_payments'::regclass
                 AND conname = 'x402_payments_canonical_check') THEN
    ALTER TABLE public.x402_payments ADD CONSTRAINT x402_payments_canonical_check CHECK (
      payer_address = lower(payer_address) AND asset = lower(asset) AND nonce = lower(nonce)
      AND (tx_hash IS NULL OR tx_hash = lower(tx_hash))
      AND amount ~ '^[0-9]{1,78}$'
      AND (status <> 'settled' OR tx_hash IS NOT NULL OR error IS NOT NULL)) NOT VALID;
  END IF;
END
$$;

CREATE INDEX IF NOT EXISTS idx_x402_payments_payer   ON public.x402_payments (payer_address);
CREATE INDEX IF NOT EXISTS idx_x402_payments_created ON public.x402_payments (created_at DESC);
CREATE INDEX IF NOT EXISTS idx_x402_payments_pending ON public.x402_payments (created_at) WHERE status = 'pending';

-- RLS as in the guide: anyone may read the ledger (it is public on-chain data);
-- writes come from the service key (project_admin, BYPASSRLS) only.
ALTER TABLE public.x402_payments ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS public_read ON public.x402_payments;
CREATE POLICY public_read ON public.x402_payments FOR SELECT USING (true);
-- InsForge's default privileges grant writes to anon/authenticated; RLS already
-- refuses them (no write policy), and this makes the intent explicit.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.x402_payments FROM anon, authenticated;
GRANT SELECT ON public.x402_payments TO anon, authenticated;

CREATE OR REPLACE FUNCTION public.x402_payments_touch() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS x402_payments_touch ON public.x402_payments;
CREATE TRIGGER x402_payments_touch BEFORE UPDATE ON public.x402_payments
  FOR EACH ROW EXECUTE FUNCTION public.x402_payments_touch();

-- Realtime: dashboards subscribe to the x402_payments channel.
INSERT INTO realtime.channels (pattern, description, enabled)
VALUES ('x402_payments', 'x402 payment ledger: inserts and status changes', true)
ON CONFLICT (pattern) DO NOTHING;

-- SECURITY DEFINER with a pinned search_path, owned by project_admin: EXECUTE on
-- realtime.publish is granted to project_admin only, so the trigger must run as
-- its owner whoever writes the row.
CREATE OR REPLACE FUNCTION public.x402_payments_publish() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, realtime
AS $$
BEGIN
  PERFORM realtime.publish(
    'x402_payments',
    TG_OP || '_x402_payments',
    jsonb_build_object('new', to_jsonb(NEW))
  );
  RETURN NEW;
END;
$$;
ALTER FUNCTION public.x402_payments_publish() OWNER TO project_admin;
REVOKE ALL ON FUNCTION public.x402_payments_publish() FROM PUBLIC;

DROP TRIGGER IF EXISTS x402_payment_realtime ON public.x402_payments;
CREATE TRIGGER x402_payment_realtime AFTER INSERT OR UPDATE ON public.x402_payments
  FOR EACH ROW EXECUTE FUNCTION public.x402_payments_publish();

-- Stats for GET /x402/payments in one round trip. Revenue is summed as numeric
-- (exact, any size) over settled, non-mock rows and returned as a string.
CREATE OR REPLACE FUNCTION public.x402_payment_stats() RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = pg_catalog, public
AS $$
  SELECT jsonb_build_object(
    'totalRequests', count(*),
    'totalRevenue',  coalesce(sum(amount::numeric) FILTER (WHERE NOT mock), 0)::text,
    'latestPayment', max(created_at)
  )
  FROM public.x402_payments
  WHERE status = 'settled';
$$;
