package main

// Fan-out wire formats (-wire, and -wire2 for the -url2 server): how the
// publisher wraps each payload in a frame and how a subscriber takes the
// payloads out of a frame, so servers that frame messages differently are
// measured by the same client with the same checks.
//
//	plain     the frame is the payload (the project's topics, raw Deno, ws, Bun)
//	json      the payload is a JSON string ("…", quotes inside the size); a
//	          frame is one such string or a JSON array of them: the project's
//	          batched deliveries (bench/fanout_app.ts, "fanout.batch")
//	socketio  Engine.IO 4 / Socket.IO 5 over the websocket transport: after
//	          the open packet the client joins namespace "/" ("40"); a payload
//	          goes as the event 42["m","…"]; the server's pings ("2") are
//	          answered ("3") (bench/peers/socketio_fanout.mjs)

import (
	"bytes"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

type wire struct {
	kind           string
	prefix, suffix []byte
}

var socketioEvent = []byte(`42["m","`)

func newWire(kind string) (wire, error) {
	switch kind {
	case "", "plain":
		return wire{kind: "plain"}, nil
	case "json":
		return wire{kind: "json", prefix: []byte(`"`), suffix: []byte(`"`)}, nil
	case "socketio":
		return wire{kind: "socketio", prefix: socketioEvent, suffix: []byte(`"]`)}, nil
	}
	return wire{}, fmt.Errorf("unknown -wire %q (plain | json | socketio)", kind)
}

// payloadSize is the payload's share of a message of size bytes: json's
// quotes count in the message's size, socket.io's event wrapping does not.
func (w wire) payloadSize(size int) int {
	if w.kind == "json" {
		return size - 2
	}
	return size
}

// frame returns the frame that carries payload, in dst's storage.
func (w wire) frame(dst, payload []byte) []byte {
	if w.kind == "plain" {
		return payload
	}
	dst = append(dst[:0], w.prefix...)
	dst = append(dst, payload...)
	return append(dst, w.suffix...)
}

// open runs the protocol's own handshake after the WebSocket one.
func (w wire) open(ws *websocket.Conn) error {
	if w.kind != "socketio" {
		return nil
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	if _, msg, err := ws.ReadMessage(); err != nil || len(msg) == 0 || msg[0] != '0' {
		return fmt.Errorf("socket.io: no open packet (%q, %v)", msg, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		return err
	}
	if _, msg, err := ws.ReadMessage(); err != nil || !bytes.HasPrefix(msg, []byte("40")) {
		return fmt.Errorf("socket.io: namespace not joined (%q, %v)", msg, err)
	}
	return nil
}

// frameKind says what a received frame is.
type frameKind int

const (
	framePayloads frameKind = iota // one or more payloads (each passes fn)
	framePing                      // a keep-alive to answer with pong()
	frameBad                       // not of this wire format
)

// payloads calls fn with each payload of frame, in order.
func (w wire) payloads(frame []byte, fn func([]byte)) frameKind {
	switch w.kind {
	case "plain":
		fn(frame)
		return framePayloads
	case "socketio":
		if len(frame) == 1 && frame[0] == '2' {
			return framePing
		}
		if !bytes.HasPrefix(frame, w.prefix) || !bytes.HasSuffix(frame, w.suffix) ||
			len(frame) < len(w.prefix)+len(w.suffix) {
			return frameBad
		}
		fn(frame[len(w.prefix) : len(frame)-len(w.suffix)])
		return framePayloads
	}
	// json: "…" or ["…","…",…]; payloads hold no quote or comma.
	if len(frame) >= 2 && frame[0] == '[' && frame[len(frame)-1] == ']' {
		for _, item := range bytes.Split(frame[1:len(frame)-1], []byte(",")) {
			if len(item) < 2 || item[0] != '"' || item[len(item)-1] != '"' {
				return frameBad
			}
			fn(item[1 : len(item)-1])
		}
		return framePayloads
	}
	if len(frame) < 2 || frame[0] != '"' || frame[len(frame)-1] != '"' {
		return frameBad
	}
	fn(frame[1 : len(frame)-1])
	return framePayloads
}

// pong answers a ping frame.
func (w wire) pong(ws *websocket.Conn) error {
	return ws.WriteMessage(websocket.TextMessage, []byte("3"))
}

// checksSubprotocol: socket.io's server selects no subprotocol.
func (w wire) checksSubprotocol() bool { return w.kind != "socketio" }
