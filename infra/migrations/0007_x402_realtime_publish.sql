-- run-as: owner
-- Clients may not publish on the x402_payments realtime channel.
--
-- InsForge lets any socket that subscribed to a channel publish on it (INSERT on
-- realtime.messages is granted to anon and authenticated, and RLS is off on the
-- realtime tables by default: InsForge migration 017). With the anon key anyone
-- could publish INSERT_x402_payments / UPDATE_x402_payments on the ledger's
-- channel and reach every dashboard. Only the ledger's trigger publishes there,
-- through realtime.publish (SECURITY DEFINER, sender_type 'system').
--
-- The policy is RESTRICTIVE, so it narrows whatever publish policies the project
-- has and widens none. It refuses every name the channel's pattern matches
-- (`LIKE 'x402_payments'`: '_' is a wildcard there, so 'x402-payments' also
-- resolves to this channel), the same test realtime uses to route a publish.
--
-- realtime.messages belongs to the database owner, not to project_admin (who runs
-- the other migrations), and only the owner may enable RLS or add a policy. Hence
-- the first line: scripts/migrate --psql and the local stack apply this file as
-- the connection's own role. Run as anyone else (InsForge CLI `db import`), it
-- changes nothing and warns: apply it then through InsForge's unrestricted raw
-- SQL (POST /api/database/advance/rawsql/unrestricted with the API key, which runs
-- as the owner; github.com/InsForge/InsForge backend/src/api/routes/database/
-- advance.routes.ts), see docs/x402.md. The dashboard ignores client messages
-- either way; this keeps them off the channel.
--
-- Idempotent: DROP POLICY IF EXISTS + CREATE; RLS is enabled once.
DO $$
DECLARE
  may_alter boolean;
  rls_on    boolean;
BEGIN
  SELECT pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE'), c.relrowsecurity
    INTO may_alter, rls_on
  FROM pg_catalog.pg_class c
  WHERE c.oid = 'realtime.messages'::regclass;

  IF NOT may_alter THEN
    RAISE WARNING 'x402: clients can still publish on the x402_payments realtime channel: % does not own realtime.messages; apply infra/migrations/0007_x402_realtime_publish.sql as the database owner (docs/x402.md)', current_user;
    RETURN;
  END IF;

  IF NOT rls_on THEN
    -- RLS was off: every client could publish on every channel it may subscribe
    -- to. This permissive policy keeps exactly that for every other channel once
    -- RLS is on (drop it when you write your own publish policies).
    ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS realtime_publish_open ON realtime.messages;
    CREATE POLICY realtime_publish_open ON realtime.messages
      AS PERMISSIVE FOR INSERT TO anon, authenticated WITH CHECK (true);
  END IF;

  DROP POLICY IF EXISTS x402_payments_no_client_publish ON realtime.messages;
  CREATE POLICY x402_payments_no_client_publish ON realtime.messages
    AS RESTRICTIVE FOR INSERT TO anon, authenticated
    WITH CHECK (channel_name NOT LIKE 'x402_payments');
END
$$;
