package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/insforge/edge-functions-go/shared/insforge/insforgetest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { insforgetest.Main(m) }

func publish(t testing.TB, s *insforgetest.Stack, channel, ev string, payload any) {
	t.Helper()
	b, _ := json.Marshal(payload)
	err := s.AsRole(context.Background(), "project_admin", insforgetest.AdminClaims, func(tx pgx.Tx) error {
		var id *string
		if err := tx.QueryRow(context.Background(), `SELECT realtime.publish($1, $2, $3::jsonb)::text`, channel, ev, string(b)).Scan(&id); err != nil {
			return err
		}
		if id == nil {
			return fmt.Errorf("no channel matches %q", channel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// privateChannels lets an authenticated user subscribe to private:<own sub>
// only, through RLS on realtime.channels and realtime.channel_name(), as
// InsForge's realtime guide does for order:<id>.
const privateChannels = `
INSERT INTO realtime.channels (pattern, description) VALUES ('private:%', 'per user'), ('order:%', 'orders');
ALTER TABLE realtime.channels ENABLE ROW LEVEL SECURITY;
CREATE POLICY open_channels ON realtime.channels FOR SELECT USING (pattern NOT LIKE 'private:%');
CREATE POLICY own_private ON realtime.channels FOR SELECT TO authenticated
  USING (pattern = 'private:%' AND realtime.channel_name() = 'private:' || (auth.jwt() ->> 'sub'));`

func TestSubscribersGetOnlyWhatTheChannelRulesAllow(t *testing.T) {
	s := insforgetest.New(t)
	ctx := context.Background()
	if _, err := s.Pool.Exec(ctx, privateChannels); err != nil {
		t.Fatal(err)
	}
	alice, _ := s.UserToken("alice", "alice@example.com")
	bob, _ := s.UserToken("bob", "")

	anon := dial(t, s.URL, map[string]any{"token": s.AnonKey})
	a := dial(t, s.URL, map[string]any{"token": alice})
	b := dial(t, s.URL, map[string]any{"token": bob})
	admin := dial(t, s.URL, map[string]any{"apiKey": s.ServiceKey})
	for _, p := range []*peer{anon, a, b, admin} {
		p.connected()
	}

	cases := []struct {
		name    string
		p       *peer
		channel string
		ok      bool
	}{
		{"anon on the ledger channel", anon, "x402_payments", true},
		{"a LIKE pattern matches", anon, "order:42", true},
		{"no channel row", anon, "nowhere", false},
		{"anon on a private channel", anon, "private:alice", false},
		{"the owner on her private channel", a, "private:alice", true},
		{"another user on it", b, "private:alice", false},
		{"the API key bypasses RLS", admin, "private:alice", true},
		{"empty name", anon, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ack := c.p.subscribe(c.channel)
			if ack["ok"] != c.ok || ack["channel"] != c.channel {
				t.Fatalf("ack = %v, want ok=%v for %q", ack, c.ok, c.channel)
			}
			if c.ok {
				members, _ := ack["presence"].(map[string]any)["members"].([]any)
				if len(members) == 0 {
					t.Fatalf("ack has no presence members: %v", ack)
				}
				return
			}
			e, _ := ack["error"].(map[string]any)
			if e["code"] != "REALTIME_UNAUTHORIZED" {
				t.Fatalf("error = %v", ack["error"])
			}
		})
	}

	b.mustSubscribe("x402_payments")
	publish(t, s, "private:alice", "note", map[string]any{"n": 1})
	publish(t, s, "x402_payments", "ping", map[string]any{"n": 2})
	got, ok := a.next("note", 5*time.Second)
	if !ok {
		t.Fatal("alice did not get her private message")
	}
	meta, _ := got.body["meta"].(map[string]any)
	if got.body["n"] != float64(1) || meta["channel"] != "realtime:private:alice" || meta["senderType"] != "system" || meta["messageId"] == "" {
		t.Fatalf("message = %v", got.body)
	}
	if _, ok := admin.next("note", 5*time.Second); !ok {
		t.Fatal("the API key subscriber did not get the private message")
	}
	// The ledger message comes after the private one on one LISTEN stream, so
	// once anon and bob have it, a leaked private message would already be there.
	for name, p := range map[string]*peer{"anon": anon, "bob": b} {
		if _, ok := p.next("ping", 5*time.Second); !ok {
			t.Fatalf("%s did not get the ledger message", name)
		}
		for len(p.events) > 0 {
			if e := <-p.events; e.name == "note" {
				t.Fatalf("%s got a message of a channel it was refused: %v", name, e.body)
			}
		}
	}
	var audience int
	if err := s.Pool.QueryRow(ctx, `SELECT ws_audience_count FROM realtime.messages WHERE event_name = 'note'`).Scan(&audience); err != nil || audience != 2 {
		t.Fatalf("ws_audience_count = %d (%v), want 2", audience, err)
	}
}

func TestHandshakesAreCheckedLikeInsForge(t *testing.T) {
	s := insforgetest.New(t)
	other := insforgetest.New(t)
	foreign, _ := other.UserToken("mallory", "")
	cases := []struct {
		name string
		auth map[string]any
		want string
	}{
		{"no credential", map[string]any{}, "No authentication provided"},
		{"wrong anon key", map[string]any{"token": "anon_" + s.AnonKey[5:10]}, "Invalid anon key"},
		{"wrong API key", map[string]any{"apiKey": "ik_nope"}, "Invalid API key"},
		{"token of another secret", map[string]any{"token": foreign}, "Invalid authentication"},
		{"API key in the token slot", map[string]any{"token": s.ServiceKey}, "Invalid authentication"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := dial(t, s.URL, c.auth).refused(); got != c.want {
				t.Fatalf("connect_error %q, want %q", got, c.want)
			}
		})
	}
}

func TestMessagesArriveInOrderPerChannel(t *testing.T) {
	s := insforgetest.New(t)
	if _, err := s.Pool.Exec(context.Background(), `INSERT INTO realtime.channels (pattern) VALUES ('a'), ('b')`); err != nil {
		t.Fatal(err)
	}
	p := dial(t, s.URL, map[string]any{"token": s.AnonKey})
	p.connected()
	p.mustSubscribe("a")
	p.mustSubscribe("b")
	const n = 60
	for i := range n {
		ch := "a"
		if i%3 == 0 {
			ch = "b"
		}
		publish(t, s, ch, "seq", map[string]any{"i": i, "ch": ch})
	}
	last := map[string]float64{"a": -1, "b": -1}
	for range n {
		e, ok := p.next("seq", 5*time.Second)
		if !ok {
			t.Fatal("missing messages")
		}
		ch, _ := e.body["ch"].(string)
		i, _ := e.body["i"].(float64)
		if i <= last[ch] {
			t.Fatalf("channel %s: %v after %v", ch, i, last[ch])
		}
		last[ch] = i
	}
}

func TestFanOutOfAHundredMessagesToTenSubscribersDespiteAStalledOne(t *testing.T) {
	s := insforgetest.New(t)
	if _, err := s.Pool.Exec(context.Background(), `INSERT INTO realtime.channels (pattern) VALUES ('backlog')`); err != nil {
		t.Fatal(err)
	}
	const subs, msgs = 10, 100
	// A subscriber that stops reading its socket, with 6.4 MB already queued for
	// it (more than loopback socket buffers hold), so the server's writes to it
	// are backed up when the measured messages go out.
	stalled := dial(t, s.URL, map[string]any{"token": s.AnonKey})
	stalled.connected()
	stalled.mustSubscribe("x402_payments")
	stalled.mustSubscribe("backlog")
	defer stalled.stallReads()()
	pad := strings.Repeat("x", 64<<10)
	for i := range 100 {
		publish(t, s, "backlog", "filler", map[string]any{"i": i, "pad": pad})
	}

	peers := make([]*peer, subs)
	for i := range peers {
		peers[i] = dial(t, s.URL, map[string]any{"token": s.AnonKey})
		peers[i].connected()
		peers[i].mustSubscribe("x402_payments")
	}
	start := time.Now()
	for i := range msgs {
		publish(t, s, "x402_payments", "INSERT_x402_payments", map[string]any{"new": ledgerRow(i)})
	}
	published := time.Since(start)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lastAt time.Time
	errs := make(chan error, subs)
	for k, p := range peers {
		wg.Go(func() {
			for i := range msgs {
				e, ok := p.next("INSERT_x402_payments", 10*time.Second)
				if !ok {
					errs <- fmt.Errorf("subscriber %d got %d of %d", k, i, msgs)
					return
				}
				if got := e.body["new"].(map[string]any)["i"]; got != float64(i) {
					errs <- fmt.Errorf("subscriber %d: message %v at position %d", k, got, i)
					return
				}
				if i == msgs-1 {
					mu.Lock()
					if e.at.After(lastAt) {
						lastAt = e.at
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d ledger messages to %d subscribers (+1 stalled with a 6.4 MB backlog): published in %v (one transaction each), all delivered %v after the first publish",
		msgs, subs, published.Round(time.Millisecond), lastAt.Sub(start).Round(time.Millisecond))
}

// ledgerRow is shaped like an x402_payments row as the trigger publishes it.
func ledgerRow(i int) map[string]any {
	return map[string]any{
		"i": i, "id": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "payer_address": "0x" + strings.Repeat("a", 40),
		"endpoint": "/x402/report", "amount": "10000", "tx_hash": "0x" + strings.Repeat("b", 64), "chain": "xlayer",
		"status": "settled", "created_at": "2026-11-30T10:00:00Z", "network": "eip155:196",
		"asset": "0x4ae46a509f6b1d9056937ba4500cb143933d2dc8", "pay_to": "0x" + strings.Repeat("c", 40),
		"nonce": "0x" + strings.Repeat("d", 64), "valid_before": 1796000000, "mock": true,
	}
}

func TestReconnectsResume(t *testing.T) {
	s := insforgetest.New(t)
	p := dial(t, s.URL, map[string]any{"token": s.AnonKey})
	p.connected()
	p.mustSubscribe("x402_payments")
	publish(t, s, "x402_payments", "m", map[string]any{"i": 1})
	if _, ok := p.next("m", 5*time.Second); !ok {
		t.Fatal("no message before the disconnect")
	}

	t.Run("the client reconnects and subscribes again", func(t *testing.T) {
		p.close()
		publish(t, s, "x402_payments", "m", map[string]any{"i": 2}) // nobody listening: dropped, as in InsForge
		p.open()
		p.connected()
		p.mustSubscribe("x402_payments")
		publish(t, s, "x402_payments", "m", map[string]any{"i": 3})
		for {
			// i=2 may still arrive: the server can see the disconnect after it.
			e, ok := p.next("m", 5*time.Second)
			if !ok {
				t.Fatal("nothing after the reconnect")
			}
			if e.body["i"] == float64(3) {
				break
			}
		}
	})

	t.Run("the server's LISTEN connection comes back", func(t *testing.T) {
		var killed bool
		if err := s.Pool.QueryRow(context.Background(), `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN realtime_message'`).Scan(&killed); err != nil || !killed {
			t.Fatalf("terminate the LISTEN backend: %v %v", killed, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; ; i++ {
			publish(t, s, "x402_payments", "m", map[string]any{"i": 100 + i})
			if _, ok := p.next("m", 200*time.Millisecond); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no delivery after the LISTEN connection was killed")
			}
		}
	})
}

func TestUnsubscribeAndPresence(t *testing.T) {
	s := insforgetest.New(t)
	alice, _ := s.UserToken("alice", "")
	a := dial(t, s.URL, map[string]any{"token": alice})
	o := dial(t, s.URL, map[string]any{"token": s.AnonKey})
	a.connected()
	o.connected()
	o.mustSubscribe("x402_payments")
	ack := a.subscribe("x402_payments")
	members, _ := ack["presence"].(map[string]any)["members"].([]any)
	if len(members) != 2 {
		t.Fatalf("members = %v", members)
	}
	j, ok := o.next("presence:join", 5*time.Second)
	if !ok || j.body["member"].(map[string]any)["presenceId"] != "alice" || j.body["meta"].(map[string]any)["channel"] != "x402_payments" {
		t.Fatalf("presence:join = %v", j.body)
	}
	a.emit("realtime:unsubscribe", map[string]any{"channel": "x402_payments"}, false)
	if l, ok := o.next("presence:leave", 5*time.Second); !ok || l.body["member"].(map[string]any)["type"] != "user" {
		t.Fatalf("presence:leave = %v", l.body)
	}
	publish(t, s, "x402_payments", "after", map[string]any{})
	if _, ok := o.next("after", 5*time.Second); !ok {
		t.Fatal("the remaining subscriber got nothing")
	}
	if e, ok := a.next("after", 300*time.Millisecond); ok {
		t.Fatalf("unsubscribed client got %v", e.body)
	}
}

func TestClientPublishIsGatedBySubscriptionAndRLS(t *testing.T) {
	s := insforgetest.New(t)
	// The project's own publish rules replace the open default the migrations
	// keep (realtime_publish_open), as InsForge's realtime guide describes.
	if _, err := s.Pool.Exec(context.Background(), `
		INSERT INTO realtime.channels (pattern) VALUES ('room:%');
		ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;
		DROP POLICY IF EXISTS realtime_publish_open ON realtime.messages;
		CREATE POLICY users_send ON realtime.messages FOR INSERT TO authenticated WITH CHECK (channel_name LIKE 'room:%');`); err != nil {
		t.Fatal(err)
	}
	alice, _ := s.UserToken("6f1c1a52-56a4-4c52-9f35-3c5e2f1d7a10", "")
	a := dial(t, s.URL, map[string]any{"token": alice})
	anon := dial(t, s.URL, map[string]any{"token": s.AnonKey})
	a.connected()
	anon.connected()

	anon.emit("realtime:publish", map[string]any{"channel": "room:1", "event": "hi", "payload": map[string]any{}}, false)
	if e, ok := anon.next("realtime:error", 5*time.Second); !ok || e.body["code"] != "REALTIME_NOT_SUBSCRIBED" {
		t.Fatalf("unsubscribed publish: %v", e.body)
	}
	anon.mustSubscribe("room:1")
	anon.emit("realtime:publish", map[string]any{"channel": "room:1", "event": "hi", "payload": map[string]any{}}, false)
	if e, ok := anon.next("realtime:error", 5*time.Second); !ok || e.body["code"] != "REALTIME_UNAUTHORIZED" {
		t.Fatalf("RLS-refused publish: %v", e.body)
	}
	a.mustSubscribe("room:1")
	// A payload cannot pose as the server: meta is always the server's own
	// (InsForge's buildSocketMessage spreads the payload, then sets meta).
	a.emit("realtime:publish", map[string]any{"channel": "room:1", "event": "hi",
		"payload": map[string]any{"text": "yo", "meta": map[string]any{"senderType": "system", "messageId": "forged"}}}, false)
	e, ok := anon.next("hi", 5*time.Second)
	meta, _ := e.body["meta"].(map[string]any)
	if !ok || e.body["text"] != "yo" || meta["senderType"] != "user" || meta["senderId"] != "6f1c1a52-56a4-4c52-9f35-3c5e2f1d7a10" ||
		meta["messageId"] == "forged" || meta["channel"] != "realtime:room:1" {
		t.Fatalf("user publish: %v %v", ok, e.body)
	}
}

// The ledger's channel carries the ledger trigger's messages only: no client
// (anon key or signed-in user) may publish on it or on a name its pattern
// matches, even where the project lets clients publish everywhere else, while
// the trigger's messages arrive marked senderType "system".
func TestTheLedgerChannelRefusesClientPublishes(t *testing.T) {
	s := insforgetest.New(t)
	ctx := context.Background()
	// A project that opened publishing to every client on every channel: the
	// migration's restrictive policy still holds.
	if _, err := s.Pool.Exec(ctx, `
		INSERT INTO realtime.channels (pattern) VALUES ('lobby');
		CREATE POLICY anyone_publishes ON realtime.messages FOR INSERT TO anon, authenticated WITH CHECK (true);`); err != nil {
		t.Fatal(err)
	}
	alice, _ := s.UserToken("6f1c1a52-56a4-4c52-9f35-3c5e2f1d7a10", "")
	anon := dial(t, s.URL, map[string]any{"token": s.AnonKey})
	a := dial(t, s.URL, map[string]any{"token": alice})
	watcher := dial(t, s.URL, map[string]any{"token": s.AnonKey})
	for _, p := range []*peer{anon, a, watcher} {
		p.connected()
	}
	watcher.mustSubscribe("x402_payments")
	watcher.mustSubscribe("lobby")

	forged := map[string]any{"new": map[string]any{"id": "00000000-0000-4000-8000-000000000999", "status": "settled",
		"amount": "999999999999", "endpoint": "/x402/report", "updated_at": "2099-01-01T00:00:00Z"}}
	for _, c := range []struct {
		name    string
		p       *peer
		channel string
	}{
		{"anon key", anon, "x402_payments"},
		{"signed-in user", a, "x402_payments"},
		{"a name the pattern matches ('_' is a LIKE wildcard)", anon, "x402-payments"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.p.mustSubscribe(c.channel)
			c.p.emit("realtime:publish", map[string]any{"channel": c.channel, "event": "INSERT_x402_payments", "payload": forged}, false)
			if e, ok := c.p.next("realtime:error", 5*time.Second); !ok || e.body["code"] != "REALTIME_UNAUTHORIZED" {
				t.Fatalf("publish on %s: %v %v, want REALTIME_UNAUTHORIZED", c.channel, ok, e.body)
			}
		})
	}

	// A ledger write reaches the watcher as a system message, and it is the
	// first ledger event it sees: the forged ones were never stored.
	if _, err := s.Pool.Exec(ctx, `INSERT INTO x402_payments (payer_address, endpoint, amount, status, network, asset, pay_to, nonce, valid_before, mock)
		VALUES ('0x`+strings.Repeat("a", 40)+`', '/x402/report', '10000', 'pending', 'eip155:196', '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8',
		'0x209693bc6afc0c5328ba36faf03c514ef312287c', '0x`+strings.Repeat("e", 64)+`', 4102444800, true)`); err != nil {
		t.Fatal(err)
	}
	e, ok := watcher.next("INSERT_x402_payments", 5*time.Second)
	if !ok {
		t.Fatal("the ledger's own message did not arrive")
	}
	row, _ := e.body["new"].(map[string]any)
	if meta, _ := e.body["meta"].(map[string]any); meta["senderType"] != "system" || row["amount"] != "10000" {
		t.Fatalf("first ledger event = %v, want the trigger's system message", e.body)
	}
	var stored int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM realtime.messages WHERE channel_name LIKE 'x402_payments' AND sender_type <> 'system'`).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("client messages stored on the ledger channel: %d (%v)", stored, err)
	}

	// Other channels stay as open as the project made them.
	anon.mustSubscribe("lobby")
	anon.emit("realtime:publish", map[string]any{"channel": "lobby", "event": "hello", "payload": map[string]any{"n": 1}}, false)
	if e, ok := watcher.next("hello", 5*time.Second); !ok || e.body["meta"].(map[string]any)["senderType"] != "user" {
		t.Fatalf("lobby publish: %v %v", ok, e.body)
	}
}

func TestStopRefusesAndDisconnectsAndARestartServesAgain(t *testing.T) {
	s := insforgetest.New(t)
	p := dial(t, s.URL, map[string]any{"token": s.AnonKey})
	p.connected()
	p.mustSubscribe("x402_payments")
	s.StopRealtime()
	if _, ok := p.next("disconnect", 5*time.Second); !ok {
		t.Fatal("socket not disconnected by Stop")
	}
	res, err := http.Get(s.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake after Stop: %d, want 503", res.StatusCode)
	}

	if err := s.RestartRealtime(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := dial(t, s.URL, map[string]any{"token": s.AnonKey})
	again.connected()
	again.mustSubscribe("x402_payments")
	publish(t, s, "x402_payments", "back", map[string]any{})
	if _, ok := again.next("back", 5*time.Second); !ok {
		t.Fatal("no delivery after the restart")
	}
}

// event is one message a subscriber received.
type event struct {
	name string
	body map[string]any
	at   time.Time
}

// peer is a socket.io v4 client written against the wire format, the way
// @insforge/sdk's client talks: websocket transport only (no polling), handshake
// auth {token} or {apiKey} in the CONNECT packet, events with ack ids. Engine.IO
// packets: 0 open, 2 ping → 3 pong, 4 message; Socket.IO inside a message: 0
// CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR.
type peer struct {
	t      testing.TB
	url    string
	auth   map[string]any
	events chan event
	errs   chan string
	conn   chan struct{}
	// stall, when set, makes the reader stop reading the socket before the next
	// message: a subscriber that fell behind.
	stall atomic.Pointer[chan struct{}]

	mu     sync.Mutex
	ws     *websocket.Conn
	done   chan struct{} // closed when the current connection's reader ends
	nextID int
	acks   map[int]chan []any
}

func dial(t testing.TB, base string, auth map[string]any) *peer {
	t.Helper()
	p := &peer{t: t, url: "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket", auth: auth,
		events: make(chan event, 4096), errs: make(chan string, 16), conn: make(chan struct{}, 16), acks: map[int]chan []any{}}
	p.open()
	t.Cleanup(p.close)
	return p
}

// open (re)connects: a new Engine.IO session, then the namespace CONNECT.
func (p *peer) open() {
	p.t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(p.url, nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		p.errs <- "dial: " + strconv.Itoa(status)
		return
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.ws, p.done = ws, done
	p.mu.Unlock()
	go func() {
		defer close(done)
		p.read(ws)
	}()
}

func (p *peer) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ws != nil {
		_ = p.ws.WriteMessage(websocket.TextMessage, []byte("41"))
		_ = p.ws.Close()
		p.ws = nil
	}
}

func (p *peer) write(s string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ws == nil {
		return websocket.ErrCloseSent
	}
	_ = p.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return p.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

func (p *peer) read(ws *websocket.Conn) {
	defer func() { p.events <- event{name: "disconnect", at: time.Now()} }()
	for {
		if ch := p.stall.Load(); ch != nil {
			<-*ch
		}
		_, m, err := ws.ReadMessage()
		if err != nil || len(m) == 0 {
			return
		}
		switch m[0] {
		case '0': // Engine.IO open → Socket.IO CONNECT with the auth object
			a, _ := json.Marshal(p.auth)
			_ = p.write("40" + string(a))
		case '2':
			_ = p.write("3")
		case '4':
			if !p.packet(string(m[1:])) {
				return
			}
		}
	}
}

// packet handles one Socket.IO packet; false ends the session.
func (p *peer) packet(s string) bool {
	if s == "" {
		return true
	}
	kind, rest := s[0], s[1:]
	id := -1
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n > 0 {
		id, _ = strconv.Atoi(rest[:n])
		rest = rest[n:]
	}
	switch kind {
	case '0':
		p.conn <- struct{}{}
	case '1':
		return false
	case '4':
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal([]byte(rest), &e)
		p.errs <- e.Message
		return false
	case '2':
		var args []any
		if json.Unmarshal([]byte(rest), &args) != nil || len(args) == 0 {
			return true
		}
		name, _ := args[0].(string)
		var body map[string]any
		if len(args) > 1 {
			body, _ = args[1].(map[string]any)
		}
		p.events <- event{name: name, body: body, at: time.Now()}
	case '3':
		var args []any
		_ = json.Unmarshal([]byte(rest), &args)
		p.mu.Lock()
		ch := p.acks[id]
		delete(p.acks, id)
		p.mu.Unlock()
		if ch != nil {
			ch <- args
		}
	}
	return true
}

// stallReads stops the reader until the returned function is called.
func (p *peer) stallReads() (resume func()) {
	ch := make(chan struct{})
	p.stall.Store(&ch)
	return func() { close(ch) }
}

// emit sends an event; with ack it returns the acknowledgement's arguments (nil
// when the connection dropped first).
func (p *peer) emit(name string, payload any, ack bool) []any {
	p.t.Helper()
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	b, _ := json.Marshal([]any{name, payload})
	var ch chan []any
	id := ""
	if ack {
		ch = make(chan []any, 1)
		p.mu.Lock()
		p.nextID++
		p.acks[p.nextID] = ch
		id = strconv.Itoa(p.nextID)
		p.mu.Unlock()
	}
	if err := p.write("42" + id + string(b)); err != nil {
		p.t.Fatalf("emit %s: %v", name, err)
	}
	if !ack {
		return nil
	}
	select {
	case args := <-ch:
		return args
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		p.t.Fatalf("no ack for %s", name)
	}
	return nil
}

func (p *peer) connected() {
	p.t.Helper()
	select {
	case <-p.conn:
	case e := <-p.errs:
		p.t.Fatalf("connect_error: %s", e)
	case <-time.After(10 * time.Second):
		p.t.Fatal("no connect within 10s")
	}
}

func (p *peer) refused() string {
	p.t.Helper()
	select {
	case <-p.conn:
		p.t.Fatal("connected, want a refused handshake")
	case e := <-p.errs:
		return e
	case <-time.After(10 * time.Second):
		p.t.Fatal("no connect_error within 10s")
	}
	return ""
}

// subscribe sends realtime:subscribe and returns the ack. Like the SDK, it
// reconnects and subscribes again when the connection drops first: the server
// library can close a connection whose first event arrives before it has
// registered the socket it just announced (github.com/zishang520/socket.io
// v3.0.6, Client.ondecoded vs namespace._doConnect; seen under -race).
func (p *peer) subscribe(channel string) map[string]any {
	p.t.Helper()
	for try := 0; try < 3; try++ {
		args := p.emit("realtime:subscribe", map[string]any{"channel": channel}, true)
		if len(args) > 0 {
			m, _ := args[0].(map[string]any)
			return m
		}
		p.t.Logf("connection dropped before the subscribe ack for %s: reconnecting, as the SDK does", channel)
		p.open()
		p.connected()
	}
	p.t.Fatalf("no subscribe ack for %s after 3 connections", channel)
	return nil
}

func (p *peer) mustSubscribe(channel string) {
	p.t.Helper()
	if ack := p.subscribe(channel); ack["ok"] != true {
		p.t.Fatalf("subscribe %s refused: %v", channel, ack)
	}
}

// next returns the next event named name (others are skipped).
func (p *peer) next(name string, within time.Duration) (event, bool) {
	deadline := time.After(within)
	for {
		select {
		case e := <-p.events:
			if e.name == name {
				return e, true
			}
		case <-deadline:
			return event{}, false
		}
	}
}
