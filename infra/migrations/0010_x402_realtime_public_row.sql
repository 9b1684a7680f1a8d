-- x402_payments realtime (shared/ledger, docs/x402.md): the trigger publishes
-- the row as the public may read it, without naming a column. Its payload is the
-- new row minus every column anon or authenticated may not SELECT, read from the
-- column privileges when the row is published. The column GRANT (latest in
-- 0006) is then the one list of public columns in SQL: a column added later is
-- private until granted, and the payload follows the GRANT with no new
-- migration of this function.
--
-- The same channel and event names as before. SECURITY DEFINER and owned by
-- project_admin (only it may EXECUTE realtime.publish); search_path pinned and
-- every call qualified, so nothing planted in public runs as the owner.
-- Cost: two has_column_privilege checks per column per written row, from the
-- catalog caches; BenchmarkPublishTrigger (infra/migrations) finds no difference
-- from 0006's named list beyond noise (~0.3-0.5 ms per write either way here).
-- Idempotent: CREATE OR REPLACE.

CREATE OR REPLACE FUNCTION public.x402_payments_publish() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  private text[] := ARRAY(
    SELECT a.attname::text FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped
       AND NOT (pg_catalog.has_column_privilege('anon', a.attrelid, a.attnum, 'SELECT')
            AND pg_catalog.has_column_privilege('authenticated', a.attrelid, a.attnum, 'SELECT')));
BEGIN
  PERFORM realtime.publish('x402_payments', TG_OP || '_x402_payments',
    pg_catalog.jsonb_build_object('new', pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) private));
  RETURN NEW;
END;
$$;
ALTER FUNCTION public.x402_payments_publish() OWNER TO project_admin;
REVOKE ALL ON FUNCTION public.x402_payments_publish() FROM PUBLIC;
