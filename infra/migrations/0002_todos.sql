-- todos: the example table the token bridges are tested with. Each row belongs to
-- the user whose token inserted it (user_id defaults to requesting_user_id()) and
-- only that user can read, change or delete it. The service key (project_admin,
-- BYPASSRLS) sees everything; anon sees nothing.
-- Idempotent: IF NOT EXISTS, DROP POLICY IF EXISTS + CREATE, plain GRANT/REVOKE.
CREATE TABLE IF NOT EXISTS public.todos (
  id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id    text        NOT NULL DEFAULT public.requesting_user_id(),
  title      text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
  done       boolean     NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS todos_user_id_created_at_idx ON public.todos (user_id, created_at);

ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;

-- InsForge's default privileges open every new public table to anon; this table is
-- for signed-in users only.
REVOKE ALL ON public.todos FROM anon;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.todos TO authenticated;

DROP POLICY IF EXISTS todos_select_own ON public.todos;
CREATE POLICY todos_select_own ON public.todos
  FOR SELECT TO authenticated
  USING (user_id = public.requesting_user_id());

DROP POLICY IF EXISTS todos_insert_own ON public.todos;
CREATE POLICY todos_insert_own ON public.todos
  FOR INSERT TO authenticated
  WITH CHECK (user_id = public.requesting_user_id());

-- WITH CHECK too, so a user cannot hand a row over to someone else.
DROP POLICY IF EXISTS todos_update_own ON public.todos;
CREATE POLICY todos_update_own ON public.todos
  FOR UPDATE TO authenticated
  USING (user_id = public.requesting_user_id())
  WITH CHECK (user_id = public.requesting_user_id());

DROP POLICY IF EXISTS todos_delete_own ON public.todos;
CREATE POLICY todos_delete_own ON public.todos
  FOR DELETE TO authenticated
  USING (user_id = public.requesting_user_id());
