package localinsforge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	maxBodyBytes   = 8 << 20
	stmtTimeout    = "10s"
	version        = "2.3.1" // the InsForge release (root package.json) whose behaviour this mirrors
	objectMimeType = "application/vnd.pgrst.object+json"
)

// server is InsForge's records API (records, rpc, health) over PostgreSQL.
type server struct {
	pool       *pgxpool.Pool
	secret     []byte
	serviceKey string
	anonKey    string
	parser     *jwt.Parser
	log        *slog.Logger
	now        func() time.Time
}

func newServer(pool *pgxpool.Pool, secret, serviceKey, anonKey string, log *slog.Logger) *server {
	s := &server{pool: pool, secret: []byte(secret), serviceKey: serviceKey, anonKey: anonKey, log: log, now: time.Now}
	// jsonwebtoken's verify with algorithms ['HS256'], no leeway: exp and nbf only
	// when present, aud and iss ignored.
	s.parser = jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return s.now() }))
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// CORS as InsForge's express cors({origin: true, credentials: true}).
	h := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
			if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
				h.Set("Access-Control-Allow-Headers", rh)
				h.Add("Vary", "Access-Control-Request-Headers")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", "Content-Range, Preference-Applied")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	path := r.URL.Path
	switch {
	case path == "/api/health":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version,
			"service": "Insforge OSS Backend", "timestamp": s.now().UTC().Format(time.RFC3339Nano)})
	case strings.HasPrefix(path, "/api/database/records/"):
		s.records(w, r, strings.TrimPrefix(path, "/api/database/records/"))
	case strings.HasPrefix(path, "/api/database/rpc/"):
		s.rpc(w, r, strings.TrimPrefix(path, "/api/database/rpc/"))
	default:
		writeEnvelope(w, &envelopeErr{http.StatusNotFound, "NOT_FOUND", "Route " + r.Method + " " + path + " not found", ""})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeEnvelope(w http.ResponseWriter, e *envelopeErr) {
	body := map[string]any{"error": e.Code, "message": e.Message, "statusCode": e.Status}
	if e.NextActions != "" {
		body["nextActions"] = e.NextActions
	}
	writeJSON(w, e.Status, body)
}

func writeAPIErr(w http.ResponseWriter, e *apiErr) {
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	writeJSON(w, e.Status, map[string]any{"code": e.Code, "message": e.Message, "details": null(e.Details), "hint": null(e.Hint)})
}

// validName mirrors InsForge's table-name validation (no quotes, no control chars).
func validName(n string) bool {
	if n == "" || strings.ContainsAny(n, `"/`) {
		return false
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// checkProfile enforces the single exposed schema: public.
func checkProfile(r *http.Request) *apiErr {
	for _, v := range []string{r.URL.Query().Get("schema"), r.Header.Get("Accept-Profile"), r.Header.Get("Content-Profile")} {
		if v != "" && v != "public" {
			return &apiErr{Status: http.StatusNotAcceptable, Code: "PGRST106", Message: "The schema must be one of the following: public"}
		}
	}
	return nil
}

type prefer struct {
	representation bool
	resolution     string
}

func parsePrefer(r *http.Request) (prefer, *apiErr) {
	var p prefer
	for _, h := range r.Header.Values("Prefer") {
		for _, tok := range strings.Split(h, ",") {
			tok = strings.TrimSpace(tok)
			k, v, _ := strings.Cut(tok, "=")
			switch {
			case tok == "":
			case k == "return" && v == "representation":
				p.representation = true
			case k == "return" && (v == "minimal" || v == "headers-only"):
				p.representation = false
			case k == "resolution" && (v == "ignore-duplicates" || v == "merge-duplicates"):
				p.resolution = v
			case k == "handling" && v == "lenient", k == "timezone":
			case k == "count", k == "missing", k == "tx", k == "params", k == "max-affected", k == "handling",
				k == "return", k == "resolution":
				return p, unsupported("Prefer: %s is not supported by this stack", tok)
			default:
				// PostgREST ignores unknown preferences (handling=lenient).
			}
		}
	}
	return p, nil
}

// wantsObject reports Accept: application/vnd.pgrst.object+json (postgrest-js .single()).
func wantsObject(r *http.Request) (bool, *apiErr) {
	a := r.Header.Get("Accept")
	switch {
	case strings.Contains(a, objectMimeType):
		return true, nil
	case a == "", strings.Contains(a, "json"), strings.Contains(a, "*/*"):
		return false, nil
	}
	return false, &apiErr{Status: http.StatusNotAcceptable, Code: "PGRST107", Message: "None of these media types are available: " + a}
}

func (s *server) readJSON(w http.ResponseWriter, r *http.Request) (any, bool) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeEnvelope(w, &envelopeErr{http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "request entity too large", ""})
		return nil, false
	}
	if err != nil {
		writeEnvelope(w, &envelopeErr{http.StatusBadRequest, "INVALID_INPUT", "request body could not be read", ""})
		return nil, false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, true
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		writeEnvelope(w, &envelopeErr{http.StatusBadRequest, "INVALID_INPUT", "Invalid JSON in request body", ""})
		return nil, false
	}
	return v, true
}

// tx runs fn in one transaction as p: SET LOCAL ROLE + request.jwt.claims, like
// PostgREST does for every request.
func (s *server) tx(ctx context.Context, p principal, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{p.role}.Sanitize()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('request.jwt.claims', $1, true), set_config('statement_timeout', $2, true)`,
			p.claims, stmtTimeout); err != nil {
			return err
		}
		return fn(tx)
	})
}

// fail writes err: PostgREST-shaped errors as they are, PostgreSQL errors mapped
// by PostgREST's status table, anything else a 500 envelope (logged).
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiErr
	if errors.As(err, &ae) {
		writeAPIErr(w, ae)
		return
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		writeAPIErr(w, &apiErr{Status: pgStatus(pe.Code), Code: pe.Code, Message: pe.Message, Details: pe.Detail, Hint: pe.Hint})
		return
	}
	s.log.Error("localinsforge: request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	writeEnvelope(w, &envelopeErr{http.StatusInternalServerError, "INTERNAL_ERROR", "internal error", ""})
}

// pgStatus is PostgREST's SQLSTATE → HTTP table (docs "Errors").
func pgStatus(code string) int {
	switch code {
	case "23503", "23505":
		return http.StatusConflict
	case "25006":
		return http.StatusMethodNotAllowed
	case "42501":
		return http.StatusForbidden
	case "42883", "42P01":
		return http.StatusNotFound
	case "P0001":
		return http.StatusBadRequest
	case "42P17":
		return http.StatusInternalServerError
	}
	switch code[:2] {
	case "08", "53":
		return http.StatusServiceUnavailable
	case "0L", "0P", "28":
		return http.StatusForbidden
	case "54":
		return http.StatusRequestEntityTooLarge
	case "09", "25", "2D", "38", "39", "3B", "40", "55", "57", "58", "F0", "HV", "P0", "XX":
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

func (s *server) lookupTable(ctx context.Context, tx pgx.Tx, name string) (*table, error) {
	rows, err := tx.Query(ctx, `
		SELECT a.attname, format_type(a.atttypid, NULL),
		       coalesce(a.attnum = ANY(i.indkey), false)
		FROM pg_class c
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
		WHERE c.relnamespace = 'public'::regnamespace AND c.relname = $1 AND c.relkind IN ('r','v','m','f','p')
		ORDER BY a.attnum`, name)
	if err != nil {
		return nil, err
	}
	t := &table{name: name, cols: map[string]string{}}
	for rows.Next() {
		var col, typ string
		var pk bool
		if err := rows.Scan(&col, &typ, &pk); err != nil {
			return nil, err
		}
		t.cols[col] = typ
		t.ord = append(t.ord, col)
		if pk {
			t.pk = append(t.pk, col)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(t.ord) == 0 {
		// Only public is exposed: better_auth.*, auth.*, realtime.* land here too.
		return nil, &apiErr{Status: http.StatusNotFound, Code: "42P01",
			Message: fmt.Sprintf("relation \"public.%s\" does not exist", name)}
	}
	return t, nil
}

// admit runs the checks every records and RPC call starts with, in InsForge's
// order: the name's shape, the credential, the schema profile. It writes the
// error response itself and reports whether the call may go on.
func (s *server) admit(w http.ResponseWriter, r *http.Request, name, kind string) (principal, bool) {
	if !validName(name) {
		writeEnvelope(w, &envelopeErr{http.StatusBadRequest, "DATABASE_VALIDATION_ERROR", "Invalid " + kind + " name", ""})
		return principal{}, false
	}
	p, ae := s.authenticate(r)
	if ae != nil {
		writeEnvelope(w, ae)
		return principal{}, false
	}
	if e := checkProfile(r); e != nil {
		writeAPIErr(w, e)
		return principal{}, false
	}
	return p, true
}

func (s *server) records(w http.ResponseWriter, r *http.Request, name string) {
	p, ok := s.admit(w, r, name, "table")
	if !ok {
		return
	}
	pref, e := parsePrefer(r)
	if e != nil {
		writeAPIErr(w, e)
		return
	}
	single, e := wantsObject(r)
	if e != nil {
		writeAPIErr(w, e)
		return
	}
	var body any
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
	case http.MethodPost, http.MethodPatch:
		var ok bool
		if body, ok = s.readJSON(w, r); !ok {
			return
		}
	default:
		writeAPIErr(w, unsupported("method %s is not supported by this stack (GET, HEAD, POST, PATCH, DELETE)", r.Method))
		return
	}

	var (
		status  int
		out     []byte
		n       int64
		applied string
	)
	err := s.tx(r.Context(), p, func(tx pgx.Tx) error {
		t, err := s.lookupTable(r.Context(), tx, name)
		if err != nil {
			return err
		}
		b := &builder{}
		rq, ae := parseQuery(r.URL.RawQuery, t, b)
		if ae != nil {
			return ae
		}
		var sql string
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			status, pref.representation = http.StatusOK, true
			sql = selectSQL(t, rq)
		case http.MethodPost:
			status = http.StatusCreated
			sql, ae = insertSQL(t, rq, b, body, pref)
			if pref.resolution != "" {
				applied = "resolution=" + pref.resolution
			}
		case http.MethodPatch:
			status = http.StatusOK
			sql, ae = updateSQL(t, rq, b, body, pref)
		case http.MethodDelete:
			status = http.StatusOK
			sql = deleteSQL(t, rq, pref)
		}
		if ae != nil {
			return ae
		}
		if sql == "" { // nothing to do (empty insert or patch)
			out = []byte("[]")
			return nil
		}
		if err := tx.QueryRow(r.Context(), sql, b.args...).Scan(&out, &n); err != nil {
			return err
		}
		if single && n != 1 {
			return &apiErr{Status: http.StatusNotAcceptable, Code: "PGRST116",
				Message: "JSON object requested, multiple (or no) rows returned",
				Details: fmt.Sprintf("The result contains %d rows", n)}
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if applied != "" {
		w.Header().Set("Preference-Applied", applied)
	}
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		if n == 0 {
			w.Header().Set("Content-Range", "*/*")
		} else {
			off, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
			w.Header().Set("Content-Range", fmt.Sprintf("%d-%d/*", off, off+n-1))
		}
	case r.Method == http.MethodPost:
		w.Header().Set("Content-Range", "*/*")
	}
	if !pref.representation {
		if r.Method == http.MethodPost {
			// InsForge turns PostgREST's empty 201 into [].
			writeRaw(w, http.StatusCreated, []byte("[]"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if single {
		out = unwrapSingle(out)
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		return
	}
	writeRaw(w, status, out)
}

// unwrapSingle turns a one-element JSON array into its element.
func unwrapSingle(b []byte) []byte {
	var arr []json.RawMessage
	if json.Unmarshal(b, &arr) == nil && len(arr) == 1 {
		return arr[0]
	}
	return b
}

func returning(t *table, rq *request) string {
	if rq.sel == nil {
		return "_t.*"
	}
	parts := make([]string, len(rq.sel))
	for i, c := range rq.sel {
		parts[i] = "_t." + pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(parts, ", ")
}

func where(rq *request) string {
	if len(rq.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(rq.where, " AND ")
}

// wrap aggregates a row source into (json array text, row count).
func wrap(inner string) string {
	return "WITH _r AS (" + inner + ") SELECT coalesce(json_agg(_r), '[]')::text, count(*) FROM _r"
}

func selectSQL(t *table, rq *request) string {
	q := "SELECT " + returning(t, rq) + " FROM " + t.ident() + " AS _t" + where(rq)
	if len(rq.order) > 0 {
		q += " ORDER BY " + strings.Join(rq.order, ", ")
	}
	if rq.limit != "" {
		q += " LIMIT " + rq.limit
	}
	if rq.offset != "" {
		q += " OFFSET " + rq.offset
	}
	return wrap(q)
}

func insertSQL(t *table, rq *request, b *builder, body any, pref prefer) (string, *apiErr) {
	var rows []any
	switch v := body.(type) {
	case map[string]any:
		rows = []any{v}
	case []any:
		rows = v
	default:
		return "", &apiErr{Status: 400, Code: "PGRST102", Message: "Empty or invalid json"}
	}
	if len(rows) == 0 {
		return "", nil
	}
	cols := rq.columns
	for i, row := range rows {
		obj, ok := row.(map[string]any)
		if !ok {
			return "", &apiErr{Status: 400, Code: "PGRST102", Message: "All object keys must match"}
		}
		if rq.columns != nil {
			continue // keys outside columns= are ignored, missing ones are NULL
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		if i == 0 {
			cols = sortedByTable(t, keys)
		} else if !sameKeys(cols, obj) {
			return "", &apiErr{Status: 400, Code: "PGRST102", Message: "All object keys must match"}
		}
	}
	for _, c := range cols {
		if _, ok := t.cols[c]; !ok {
			return "", &apiErr{Status: 400, Code: "PGRST204",
				Message: fmt.Sprintf("Could not find the '%s' column of '%s' in the schema cache", c, t.name)}
		}
	}
	if len(cols) == 0 {
		return "", unsupported("insert needs at least one column (DEFAULT VALUES rows are not supported)")
	}
	idents := make([]string, len(cols))
	for i, c := range cols {
		idents[i] = pgx.Identifier{c}.Sanitize()
	}
	list := strings.Join(idents, ", ")
	js, _ := json.Marshal(rows)
	q := "INSERT INTO " + t.ident() + " AS _t (" + list + ") SELECT " + list +
		" FROM jsonb_populate_recordset(NULL::" + t.ident() + ", " + b.arg(string(js)) + "::jsonb)"
	if pref.resolution != "" {
		target := rq.onConflict
		if target == nil {
			target = t.pk
		}
		if len(target) == 0 {
			return "", unsupported("resolution=%s needs on_conflict= or a primary key", pref.resolution)
		}
		tc := make([]string, len(target))
		for i, c := range target {
			tc[i] = pgx.Identifier{c}.Sanitize()
		}
		q += " ON CONFLICT (" + strings.Join(tc, ", ") + ")"
		if pref.resolution == "ignore-duplicates" {
			q += " DO NOTHING"
		} else {
			set := make([]string, len(idents))
			for i, id := range idents {
				set[i] = id + " = EXCLUDED." + id
			}
			q += " DO UPDATE SET " + strings.Join(set, ", ")
		}
	}
	return mutation(q, t, rq, pref), nil
}

// mutation adds RETURNING only for return=representation: RETURNING makes
// PostgreSQL apply SELECT policies to the new rows, which PostgREST avoids for
// return=minimal too.
func mutation(q string, t *table, rq *request, pref prefer) string {
	if pref.representation {
		return wrap(q + " RETURNING " + returning(t, rq))
	}
	return "WITH _m AS (" + q + " RETURNING 1) SELECT '[]'::text, count(*) FROM _m"
}

func updateSQL(t *table, rq *request, b *builder, body any, pref prefer) (string, *apiErr) {
	obj, ok := body.(map[string]any)
	if !ok {
		return "", &apiErr{Status: 400, Code: "PGRST102", Message: "Empty or invalid json"}
	}
	if len(obj) == 0 {
		return "", nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if _, ok := t.cols[k]; !ok {
			return "", &apiErr{Status: 400, Code: "PGRST204",
				Message: fmt.Sprintf("Could not find the '%s' column of '%s' in the schema cache", k, t.name)}
		}
		keys = append(keys, k)
	}
	keys = sortedByTable(t, keys)
	set := make([]string, len(keys))
	for i, k := range keys {
		id := pgx.Identifier{k}.Sanitize()
		set[i] = id + " = _v." + id
	}
	js, _ := json.Marshal(obj)
	q := "UPDATE " + t.ident() + " AS _t SET " + strings.Join(set, ", ") +
		" FROM jsonb_populate_record(NULL::" + t.ident() + ", " + b.arg(string(js)) + "::jsonb) AS _v" + where(rq)
	return mutation(q, t, rq, pref), nil
}

func deleteSQL(t *table, rq *request, pref prefer) string {
	return mutation("DELETE FROM "+t.ident()+" AS _t"+where(rq), t, rq, pref)
}

func sortedByTable(t *table, keys []string) []string {
	set := map[string]bool{}
	for _, k := range keys {
		set[k] = true
	}
	var out []string
	for _, c := range t.ord {
		if set[c] {
			out = append(out, c)
			delete(set, c)
		}
	}
	for _, k := range keys { // unknown keys last; reported by the caller
		if set[k] {
			out = append(out, k)
		}
	}
	return out
}

func sameKeys(cols []string, obj map[string]any) bool {
	if len(cols) != len(obj) {
		return false
	}
	for _, c := range cols {
		if _, ok := obj[c]; !ok {
			return false
		}
	}
	return true
}
