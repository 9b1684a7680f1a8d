-- better_auth: seal Better Auth's own tables (users, password hashes, sessions and
-- their tokens, OAuth tokens, jwks private keys) from the records API and from every
-- signed-in or anonymous caller. Only Better Auth itself (its own connection) and
-- project_admin keep access.
--
-- Run scripts/migrate AFTER Better Auth's own migrate (npx @better-auth/cli migrate),
-- and again whenever that migrate adds tables; before the schema exists this is a
-- no-op. Idempotent: REVOKE of a privilege that is not held does nothing.
--
-- Revokes, from PUBLIC, anon and authenticated: USAGE/CREATE on the schema (without
-- USAGE nothing in it can be named, including functions, which PostgreSQL lets
-- PUBLIC execute by default), every privilege on its tables, sequences and
-- functions, and project_admin's default privileges in the schema. PostgreSQL lets
-- a role revoke only what it granted, so the migration ends by checking that anon
-- and authenticated really hold nothing; if a grant made by another role (the
-- schema owner) survives, it fails and says what to run as that owner.
DO $$
DECLARE
  leftover text;
  stmt text;
BEGIN
  IF to_regnamespace('better_auth') IS NULL THEN
    RAISE NOTICE 'schema better_auth does not exist (yet): run scripts/migrate again after Better Auth''s migrate';
    RETURN;
  END IF;

  -- A role with no privilege at all on an object (project_admin facing tables
  -- another role owns and never shared) cannot even attempt the REVOKE; that is
  -- fine when nothing was granted there, which the check below establishes.
  FOREACH stmt IN ARRAY ARRAY[
    'REVOKE ALL ON SCHEMA better_auth FROM PUBLIC, anon, authenticated',
    'REVOKE ALL ON ALL TABLES IN SCHEMA better_auth FROM PUBLIC, anon, authenticated',
    'REVOKE ALL ON ALL SEQUENCES IN SCHEMA better_auth FROM PUBLIC, anon, authenticated',
    'REVOKE ALL ON ALL ROUTINES IN SCHEMA better_auth FROM PUBLIC, anon, authenticated',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA better_auth REVOKE ALL ON TABLES FROM PUBLIC, anon, authenticated',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA better_auth REVOKE ALL ON SEQUENCES FROM PUBLIC, anon, authenticated',
    'ALTER DEFAULT PRIVILEGES IN SCHEMA better_auth REVOKE ALL ON ROUTINES FROM PUBLIC, anon, authenticated'
  ] LOOP
    BEGIN
      EXECUTE stmt;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'not permitted as %: %', current_user, stmt;
    END;
  END LOOP;

  -- What is still reachable? has_*_privilege counts grants to PUBLIC and through
  -- role membership. Functions are checked only through the schema: EXECUTE
  -- without USAGE on better_auth is unusable.
  SELECT string_agg(what, '; ') INTO leftover FROM (
    SELECT format('USAGE or CREATE on schema better_auth for %s', r) AS what
      FROM unnest(ARRAY['anon', 'authenticated']) AS r
     WHERE has_schema_privilege(r, 'better_auth', 'USAGE') OR has_schema_privilege(r, 'better_auth', 'CREATE')
    UNION ALL
    SELECT format('%s on %s for %s', p, c.oid::regclass, r)
      FROM pg_class c
      CROSS JOIN unnest(ARRAY['anon', 'authenticated']) AS r
      CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p
     WHERE c.relnamespace = 'better_auth'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       AND has_table_privilege(r, c.oid, p)
    UNION ALL
    SELECT format('%s on sequence %s for %s', p, c.oid::regclass, r)
      FROM pg_class c
      CROSS JOIN unnest(ARRAY['anon', 'authenticated']) AS r
      CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS p
     WHERE c.relnamespace = 'better_auth'::regnamespace AND c.relkind = 'S'
       AND has_sequence_privilege(r, c.oid, p)
  ) AS l;
  IF leftover IS NOT NULL THEN
    RAISE EXCEPTION 'better_auth is still reachable: %', leftover
      USING HINT = 'These grants were made by another role (the owner of the better_auth objects, often the role '
                   'Better Auth connects as). Run this file as that role or a superuser, e.g. '
                   'psql "$DATABASE_URL" -f infra/migrations/0004_better_auth_revoke.sql';
  END IF;
END
$$;
