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
	pub    *websocket.Conn
	pubBc  *bufferedConn
	subs   []*websocket.Conn
	subBcs []*bufferedConn
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
	l := &fanoutLoad{
		gate: newGate(), p: newPayloads(o.size, o.binary), window: window,
		pending: make([]int32, window), freed: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	bufSize := o.size + 64
	if bufSize < 4096 {
		bufSize = 4096
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
	if err != nil {
		l.errs.add(fmt.Errorf("publisher: %v", err))
		return l
	}
	l.pub, l.pubBc = pub, pubBc
	l.readers.Add(1)
	go l.readPublisher()
	l.subs, l.subBcs = dialAll(o, o.conns, bufSize, &l.errs)
	l.received = make([]connStats, o.conns)
	subscribers := 0
	for i, ws := range l.subs {
		if ws == nil {
			continue
		}
		subscribers++
		l.readers.Add(1)
		go l.readSubscriber(ws, i)
	}
	if subscribers < o.conns {
		return l // the errors are counted; no figure can stand on a partial fan-out
	}
	if !l.awaitSubscribed(30 * time.Second) {
		l.errs.add(fmt.Errorf("only %d of %d subscribers received a probe within 30 s",
			atomic.LoadInt64(&l.ready), o.conns))
		return l
	}
	pubBc.Buffer(true)
	l.publisher.Add(1)
	go l.publish()
	return l
}

// awaitSubscribed sends probes until every subscriber has received one.
func (l *fanoutLoad) awaitSubscribed(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	probe := make([]byte, l.p.size)
	for i := range probe {
		probe[i] = 'x'
	}
	copy(probe, probePrefix)
	for n := 0; atomic.LoadInt64(&l.ready) < int64(len(l.subs)); n++ {
		if time.Now().After(deadline) {
			return false
		}
		if err := l.pub.WriteMessage(websocket.TextMessage, probe); err != nil {
			l.errs.add(fmt.Errorf("publisher: %v", err))
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// publish sends messages 0, 1, 2, ... while the gate is open, each once its
// slot is free, as many as are free in one write.
func (l *fanoutLoad) publish() {
	defer l.publisher.Done()
	buf := l.p.newBuffer()
	w := uint64(l.window)
	var seq uint64
	for {
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
		n := uint64(0)
		for n < w && atomic.LoadInt32(&l.pending[(seq+n)%w]) == 0 {
			atomic.StoreInt32(&l.pending[(seq+n)%w], int32(len(l.subs)))
			if l.sentAt != nil {
				// Before the write, so no subscriber can read the message first.
				atomic.StoreInt64(&l.sentAt[(seq+n)%w], int64(time.Since(l.base)))
			}
			l.p.fill(buf, seq+n)
			if err := l.pub.WriteMessage(l.p.msgType(), buf); err != nil {
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
	buf := make([]byte, l.p.size+1)
	w := uint64(l.window)
	var seq uint64
	probed := false
	for {
		mt, msg, err := readMessage(ws, buf)
		if err != nil {
			l.readError(err)
			return
		}
		if seq == 0 && mt == websocket.TextMessage && bytes.HasPrefix(msg, probePrefix) {
			if !probed {
				probed = true
				atomic.AddInt64(&l.ready, 1)
			}
			continue
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
		atomic.StoreInt64(&st.received, int64(seq))
	}
}

// readPublisher reads the publisher's session: the server must send it nothing.
func (l *fanoutLoad) readPublisher() {
	defer l.readers.Done()
	buf := make([]byte, l.p.size+1)
	for {
		if _, _, err := readMessage(l.pub, buf); err != nil {
			l.readError(err)
			return
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
