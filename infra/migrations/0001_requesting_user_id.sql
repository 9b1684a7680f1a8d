-- requesting_user_id(): the caller's user id (the token's sub) as text, for RLS
-- policies and column defaults. Text, not uuid: third-party providers (WorkOS,
-- Clerk, Kinde, Stytch, Auth0, Better Auth) issue non-UUID ids, and auth.uid()
-- raises 22P02 on those. NULL for anon and for the service key (project_admin
-- claims carry no sub). Pattern from InsForge's Better Auth guide.
-- Idempotent: CREATE OR REPLACE with an identical body.
CREATE OR REPLACE FUNCTION public.requesting_user_id()
RETURNS text
LANGUAGE sql
STABLE
AS $$
  SELECT NULLIF(auth.jwt() ->> 'sub', '')
$$;

COMMENT ON FUNCTION public.requesting_user_id() IS
  'sub of the request JWT (text); NULL for anon and the service key';
