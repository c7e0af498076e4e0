package main

// Fan-out: one publisher and -conns subscribers on one server, each message
// the publisher sends delivered by the server to every subscriber (not back
// to the publisher). The count is deliveries: messages published × subscribers.
//
// Two nodes: with -puburl the publisher connects there and the subscribers to
// -url, so every message goes from one server to the other through their
// backplane (for -url2 in turns: -puburl2).
//
// Latency (-latencies): the publisher notes the time it writes message s in s's
// slot of the window, and each subscriber, on receiving s, records now minus
// that time (the slot is not reused until every subscriber has received s).
// Each delivery's publish-to-receive time thus includes the publisher's own
// socket write and the subscriber's read; percentiles are over deliveries.
//
// Every delivery is checked: each subscriber must receive exactly 0, 1, 2, ...
// (the payload's sequence number, content, length and type) with no gap, and
// the publisher must receive nothing. A delivery still missing when the load
// drains (5 s) is lost; a wrong or out-of-order one is a mismatch.
//
// Pacing: at most -window messages in flight, judged by the slowest
// subscriber: message s is sent only once every subscriber has received
// message s - window. That keeps the server busy without letting a backlog
// build up in front of any subscriber.
//
// Readiness: a server subscribes a session when it opens, which a client
// cannot see. So before any counted message the publisher sends probes (text
// starting "probe") every 10 ms until every subscriber has received one; as the
// publisher's messages reach each subscriber in order, a subscriber that saw a
// probe gets every message after it. Probes after message 0 are mismatches.
//
// Wire (-wire, wire.go): how payloads are framed; a frame may carry several
// (the json wire's arrays), each checked as above.
//
// Rate (-rate N): instead of as fast as the window allows, the publisher sends
// one message every 1/N s (still within the window): a light, fixed load whose
// latencies show what a lone message waits.
//
// Stalled subscribers (-stall K): K more subscribers that read until their
// first probe and never again, so the server's sends to them pile up. They are
// not counted, checked or waited for; the others are, as always.

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

var probePrefix = []byte("probe")

// latencyLog is one subscriber's publish-to-receive times (ns) not yet taken.
type latencyLog struct {
	mu sync.Mutex
	ns []int64
}

// fanoutLoad is one publisher and many subscribers on one server.
type fanoutLoad struct {
	gate   *gate
	p      payloads
	window int
	wire   wire
	// interval between two messages at -rate (0: as fast as the window allows).
	interval time.Duration
	pub      *websocket.Conn
	pubBc    *bufferedConn
	// pingDue: the publisher owes the server a pong (socket.io), written by the
	// goroutine that writes the publisher's frames.
	pingDue int32
	subs    []*websocket.Conn
	subBcs  []*bufferedConn
	stalled []*websocket.Conn
	// received counts, per subscriber, the messages it has received in order.
	received []connStats
	// pending counts, per slot (sequence number % window), the subscribers still
	// to receive the message in flight there; 0 when the slot is free.
	pending []int32
	// freed wakes the publisher when a slot becomes free.
	freed chan struct{}
	// sent is how many messages the publisher has written.
	sent  int64
	ready int64
	// sentAt holds, per slot, when the message in flight there was written (ns
	// since base); lat, per subscriber, the publish-to-receive times recorded
	// since the last takeLatencies. Both nil without -latencies.
	base       time.Time
	sentAt     []int64
	lat        []latencyLog
	stop       chan struct{}
	publisher  sync.WaitGroup
	readers    sync.WaitGroup
	errs       errorCounter
	mismatches int64
}

func newFanoutLoad(o options) *fanoutLoad {
	window := o.window
	if window < 1 {
		window = 1
	}
	w, err := newWire(o.wire)
	if err != nil {
		fail(err.Error())
	}
	l := &fanoutLoad{
		gate: newGate(), p: newPayloads(w.payloadSize(o.size), o.binary), window: window,
		wire: w, pending: make([]int32, window), freed: make(chan struct{}, 1),
		stop: make(chan struct{}),
	}
	if o.rate > 0 {
		l.interval = time.Duration(float64(time.Second) / o.rate)
	}
	bufSize := o.size + 64
	if bufSize < 4096 {
		bufSize = 4096
	}
	if w.kind == "socketio" {
		o.skipSubprotocolCheck = true
	}
	if o.latencies {
		l.base, l.sentAt, l.lat = time.Now(), make([]int64, window), make([]latencyLog, o.conns)
	}
	// The publisher is the first session, so it is open before any subscriber.
	pubOptions := o
	if o.puburl != "" {
		pubOptions.url = o.puburl
	}
	pub, pubBc, err := dial(pubOptions, bufSize)
	if err == nil {
		err = w.open(pub)
	}
	if err != nil {
		l.errs.add(fmt.Errorf("publisher: %v", err))
		return l
	}
	l.pub, l.pubBc = pub, pubBc
	l.readers.Add(1)
	go l.readPublisher()
	l.subs, l.subBcs = dialAll(o, o.conns, bufSize, &l.errs)
	l.stalled, _ = dialAll(o, o.stall, bufSize, &l.errs)
	l.received = make([]connStats, o.conns)
	subscribers := 0
	for i, ws := range l.subs {
		if ws == nil || l.opened(ws) != nil {
			l.subs[i] = nil
			continue
		}
		subscribers++
		l.readers.Add(1)
		go l.readSubscriber(ws, i)
	}
	stalled := 0
	for _, ws := range l.stalled {
		if ws != nil && l.opened(ws) == nil {
			stalled++
			l.readers.Add(1)
			go l.readUntilProbe(ws)
		}
	}
	if subscribers < o.conns || stalled < o.stall {
		return l // the errors are counted; no figure can stand on a partial fan-out
	}
	if !l.awaitSubscribed(30 * time.Second) {
		l.errs.add(fmt.Errorf("only %d of %d subscribers received a probe within 30 s",
			atomic.LoadInt64(&l.ready), o.conns+o.stall))
		return l
	}
	pubBc.Buffer(true)
	l.publisher.Add(1)
	go l.publish()
	return l
}

// opened runs the wire's own handshake on a subscriber, counting a failure.
func (l *fanoutLoad) opened(ws *websocket.Conn) error {
	err := l.wire.open(ws)
	if err != nil {
		l.errs.add(fmt.Errorf("subscriber: %v", err))
	}
	return err
}

// awaitSubscribed sends probes until every subscriber has received one.
func (l *fanoutLoad) awaitSubscribed(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	probe := make([]byte, l.p.size)
	for i := range probe {
		probe[i] = 'x'
	}
	copy(probe, probePrefix)
	frame := l.wire.frame(nil, probe)
	for n := 0; atomic.LoadInt64(&l.ready) < int64(len(l.subs)+len(l.stalled)); n++ {
		if time.Now().After(deadline) {
			return false
		}
		if err := l.payPing(); err != nil {
			l.errs.add(fmt.Errorf("publisher: %v", err))
			return false
		}
		if err := l.pub.WriteMessage(websocket.TextMessage, frame); err != nil {
			l.errs.add(fmt.Errorf("publisher: %v", err))
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// payPing answers a ping the publisher's reader saw (socket.io).
func (l *fanoutLoad) payPing() error {
	if atomic.CompareAndSwapInt32(&l.pingDue, 1, 0) {
		return l.wire.pong(l.pub)
	}
	return nil
}

// publish sends messages 0, 1, 2, ... while the gate is open, each once its
// slot is free, as many as are free in one write (one at a time at -rate).
func (l *fanoutLoad) publish() {
	defer l.publisher.Done()
	buf := l.p.newBuffer()
	var frame []byte
	w := uint64(l.window)
	burst := w
	if l.interval > 0 {
		burst = 1
	}
	next := time.Now()
	var seq uint64
	for {
		if l.interval > 0 {
			// A fixed pace, not catching up after a pause: a burst is not light load.
			if wait := time.Until(next); wait > 0 {
				select {
				case <-l.stop:
					return
				case <-time.After(wait):
				}
			}
			next = time.Now().Add(l.interval)
		}
		// Waiting for a slot is not work in progress: it is taken outside the gate.
		for atomic.LoadInt32(&l.pending[seq%w]) != 0 {
			select {
			case <-l.stop:
				return
			case <-l.freed:
			}
		}
		if !l.gate.enter() {
			return
		}
		if err := l.payPing(); err != nil {
			l.errs.add(fmt.Errorf("publisher: %v", err))
			l.gate.leave()
			return
		}
		n := uint64(0)
		for n < burst && atomic.LoadInt32(&l.pending[(seq+n)%w]) == 0 {
			atomic.StoreInt32(&l.pending[(seq+n)%w], int32(len(l.subs)))
			if l.sentAt != nil {
				// Before the write, so no subscriber can read the message first.
				atomic.StoreInt64(&l.sentAt[(seq+n)%w], int64(time.Since(l.base)))
			}
			l.p.fill(buf, seq+n)
			frame = l.wire.frame(frame, buf)
			if err := l.pub.WriteMessage(l.p.msgType(), frame); err != nil {
				l.errs.add(fmt.Errorf("publisher: %v", err))
				l.gate.leave()
				return
			}
			n++
		}
		seq += n
		err := l.pubBc.Flush()
		atomic.StoreInt64(&l.sent, int64(seq))
		l.gate.leave()
		if err != nil {
			l.errs.add(fmt.Errorf("publisher: %v", err))
			return
		}
	}
}

// readSubscriber checks every message subscriber i receives.
func (l *fanoutLoad) readSubscriber(ws *websocket.Conn, i int) {
	defer l.readers.Done()
	st := &l.received[i]
	buf := l.readBuffer()
	w := uint64(l.window)
	var seq uint64
	probed := false
	var mt int
	take := func(msg []byte) {
		if seq == 0 && mt == websocket.TextMessage && bytes.HasPrefix(msg, probePrefix) {
			if !probed {
				probed = true
				atomic.AddInt64(&l.ready, 1)
			}
			return
		}
		if !l.p.check(mt, msg, seq) {
			atomic.AddInt64(&l.mismatches, 1)
		}
		if l.sentAt != nil {
			took := int64(time.Since(l.base)) - atomic.LoadInt64(&l.sentAt[seq%w])
			lg := &l.lat[i]
			lg.mu.Lock()
			lg.ns = append(lg.ns, took)
			lg.mu.Unlock()
		}
		if atomic.AddInt32(&l.pending[seq%w], -1) == 0 {
			select {
			case l.freed <- struct{}{}:
			default:
			}
		}
		seq++
	}
	for {
		var frame []byte
		var err error
		mt, frame, err = readMessage(ws, buf)
		if err != nil {
			l.readError(err)
			return
		}
		switch l.wire.payloads(frame, take) {
		case framePing:
			// Subscribers write nothing else but the close (WriteControl may run alongside).
			if err := l.wire.pong(ws); err != nil {
				l.readError(err)
				return
			}
		case frameBad:
			atomic.AddInt64(&l.mismatches, 1)
		}
		atomic.StoreInt64(&st.received, int64(seq))
	}
}

// readBuffer is room for the largest frame expected: a batch on the json wire.
func (l *fanoutLoad) readBuffer() []byte {
	if l.wire.kind == "json" {
		return make([]byte, 1<<20)
	}
	return make([]byte, l.p.size+64)
}

// readUntilProbe reads a stalled subscriber until its first probe, then stops
// reading: the server's sends to it pile up in its buffers.
func (l *fanoutLoad) readUntilProbe(ws *websocket.Conn) {
	defer l.readers.Done()
	buf := l.readBuffer()
	for {
		_, frame, err := readMessage(ws, buf)
		if err != nil {
			l.readError(err)
			return
		}
		probed := false
		l.wire.payloads(frame, func(msg []byte) {
			probed = probed || bytes.HasPrefix(msg, probePrefix)
		})
		if probed {
			atomic.AddInt64(&l.ready, 1)
			return
		}
	}
}

// readPublisher reads the publisher's session: the server must send it nothing.
func (l *fanoutLoad) readPublisher() {
	defer l.readers.Done()
	buf := l.readBuffer()
	for {
		_, frame, err := readMessage(l.pub, buf)
		if err != nil {
			l.readError(err)
			return
		}
		if l.wire.payloads(frame, func([]byte) {}) == framePing {
			atomic.StoreInt32(&l.pingDue, 1)
			continue
		}
		atomic.AddInt64(&l.mismatches, 1)
	}
}

func (l *fanoutLoad) readError(err error) {
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) &&
		!strings.Contains(err.Error(), "i/o timeout") {
		l.errs.add(err)
	}
}

func (l *fanoutLoad) resume() { l.gate.open() }

func (l *fanoutLoad) pause() {
	l.gate.shut()
	l.awaitDeliveries(5 * time.Second)
}

// awaitDeliveries waits (at most limit) until every subscriber has received
// every message sent, and returns how many deliveries are missing.
func (l *fanoutLoad) awaitDeliveries(limit time.Duration) int64 {
	deadline := time.Now().Add(limit)
	sent := atomic.LoadInt64(&l.sent)
	var missing int64
	for i, ws := range l.subs {
		if ws == nil {
			continue
		}
		st := &l.received[i]
		for atomic.LoadInt64(&st.received) < sent && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
		missing += sent - atomic.LoadInt64(&st.received)
	}
	return missing
}

func (l *fanoutLoad) completed() int64 {
	var t int64
	for i := range l.received {
		t += atomic.LoadInt64(&l.received[i].received)
	}
	return t
}

// takeLatencies returns the publish-to-receive times recorded since the last
// call, sorted (nil without -latencies).
func (l *fanoutLoad) takeLatencies() []int64 {
	if l.lat == nil {
		return nil
	}
	var out []int64
	for i := range l.lat {
		lg := &l.lat[i]
		lg.mu.Lock()
		out = append(out, lg.ns...)
		lg.ns = lg.ns[:0]
		lg.mu.Unlock()
	}
	sortInt64(out)
	return out
}

// published returns the messages sent and the subscribers they went to.
func (l *fanoutLoad) published() (int64, int) {
	return atomic.LoadInt64(&l.sent), len(l.subs)
}

func (l *fanoutLoad) finish() problems {
	l.gate.end()
	close(l.stop)
	l.publisher.Wait()
	lost := l.awaitDeliveries(5 * time.Second)
	if l.pub != nil {
		sendClose(l.pub, l.pubBc)
	}
	for i, ws := range l.subs {
		if ws != nil {
			sendClose(ws, l.subBcs[i]) // the reader goroutine reads the server's close
		}
	}
	for _, ws := range l.stalled {
		if ws != nil {
			ws.Close() // nobody reads it: no close handshake to wait for
		}
	}
	l.readers.Wait()
	if l.pub != nil {
		l.pub.Close()
	}
	for _, ws := range l.subs {
		if ws != nil {
			ws.Close()
		}
	}
	return problems{mismatches: atomic.LoadInt64(&l.mismatches), lost: lost, errors: l.errs.n,
		sample: l.errs.sample}
}
