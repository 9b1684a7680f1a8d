// Package localinsforge is an InsForge-compatible local stack on real PostgreSQL:
// InsForge's SQL surface (roles, auth.*, realtime.*, grants), the project's
// infra/migrations applied as project_admin, and InsForge's records API
// (/api/database/records, /api/database/rpc, /api/health) served over net/http
// with InsForge's credential rules. Tests use insforgetest.New(t); long-running tools
// (the local runner) use Start. See docs/insforge-stack.md for the supported PostgREST subset
// and the differences from a real InsForge.
package localinsforge

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/insforge/edge-functions-go/infra/migrations"
	"github.com/insforge/edge-functions-go/shared/insforge"
	"github.com/insforge/edge-functions-go/shared/localinsforge/realtime"
	"github.com/insforge/edge-functions-go/shared/signer"
)

//go:embed roles.sql
var rolesSQL string

//go:embed surface.sql
var surfaceSQL string

// Options configure a stack. The zero value is the usual choice.
type Options struct {
	// Addr is the listen address (e.g. "127.0.0.1:7130"); empty = a free loopback port.
	Addr string
	// Migrations to apply; nil = the project's infra/migrations. Use NoMigrations
	// for a bare InsForge surface.
	Migrations []migrations.Migration
	// JWTSecret, ServiceKey (ik_…) and AnonKey (anon_…); empty = random.
	JWTSecret  string
	ServiceKey string
	AnonKey    string
	// Logger for server-side failures; nil = discard.
	Logger *slog.Logger
}

// NoMigrations applies no project migrations.
var NoMigrations = []migrations.Migration{}

// Stack is one running InsForge stand-in with its own database.
type Stack struct {
	URL        string // base URL, e.g. http://127.0.0.1:40123
	ServiceKey string // ik_… → project_admin
	AnonKey    string // anon_… → anon
	JWTSecret  string // HS256 secret user tokens must be signed with
	// DatabaseURL connects as the superuser to this stack's database.
	DatabaseURL string
	// Pool is a superuser pool on this stack's database, for fixtures and
	// assertions (it bypasses RLS and grants: use AsRole to test those).
	Pool *pgxpool.Pool
	// Handler serves the API; it is also what URL serves.
	Handler http.Handler

	// rt is the socket.io endpoint at URL/socket.io/ (@insforge/sdk's realtime
	// client), fed by LISTEN on this database; see Realtime.
	rt         atomic.Pointer[realtime.Server]
	newRT      func() (*realtime.Server, error)
	cluster    *Cluster
	ownCluster bool
	dbName     string
	srv        *http.Server
	closeOnce  sync.Once
	closeErr   error
}

// Start runs a stack for a long-running process (the local runner): it connects to
// DATABASE_URL or starts its own throwaway cluster, and Close tears everything
// down, cluster included.
func Start(ctx context.Context, o Options) (*Stack, error) {
	c, err := StartCluster(ctx)
	if err != nil {
		return nil, err
	}
	s, err := StartOn(ctx, c, o)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	s.ownCluster = true
	return s, nil
}

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
)

// SharedCluster is the one cluster of this process, started on first use. Test
// binaries should call insforgetest.Main from TestMain so it is stopped and removed at exit.
func SharedCluster() (*Cluster, error) {
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared, sharedErr = StartCluster(ctx)
	})
	return shared, sharedErr
}

// CloseSharedCluster stops the shared cluster if it was started (insforgetest.Main
// calls it when the test binary's tests are done).
func CloseSharedCluster() error {
	if shared != nil {
		return shared.Close()
	}
	return nil
}

// StartOn creates a fresh database on c, installs InsForge's surface and the
// migrations, and serves the API.
func StartOn(ctx context.Context, c *Cluster, o Options) (s *Stack, err error) {
	s = &Stack{cluster: c, JWTSecret: o.JWTSecret, ServiceKey: o.ServiceKey, AnonKey: o.AnonKey}
	defer func() {
		if err != nil {
			_ = s.Close()
			s = nil
		}
	}()
	if s.JWTSecret == "" {
		s.JWTSecret = randHex(32)
	}
	if s.ServiceKey == "" {
		s.ServiceKey = "ik_" + randHex(32)
	}
	if s.AnonKey == "" {
		s.AnonKey = "anon_" + randHex(32)
	}
	if len(s.JWTSecret) < signer.MinSecretBytes {
		return nil, fmt.Errorf("localinsforge: JWTSecret must be at least %d bytes", signer.MinSecretBytes)
	}
	ms := o.Migrations
	if ms == nil {
		if ms, err = migrations.All(); err != nil {
			return nil, err
		}
	}
	if err := s.createDatabase(ctx); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, s.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("localinsforge: connect %s: %w", s.dbName, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, surfaceSQL); err != nil {
		return nil, fmt.Errorf("localinsforge: install InsForge surface: %w", err)
	}
	if err := migrations.Apply(ctx, conn, ms); err != nil {
		return nil, fmt.Errorf("localinsforge: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(s.DatabaseURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 8
	if s.Pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	api := newServer(s.Pool, s.JWTSecret, s.ServiceKey, s.AnonKey, log)
	s.newRT = func() (*realtime.Server, error) {
		return realtime.New(realtime.Config{
			Pool: s.Pool, ListenURL: s.DatabaseURL, Authenticate: api.realtimeIdentity, Logger: log,
		})
	}
	if err := s.RestartRealtime(ctx); err != nil {
		return nil, err
	}
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/socket.io/") {
			s.rt.Load().ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("localinsforge: listen %s: %w", addr, err)
	}
	s.srv = &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() { _ = s.srv.Serve(ln) }()
	s.URL = "http://" + ln.Addr().String()
	return s, nil
}

// Realtime is the current realtime endpoint.
func (s *Stack) Realtime() *realtime.Server { return s.rt.Load() }

// StopRealtime takes realtime down alone (sockets dropped, handshakes 503); the
// records API keeps serving. It is how tests see clients fall back.
func (s *Stack) StopRealtime() { s.rt.Load().Stop() }

// RestartRealtime replaces the realtime endpoint with a fresh one (stopping the
// current one, if any): clients reconnect and subscribe again.
func (s *Stack) RestartRealtime(ctx context.Context) error {
	rt, err := s.newRT()
	if err != nil {
		return err
	}
	if err := rt.Start(ctx); err != nil {
		return fmt.Errorf("localinsforge: %w", err)
	}
	if old := s.rt.Swap(rt); old != nil {
		old.Stop()
	}
	return nil
}

var rolesMu sync.Mutex

func (s *Stack) createDatabase(ctx context.Context) error {
	admin, err := pgx.Connect(ctx, s.cluster.AdminURL)
	if err != nil {
		return fmt.Errorf("localinsforge: connect to PostgreSQL: %w", err)
	}
	defer admin.Close(ctx)
	// Roles are cluster-wide; concurrent stacks (or test binaries sharing a
	// DATABASE_URL) serialise their creation on an advisory lock.
	rolesMu.Lock()
	err = pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7130)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, rolesSQL)
		return err
	})
	rolesMu.Unlock()
	if err != nil {
		return fmt.Errorf("localinsforge: create roles (the DATABASE_URL role must be a superuser): %w", err)
	}
	s.dbName = "insforge_" + randHex(8)
	db := pgx.Identifier{s.dbName}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		s.dbName = ""
		return fmt.Errorf("localinsforge: create database: %w", err)
	}
	if _, err := admin.Exec(ctx, "GRANT CREATE ON DATABASE "+db+" TO project_admin"); err != nil {
		return err
	}
	u, err := url.Parse(s.cluster.AdminURL)
	if err != nil {
		return fmt.Errorf("localinsforge: parse database URL: %w", err)
	}
	u.Path = "/" + s.dbName
	s.DatabaseURL = u.String()
	return nil
}

// Close stops the server, drops the database and, for Start, the cluster.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if rt := s.rt.Load(); rt != nil {
			rt.Stop()
		}
		if s.srv != nil {
			_ = s.srv.Shutdown(ctx)
		}
		if s.Pool != nil {
			s.Pool.Close()
		}
		if s.dbName != "" {
			if admin, err := pgx.Connect(ctx, s.cluster.AdminURL); err != nil {
				s.closeErr = err
			} else {
				_, s.closeErr = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s.dbName}.Sanitize()+" WITH (FORCE)")
				admin.Close(ctx)
			}
		}
		if s.ownCluster {
			_ = s.cluster.Close()
		}
	})
	return s.closeErr
}

// UserToken mints a user token for sub with shared/signer, exactly as the token
// bridges do (role authenticated, aud insforge-api, 1h).
func (s *Stack) UserToken(sub, email string) (string, error) {
	sg, err := signer.New(signer.Config{Secret: s.JWTSecret, TTL: time.Hour}, signer.Options{})
	if err != nil {
		return "", err
	}
	if signer.IsWalletSubject(sub) {
		// A wallet's CAIP-10 subject, minted as the wallet bridge mints it.
		tok, err := sg.MintWallet(sub, time.Time{})
		return tok.Value, err
	}
	tok, err := sg.Mint(sub, email)
	return tok.Value, err
}

// ServiceClient is an insforge.Client with the service key.
func (s *Stack) ServiceClient() *insforge.Client { return s.client(s.ServiceKey) }

// UserClient is an insforge.Client with a freshly minted token for sub.
func (s *Stack) UserClient(sub string) (*insforge.Client, error) {
	tok, err := s.UserToken(sub, "")
	if err != nil {
		return nil, err
	}
	return s.client(tok), nil
}

func (s *Stack) client(token string) *insforge.Client {
	c, err := insforge.New(insforge.Options{BaseURL: s.URL, Token: token, Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		panic(err) // unreachable: the URL is loopback and the token non-empty
	}
	return c
}

// Claims for AsRole.
const (
	AdminClaims = `{"role":"project_admin"}`
	AnonClaims  = `{"role":"anon"}`
)

// UserClaims are the claims InsForge sets for an authenticated request by sub.
func UserClaims(sub string) string {
	return fmt.Sprintf(`{"role":"authenticated","sub":%q}`, sub)
}

// AsRole runs fn in one transaction under SET LOCAL ROLE role with
// request.jwt.claims set, the way InsForge runs a request, then commits.
func (s *Stack) AsRole(ctx context.Context, role, claims string, fn func(pgx.Tx) error) error {
	switch role {
	case "anon", "authenticated", "project_admin":
	default:
		return fmt.Errorf("localinsforge: unknown role %q", role)
	}
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('request.jwt.claims', $1, true)`, claims); err != nil {
			return err
		}
		return fn(tx)
	})
}

// AdminExec runs sql (may hold several statements) as project_admin, the way a
// migration runs: for test fixtures.
func (s *Stack) AdminExec(ctx context.Context, sql string) error {
	return s.AsRole(ctx, "project_admin", AdminClaims, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql)
		return err
	})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
