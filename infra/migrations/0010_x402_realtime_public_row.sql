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
-- Cost: two has_column_privilege lookups per column per written row (the ACL
-- comes from the syscache; no table is read).
-- Idempotent: CREATE OR REPLACE.

CREATE OR REPLACE FUNCTION public.x402_payments_publish() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM realtime.publish(
    'x402_payments',
    TG_OP || '_x402_payments',
    pg_catalog.jsonb_build_object('new', (
      SELECT COALESCE(pg_catalog.jsonb_object_agg(c.key, c.value), '{}'::jsonb)
        FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(NEW)) AS c
       WHERE pg_catalog.has_column_privilege('anon', TG_RELID, c.key, 'SELECT')
         AND pg_catalog.has_column_privilege('authenticated', TG_RELID, c.key, 'SELECT')))
  );
  RETURN NEW;
END;
$$;
ALTER FUNCTION public.x402_payments_publish() OWNER TO project_admin;
REVOKE ALL ON FUNCTION public.x402_payments_publish() FROM PUBLIC;
