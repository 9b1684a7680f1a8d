-- InsForge's SQL surface (deploy/docker-init/db/db-init.sql and the migrations in
-- backend/src/infra/database/migrations/, github.com/InsForge/InsForge), as far as
-- our migrations touch it. Run as the superuser in a fresh database, after roles.sql.

-- public (PG15 gives PUBLIC no CREATE on public any more).
GRANT ALL ON SCHEMA public TO project_admin;
GRANT USAGE ON SCHEMA public TO anon, authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE project_admin IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO anon, authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE project_admin IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO anon, authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO anon, authenticated;
-- M/045: project_admin gets everything in public, now and later.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO project_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO project_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO project_admin;

-- auth (M/018, M/036, M/044, M/047).
CREATE SCHEMA auth;
GRANT USAGE ON SCHEMA auth TO PUBLIC;

CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT NULLIF(current_setting('request.jwt.claims', true), '')::jsonb
$$;
GRANT EXECUTE ON FUNCTION auth.jwt() TO anon, authenticated;

CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT NULLIF(auth.jwt() ->> 'sub', '')::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT NULLIF(auth.jwt() ->> 'role', '')
$$;
CREATE FUNCTION auth.email() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT NULLIF(auth.jwt() ->> 'email', '')
$$;

CREATE TABLE auth.users (
  id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  email            text        UNIQUE NOT NULL,
  password         text,
  email_verified   boolean     DEFAULT false,
  created_at       timestamptz DEFAULT now(),
  updated_at       timestamptz DEFAULT now(),
  profile          jsonb       DEFAULT '{}'::jsonb,
  metadata         jsonb       DEFAULT '{}'::jsonb,
  is_project_admin boolean     NOT NULL DEFAULT false,
  is_anonymous     boolean     NOT NULL DEFAULT false
);
REVOKE ALL ON ALL TABLES IN SCHEMA auth FROM PUBLIC, anon, authenticated;
GRANT SELECT ON ALL TABLES IN SCHEMA auth TO project_admin;
GRANT INSERT, UPDATE, DELETE, REFERENCES, TRIGGER ON auth.users TO project_admin;

-- system (M/018).
CREATE SCHEMA system;
GRANT USAGE ON SCHEMA system TO project_admin;
CREATE FUNCTION system.update_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END
$$;

-- realtime (M/017, grants M/045, helper M/053).
CREATE SCHEMA realtime;
GRANT USAGE ON SCHEMA realtime TO anon, authenticated, project_admin;

CREATE TABLE realtime.channels (
  id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  pattern      text        UNIQUE NOT NULL,
  description  text,
  webhook_urls text[],
  enabled      boolean     NOT NULL DEFAULT true,
  created_at   timestamptz DEFAULT now(),
  updated_at   timestamptz DEFAULT now()
);
CREATE TRIGGER update_channels_updated_at BEFORE UPDATE ON realtime.channels
  FOR EACH ROW EXECUTE FUNCTION system.update_updated_at();

CREATE TABLE realtime.messages (
  id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  event_name         text        NOT NULL,
  channel_id         uuid        REFERENCES realtime.channels(id) ON DELETE SET NULL,
  channel_name       text        NOT NULL,
  payload            jsonb       NOT NULL DEFAULT '{}'::jsonb,
  sender_type        text        NOT NULL DEFAULT 'system' CHECK (sender_type IN ('system', 'user')),
  sender_id          uuid,
  ws_audience_count  integer     NOT NULL DEFAULT 0,
  wh_audience_count  integer     NOT NULL DEFAULT 0,
  wh_delivered_count integer     NOT NULL DEFAULT 0,
  created_at         timestamptz DEFAULT now()
);

GRANT SELECT ON realtime.channels TO anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON realtime.channels TO project_admin;
GRANT INSERT ON realtime.messages TO anon, authenticated;
GRANT SELECT, INSERT ON realtime.messages TO project_admin;

CREATE FUNCTION realtime.channel_name() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT NULLIF(current_setting('realtime.channel_name', true), '')
$$;
GRANT EXECUTE ON FUNCTION realtime.channel_name() TO anon, authenticated, project_admin;

CREATE FUNCTION realtime.notify_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('realtime_message', NEW.id::text);
  RETURN NEW;
END
$$;
CREATE TRIGGER notify_realtime_message AFTER INSERT ON realtime.messages
  FOR EACH ROW EXECUTE FUNCTION realtime.notify_message();

-- publish: SECURITY DEFINER, owned by the superuser, EXECUTE only for
-- project_admin. An enabled channel whose pattern equals the name wins, else one
-- whose pattern LIKE-matches it; no match → WARNING and NULL, never an error.
CREATE FUNCTION realtime.publish(p_channel_name text, p_event_name text, p_payload jsonb)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, realtime
AS $$
DECLARE
  v_channel_id uuid;
  v_message_id uuid;
BEGIN
  SELECT id INTO v_channel_id
  FROM realtime.channels
  WHERE enabled AND (pattern = p_channel_name OR p_channel_name LIKE pattern)
  ORDER BY (pattern = p_channel_name) DESC, created_at
  LIMIT 1;

  IF v_channel_id IS NULL THEN
    RAISE WARNING 'realtime.publish: no enabled channel matches %', p_channel_name;
    RETURN NULL;
  END IF;

  INSERT INTO realtime.messages (event_name, channel_id, channel_name, payload, sender_type)
  VALUES (p_event_name, v_channel_id, p_channel_name, COALESCE(p_payload, '{}'::jsonb), 'system')
  RETURNING id INTO v_message_id;
  RETURN v_message_id;
END
$$;
REVOKE ALL ON FUNCTION realtime.publish(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime.publish(text, text, jsonb) TO project_admin;
