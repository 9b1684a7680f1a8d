package realtime_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

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
