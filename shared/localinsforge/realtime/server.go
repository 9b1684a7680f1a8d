// Package realtime is InsForge's realtime fan-out for the local stack: a
// socket.io v4 server that speaks what @insforge/sdk's realtime client speaks,
// fed by LISTEN on the realtime_message notifications that realtime.messages'
// trigger sends, with InsForge's channel rules (subscribe = SELECT on an enabled
// realtime.channels row whose pattern matches, under the caller's role, claims
// and realtime.channel_name; publish = INSERT on realtime.messages under RLS).
//
// It mirrors InsForge's backend/src/infra/socket/socket.manager.ts and
// backend/src/infra/realtime/realtime.manager.ts (github.com/InsForge/InsForge).
// It is a development and test server; no Lambda function links it.
package realtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Event names of the protocol (@insforge/sdk src/modules/realtime.ts).
const (
	EventSubscribe     = "realtime:subscribe"
	EventUnsubscribe   = "realtime:unsubscribe"
	EventPublish       = "realtime:publish"
	EventError         = "realtime:error"
	EventPresenceJoin  = "presence:join"
	EventPresenceLeave = "presence:leave"

	// NotifyChannel is the pg_notify channel realtime.messages' trigger uses.
	NotifyChannel = "realtime_message"

	roomPrefix     = "realtime:"
	maxChannelLen  = 255
	maxEventLen    = 255
	stmtTimeout    = "5s"
	maxBackoff     = 5 * time.Second
	initialBackoff = 50 * time.Millisecond
)

// Identity is who a socket authenticated as: the Postgres role InsForge switches
// to (anon, authenticated or project_admin), and for authenticated users the
// subject and email that reach SQL as request.jwt.claims.
type Identity struct {
	Role    string
	Subject string
	Email   string
}

// ErrUnauthorized is returned by an Authenticator for a refused handshake; its
// text is what the client's connect_error carries.
type ErrUnauthorized struct{ Message string }

func (e *ErrUnauthorized) Error() string { return e.Message }

// Authenticator maps the socket.io handshake auth object ({token} or {apiKey})
// to an identity, with InsForge's credential rules.
type Authenticator func(auth map[string]any) (Identity, error)

// Config is what a Server needs.
type Config struct {
	// Pool runs permission checks, client publishes and message reads.
	Pool *pgxpool.Pool
	// ListenURL is the connection string of the dedicated LISTEN connection
	// (a pooled connection cannot hold LISTEN).
	ListenURL string
	// Authenticate checks handshakes.
	Authenticate Authenticator
	// Logger for failures; nil discards.
	Logger *slog.Logger
	// Now stamps meta.timestamp and presence joinedAt; nil = time.Now.
	Now func() time.Time
	// PingInterval and PingTimeout bound how long a peer that stopped reading
	// keeps its buffered messages (zero = socket.io's 25 s and 20 s).
	PingInterval, PingTimeout time.Duration
}

// Server is one realtime endpoint. Serve it at /socket.io/ of the API's origin:
// the SDK connects to its baseUrl with socket.io's default path.
type Server struct {
	cfg     Config
	log     *slog.Logger
	io      *socket.Server
	handler http.Handler
	stopped atomic.Bool

	mu    sync.Mutex
	rooms map[string]map[socket.SocketId]*member // channel → subscribers

	listening atomic.Bool
	cancel    context.CancelFunc
	done      chan struct{}
}

type member struct {
	sock     *socket.Socket
	presence Presence
}

// Presence is one entry of a channel's presence list (shared-schemas PresenceMember).
type Presence struct {
	Type       string `json:"type"`
	PresenceID string `json:"presenceId"`
	JoinedAt   string `json:"joinedAt"`
}

// New builds the server; Start begins delivering database messages.
func New(cfg Config) (*Server, error) {
	if cfg.Pool == nil || cfg.ListenURL == "" || cfg.Authenticate == nil {
		return nil, errors.New("localrealtime: Pool, ListenURL and Authenticate are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, rooms: map[string]map[socket.SocketId]*member{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	// InsForge: cors({origin: true, credentials: true}).
	opts.SetCors(&types.Cors{Origin: true, Credentials: true})
	opts.SetMaxHttpBufferSize(1 << 20)
	if cfg.PingInterval > 0 {
		opts.SetPingInterval(cfg.PingInterval)
	}
	if cfg.PingTimeout > 0 {
		opts.SetPingTimeout(cfg.PingTimeout)
	}
	s.io = socket.NewServer(nil, opts)
	s.io.Use(s.authenticate)
	s.handler = s.io.ServeHandler(opts)
	return s, nil
}

// ServeHTTP serves socket.io; after Stop every request is 503.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.stopped.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"REALTIME_UNAVAILABLE","message":"realtime is stopped","statusCode":503}`)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// Start runs the LISTEN loop until Stop; it reconnects with backoff when the
// database connection drops. It returns once the first LISTEN is in place.
func (s *Server) Start(ctx context.Context) error {
	conn, err := s.listen(ctx)
	if err != nil {
		return err
	}
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go s.loop(ctx, conn)
	return nil
}

// Listening reports whether the LISTEN connection is up (for tests and health).
func (s *Server) Listening() bool { return s.listening.Load() }

// Stop disconnects every socket, refuses new ones and ends the LISTEN loop.
func (s *Server) Stop() {
	if s.stopped.Swap(true) {
		return
	}
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	s.io.DisconnectSockets(true)
	closed := make(chan struct{})
	s.io.Close(func(error) { close(closed) })
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
	}
}

func (s *Server) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.cfg.ListenURL)
	if err != nil {
		return nil, fmt.Errorf("localrealtime: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("localrealtime: listen: %w", err)
	}
	s.listening.Store(true)
	return conn, nil
}

func (s *Server) loop(ctx context.Context, conn *pgx.Conn) {
	defer close(s.done)
	backoff := initialBackoff
	for {
		if conn == nil {
			var err error
			if conn, err = s.listen(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("localrealtime: LISTEN reconnect failed", slog.Any("err", err), slog.Duration("retry_in", backoff))
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, maxBackoff)
				continue
			}
			backoff = initialBackoff
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			s.listening.Store(false)
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(cctx)
			cancel()
			conn = nil
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("localrealtime: LISTEN connection lost", slog.Any("err", err))
			continue
		}
		if n.Channel == NotifyChannel {
			s.deliver(ctx, n.Payload)
		}
	}
}

// deliver reads one message and emits it to the channel's subscribers, in
// notification (commit) order: the loop is sequential and each socket's writes
// are queued in order. Emit only queues, so a peer that stopped reading delays
// nobody; socket.io's heartbeat drops it.
func (s *Server) deliver(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var (
		event, channel, senderType string
		senderID                   *string
		payload                    []byte
	)
	err := s.cfg.Pool.QueryRow(ctx, `
		SELECT m.event_name, m.channel_name, m.payload::text, m.sender_type, m.sender_id::text
		FROM realtime.messages m
		JOIN realtime.channels c ON c.id = m.channel_id AND c.enabled
		WHERE m.id = $1::uuid`, id).Scan(&event, &channel, &payload, &senderType, &senderID)
	if errors.Is(err, pgx.ErrNoRows) {
		return // deleted, no channel, or the channel is disabled: InsForge skips it
	}
	if err != nil {
		s.log.Error("localrealtime: read message", slog.String("message_id", id), slog.Any("err", err))
		return
	}
	msg := map[string]any{}
	dec := json.NewDecoder(bytesReader(payload))
	dec.UseNumber() // keep big integers exact
	if err := dec.Decode(&msg); err != nil {
		msg = map[string]any{} // non-object payloads spread to nothing, as in JS
	}
	meta := map[string]any{
		// InsForge puts the room name here (broadcastToRoom passes channel: room).
		"channel":    roomPrefix + channel,
		"senderType": senderType,
		"messageId":  id,
		"timestamp":  s.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if senderID != nil {
		meta["senderId"] = *senderID
	}
	msg["meta"] = meta
	subs := s.subscribers(channel)
	for _, m := range subs {
		_ = m.sock.Emit(event, msg)
	}
	if _, err := s.cfg.Pool.Exec(ctx, `UPDATE realtime.messages SET ws_audience_count = $2 WHERE id = $1::uuid`, id, len(subs)); err != nil {
		s.log.Warn("localrealtime: delivery stats", slog.String("message_id", id), slog.Any("err", err))
	}
}

func (s *Server) subscribers(channel string) []*member {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*member, 0, len(s.rooms[channel]))
	for _, m := range s.rooms[channel] {
		out = append(out, m)
	}
	return out
}

func (s *Server) authenticate(sock *socket.Socket, next func(*socket.ExtendedError)) {
	id, err := s.cfg.Authenticate(sock.Handshake().Auth)
	if err != nil {
		var ue *ErrUnauthorized
		msg := "Invalid authentication"
		if errors.As(err, &ue) {
			msg = ue.Message
		}
		next(types.NewExtendedError(msg, map[string]any{"statusCode": http.StatusUnauthorized}))
		return
	}
	switch id.Role {
	case "anon", "authenticated", "project_admin":
	default:
		next(types.NewExtendedError("Invalid authentication", map[string]any{"statusCode": http.StatusUnauthorized}))
		return
	}
	sock.SetData(id)
	// Handlers go on here, before the CONNECT reply: registered from the
	// "connection" event they can miss a subscribe the client sends as soon
	// as it is connected (seen under load; the SDK subscribes right away).
	s.handle(sock)
	next(nil)
}

func identityOf(sock *socket.Socket) Identity {
	id, _ := sock.Data().(Identity)
	return id
}

func (s *Server) handle(sock *socket.Socket) {
	_ = sock.On(EventSubscribe, func(args ...any) {
		channel, ack := channelArg(args)
		s.subscribe(sock, channel, ack)
	})
	_ = sock.On(EventUnsubscribe, func(args ...any) {
		if channel, _ := channelArg(args); channel != "" {
			s.unsubscribe(sock, channel)
		}
	})
	_ = sock.On(EventPublish, func(args ...any) {
		s.publish(sock, args)
	})
	_ = sock.On("disconnect", func(...any) {
		s.mu.Lock()
		var left []string
		for channel := range s.rooms {
			if _, ok := s.rooms[channel][sock.Id()]; ok {
				left = append(left, channel)
			}
		}
		s.mu.Unlock()
		for _, channel := range left {
			s.unsubscribe(sock, channel)
		}
	})
}

// channelArg reads {channel} and the ack callback, if any, from an event.
func channelArg(args []any) (string, socket.Ack) {
	var ack socket.Ack
	if n := len(args); n > 0 {
		if a, ok := args[n-1].(socket.Ack); ok {
			ack = a
			args = args[:n-1]
		}
	}
	if len(args) == 0 {
		return "", ack
	}
	obj, _ := args[0].(map[string]any)
	ch, _ := obj["channel"].(string)
	return ch, ack
}

type subscribeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Server) subscribe(sock *socket.Socket, channel string, ack socket.Ack) {
	reply := func(v any) {
		if ack != nil {
			ack([]any{v}, nil)
		}
	}
	refuse := func(code, msg string) {
		reply(map[string]any{"ok": false, "channel": channel, "error": subscribeError{code, msg}})
	}
	if channel == "" || len(channel) > maxChannelLen {
		refuse("REALTIME_UNAUTHORIZED", "Not authorized to subscribe to this channel")
		return
	}
	id := identityOf(sock)
	ok, err := s.canSubscribe(channel, id)
	if err != nil {
		s.log.Error("localrealtime: subscribe check", slog.String("channel", channel), slog.Any("err", err))
	}
	if !ok {
		refuse("REALTIME_UNAUTHORIZED", "Not authorized to subscribe to this channel")
		return
	}
	p := Presence{Type: "anonymous", PresenceID: string(sock.Id()), JoinedAt: s.cfg.Now().UTC().Format(time.RFC3339Nano)}
	if id.Role == "authenticated" && id.Subject != "" {
		p = Presence{Type: "user", PresenceID: id.Subject, JoinedAt: p.JoinedAt}
	}
	s.mu.Lock()
	room := s.rooms[channel]
	if room == nil {
		room = map[socket.SocketId]*member{}
		s.rooms[channel] = room
	}
	_, already := room[sock.Id()]
	joined := !already && !hasPresence(room, p.PresenceID)
	if prev, ok := room[sock.Id()]; ok {
		p = prev.presence
	}
	room[sock.Id()] = &member{sock: sock, presence: p}
	members := presenceList(room)
	var others []*member
	if joined {
		for sid, m := range room {
			if sid != sock.Id() {
				others = append(others, m)
			}
		}
	}
	s.mu.Unlock()
	sock.Join(socket.Room(roomPrefix + channel))
	reply(map[string]any{"ok": true, "channel": channel, "presence": map[string]any{"members": members}})
	for _, m := range others {
		_ = m.sock.Emit(EventPresenceJoin, s.presenceEvent(channel, p))
	}
}

func (s *Server) unsubscribe(sock *socket.Socket, channel string) {
	s.mu.Lock()
	room := s.rooms[channel]
	m, ok := room[sock.Id()]
	if !ok {
		s.mu.Unlock()
		return
	}
	delete(room, sock.Id())
	left := !hasPresence(room, m.presence.PresenceID)
	var others []*member
	for _, o := range room {
		others = append(others, o)
	}
	if len(room) == 0 {
		delete(s.rooms, channel)
	}
	s.mu.Unlock()
	sock.Leave(socket.Room(roomPrefix + channel))
	if left {
		for _, o := range others {
			_ = o.sock.Emit(EventPresenceLeave, s.presenceEvent(channel, m.presence))
		}
	}
}

func (s *Server) presenceEvent(channel string, p Presence) map[string]any {
	return map[string]any{
		"member": p,
		"meta": map[string]any{
			"channel": channel, "senderType": "system", "messageId": randomUUID(),
			"timestamp": s.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		},
	}
}

func hasPresence(room map[socket.SocketId]*member, id string) bool {
	for _, m := range room {
		if m.presence.PresenceID == id {
			return true
		}
	}
	return false
}

func presenceList(room map[socket.SocketId]*member) []Presence {
	seen := map[string]bool{}
	out := []Presence{}
	for _, m := range room {
		if !seen[m.presence.PresenceID] {
			seen[m.presence.PresenceID] = true
			out = append(out, m.presence)
		}
	}
	return out
}

// canSubscribe is InsForge's checkSubscribePermission: SELECT on an enabled
// channel whose pattern equals or LIKE-matches the name, as the caller, with
// realtime.channel_name set, so RLS on realtime.channels decides. Any error
// denies.
func (s *Server) canSubscribe(channel string, id Identity) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ok bool
	err := s.asCaller(ctx, id, channel, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM realtime.channels
			WHERE enabled = TRUE AND (pattern = $1 OR $1 LIKE pattern))`, channel).Scan(&ok)
	})
	return ok && err == nil, err
}

// publish is InsForge's client publish: only on a subscribed channel, inserted
// as the caller so RLS INSERT policies on realtime.messages decide; the
// trigger's notification then delivers it like any other message.
func (s *Server) publish(sock *socket.Socket, args []any) {
	var obj map[string]any
	if len(args) > 0 {
		obj, _ = args[0].(map[string]any)
	}
	channel, _ := obj["channel"].(string)
	event, _ := obj["event"].(string)
	fail := func(code, msg string) {
		_ = sock.Emit(EventError, map[string]any{"channel": channel, "code": code, "message": msg})
	}
	s.mu.Lock()
	_, subscribed := s.rooms[channel][sock.Id()]
	s.mu.Unlock()
	if !subscribed {
		fail("REALTIME_NOT_SUBSCRIBED", "Must subscribe to channel before publishing messages")
		return
	}
	payload, err := json.Marshal(obj["payload"])
	if err != nil || event == "" || len(event) > maxEventLen {
		fail("REALTIME_UNAUTHORIZED", "Not authorized to publish to this channel")
		return
	}
	if string(payload) == "null" {
		payload = []byte("{}")
	}
	id := identityOf(sock)
	senderType := "user"
	if id.Role == "project_admin" {
		senderType = "system"
	}
	var sender *string
	if id.Role == "authenticated" && id.Subject != "" {
		sender = &id.Subject
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = s.asCaller(ctx, id, channel, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO realtime.messages (event_name, channel_id, channel_name, payload, sender_type, sender_id)
			SELECT $1, c.id, $2, $3::jsonb, $4, $5
			FROM realtime.channels c
			WHERE c.enabled AND (c.pattern = $2 OR $2 LIKE c.pattern)
			ORDER BY (c.pattern = $2) DESC, c.created_at
			LIMIT 1`, event, channel, string(payload), senderType, sender)
		return err
	})
	if err != nil {
		s.log.Debug("localrealtime: publish refused", slog.String("channel", channel), slog.Any("err", err))
		fail("REALTIME_UNAUTHORIZED", "Not authorized to publish to this channel")
	}
}

// asCaller runs fn in a transaction as InsForge's withUserContext does: SET LOCAL
// ROLE from an allowlist, request.jwt.claims, realtime.channel_name.
func (s *Server) asCaller(ctx context.Context, id Identity, channel string, fn func(pgx.Tx) error) error {
	var role string
	switch id.Role {
	case "anon", "authenticated", "project_admin":
		role = id.Role
	default:
		return fmt.Errorf("localrealtime: unsupported role %q", id.Role)
	}
	claims := map[string]string{"role": role}
	if role == "authenticated" && id.Subject != "" {
		claims["sub"] = id.Subject
	}
	if id.Email != "" {
		claims["email"] = id.Email
	}
	cj, _ := json.Marshal(claims)
	return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('request.jwt.claims', $1, true),
			set_config('realtime.channel_name', $2, true), set_config('statement_timeout', $3, true)`,
			string(cj), channel, stmtTimeout); err != nil {
			return err
		}
		return fn(tx)
	})
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
