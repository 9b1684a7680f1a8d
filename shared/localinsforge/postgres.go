package localinsforge

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres means neither DATABASE_URL nor PostgreSQL server binaries were found.
var ErrNoPostgres = errors.New("localinsforge: no PostgreSQL: set DATABASE_URL or install PostgreSQL (scripts/ensure-postgres)")

// Cluster is a PostgreSQL server the stacks create databases in: either the one
// DATABASE_URL points at (its login role must be a superuser, since the stack
// creates roles and databases) or a throwaway cluster started here.
type Cluster struct {
	// AdminURL connects as a superuser to the maintenance database.
	AdminURL string

	dir  string // temp dir holding data + socket; empty for DATABASE_URL
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// StartCluster returns the DATABASE_URL cluster when that variable is set, else
// initdb's a throwaway cluster into a temp dir (as the postgres user when running as
// root), starts it on a unix socket inside that dir with fsync off, and waits until
// it accepts connections. Close stops it and removes the dir.
func StartCluster(ctx context.Context) (*Cluster, error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return &Cluster{AdminURL: u}, nil
	}
	bin, err := findPGBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "localinsforge-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, done: make(chan struct{})}
	if err := c.start(ctx, bin); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, bin string) error {
	cred, err := serverCredential()
	if err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(c.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("localinsforge: chown %s: %w", c.dir, err)
		}
	}
	data := filepath.Join(c.dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("localinsforge: initdb: %w\n%s", err, out)
	}
	// Unix socket only (no TCP port to collide on), no durability: throwaway data.
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-k", c.dir, "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "timezone=UTC", "-c", "max_connections=200",
		"-c", "shared_buffers=64MB", "-c", "log_min_messages=FATAL")
	c.cmd.SysProcAttr = sysProcAttr(cred)
	logf, err := os.Create(filepath.Join(c.dir, "server.log"))
	if err != nil {
		return err
	}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("localinsforge: start postgres: %w", err)
	}
	go func() { _ = c.cmd.Wait(); logf.Close(); close(c.done) }()
	c.AdminURL = "postgres://postgres@/postgres?sslmode=disable&host=" + url.QueryEscape(c.dir)

	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.AdminURL)
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-c.done:
			log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
			return fmt.Errorf("localinsforge: postgres exited during start:\n%s", log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localinsforge: postgres not ready after 30s: %w", err)
		}
	}
}

// Close stops a throwaway cluster (fast shutdown) and removes its directory. For a
// DATABASE_URL cluster it does nothing.
func (c *Cluster) Close() error {
	if c == nil || c.dir == "" {
		return nil
	}
	c.once.Do(func() {
		if c.cmd != nil && c.cmd.Process != nil {
			_ = c.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
				_ = c.cmd.Process.Kill()
				<-c.done
			}
		}
		_ = os.RemoveAll(c.dir)
	})
	return nil
}

// serverCredential is the postgres OS user when running as root (postgres refuses
// to run as root), else nil (run as ourselves).
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("localinsforge: running as root needs a 'postgres' OS user to run the server: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// findPGBin locates initdb/postgres: $PG_BIN, then PATH, then the newest
// /usr/lib/postgresql/*/bin (Debian keeps them off PATH).
func findPGBin() (string, error) {
	if b := os.Getenv("PG_BIN"); b != "" {
		return b, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

func pgVersion(dir string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(dir, "/usr/lib/postgresql/"), "/bin"))
	return n
}
