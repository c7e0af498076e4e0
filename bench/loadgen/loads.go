package main

// The kinds of traffic that can be measured against one server, each
// able to pause and resume: pausing lets two servers take turns under the
// same generator (alternating mode, see measure.go).

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// load is traffic against one server that can be paused and resumed.
type load interface {
	// resume starts (or restarts) the traffic.
	resume()
	// pause stops new traffic and returns once nothing is in flight, so the
	// server is idle until the next resume.
	pause()
	// completed counts operations done so far: echoes, round trips, handshakes
	// or fan-out deliveries.
	completed() int64
	// takeLatencies returns the round-trip times (ns) recorded since the last
	// call, sorted; nil for loads that do not record them.
	takeLatencies() []int64
	// finish ends the traffic for good and closes every session.
	finish() problems
}

// problems are what went wrong in a load: any of them fails the figure.
type problems struct {
	mismatches, lost, errors int64
	sample                   string
}

// newLoad builds the load of o.mode against url; its sessions are open on return.
func newLoad(o options, url string) load {
	o.url = url
	switch o.mode {
	case "throughput":
		return newEchoLoad(o)
	case "latency":
		return newLatencyLoad(o)
	case "handshake":
		return newHandshakeLoad(o)
	case "fanout":
		return newFanoutLoad(o)
	}
	fail("unknown mode " + o.mode)
	return nil
}

// ---------------------------------------------------------------- gate

// gate lets workers run only while their load is active, and lets pause wait
// until every unit of work in progress (a batch of sends, a round trip, a
// handshake) has finished.
type gate struct {
	active atomic.Bool
	mu     sync.Mutex
	cond   *sync.Cond
	ended  bool
	work   sync.RWMutex // held for reading by each unit of work in progress
}

func newGate() *gate {
	g := &gate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) open() {
	g.mu.Lock()
	g.active.Store(true)
	g.cond.Broadcast()
	g.mu.Unlock()
}

// shut stops new work and waits for the work in progress.
func (g *gate) shut() {
	g.active.Store(false)
	g.work.Lock()
	g.work.Unlock() //nolint:staticcheck // an empty critical section: only the wait matters
}

// end releases every waiting worker for good.
func (g *gate) end() {
	g.mu.Lock()
	g.ended = true
	g.active.Store(false)
	g.cond.Broadcast()
	g.mu.Unlock()
}

// enter waits until the gate is open and begins a unit of work (end it with
// leave); false once the gate has ended.
func (g *gate) enter() bool {
	for {
		if g.active.Load() {
			g.work.RLock()
			if g.active.Load() {
				return true
			}
			g.work.RUnlock()
		}
		g.mu.Lock()
		for !g.active.Load() && !g.ended {
			g.cond.Wait()
		}
		ended := g.ended
		g.mu.Unlock()
		if ended {
			return false
		}
	}
}

func (g *gate) leave() { g.work.RUnlock() }

// ---------------------------------------------------------------- pipelined echoes

type connStats struct {
	received int64
	sent     int64
	_        [48]byte
}

// echoLoad keeps -window messages in flight on each of -conns sessions and
// checks every echo.
type echoLoad struct {
	gate       *gate
	p          payloads
	wss        []*websocket.Conn
	bcs        []*bufferedConn
	stats      []connStats
	stop       chan struct{}
	senders    sync.WaitGroup
	receivers  sync.WaitGroup
	errs       errorCounter
	mismatches int64
}

func newEchoLoad(o options) *echoLoad {
	l := &echoLoad{gate: newGate(), p: newPayloads(o.size, o.binary), stop: make(chan struct{})}
	bufSize := o.size + 64
	if bufSize < 4096 {
		bufSize = 4096
	}
	l.wss, l.bcs = dialAll(o, o.conns, bufSize, &l.errs)
	l.stats = make([]connStats, o.conns)
	maxBatch := o.window
	if maxBatch > 64 {
		maxBatch = 64
	}
	for i := range l.wss {
		ws, bc, st := l.wss[i], l.bcs[i], &l.stats[i]
		if ws == nil {
			continue
		}
		credits := make(chan struct{}, o.window)
		for j := 0; j < o.window; j++ {
			credits <- struct{}{}
		}
		bc.Buffer(true)
		l.senders.Add(1)
		go l.send(ws, bc, st, credits, maxBatch)
		l.receivers.Add(1)
		go l.receive(ws, st, credits, o.size)
	}
	return l
}

func (l *echoLoad) send(ws *websocket.Conn, bc *bufferedConn, st *connStats,
	credits chan struct{}, maxBatch int) {
	defer l.senders.Done()
	buf := l.p.newBuffer()
	var seq uint64
	for {
		// The credit is taken outside the gate: waiting for an echo is not work in progress.
		select {
		case <-l.stop:
			return
		case <-credits:
		}
		if !l.gate.enter() {
			return
		}
		n := 1
	batch:
		for n < maxBatch {
			select {
			case <-credits:
				n++
			default:
				break batch
			}
		}
		for k := 0; k < n; k++ {
			l.p.fill(buf, seq)
			if err := ws.WriteMessage(l.p.msgType(), buf); err != nil {
				l.errs.add(err)
				l.gate.leave()
				return
			}
			seq++
		}
		err := bc.Flush()
		atomic.StoreInt64(&st.sent, int64(seq))
		l.gate.leave()
		if err != nil {
			l.errs.add(err)
			return
		}
	}
}

func (l *echoLoad) receive(ws *websocket.Conn, st *connStats, credits chan struct{}, size int) {
	defer l.receivers.Done()
	buf := make([]byte, size+1)
	var seq uint64
	for {
		mt, msg, err := readMessage(ws, buf)
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) &&
				!strings.Contains(err.Error(), "i/o timeout") {
				l.errs.add(err)
			}
			return
		}
		if !l.p.check(mt, msg, seq) {
			atomic.AddInt64(&l.mismatches, 1)
		}
		seq++
		atomic.StoreInt64(&st.received, int64(seq))
		select {
		case credits <- struct{}{}:
		default:
		}
	}
}

func (l *echoLoad) resume() { l.gate.open() }

func (l *echoLoad) pause() {
	l.gate.shut()
	l.awaitEchoes(5 * time.Second)
}

// awaitEchoes waits (at most limit) until every message sent has come back,
// and returns how many did not.
func (l *echoLoad) awaitEchoes(limit time.Duration) int64 {
	deadline := time.Now().Add(limit)
	var missing int64
	for i := range l.stats {
		st := &l.stats[i]
		for atomic.LoadInt64(&st.received) < atomic.LoadInt64(&st.sent) &&
			time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
		missing += atomic.LoadInt64(&st.sent) - atomic.LoadInt64(&st.received)
	}
	return missing
}

func (l *echoLoad) completed() int64 {
	var t int64
	for i := range l.stats {
		t += atomic.LoadInt64(&l.stats[i].received)
	}
	return t
}

func (l *echoLoad) takeLatencies() []int64 { return nil }

func (l *echoLoad) finish() problems {
	l.gate.end()
	close(l.stop)
	l.senders.Wait()
	lost := l.awaitEchoes(5 * time.Second)
	for i, ws := range l.wss {
		if ws != nil {
			sendClose(ws, l.bcs[i]) // the receiver goroutine reads the server's close
		}
	}
	l.receivers.Wait()
	for _, ws := range l.wss {
		if ws != nil {
			ws.Close()
		}
	}
	return problems{mismatches: atomic.LoadInt64(&l.mismatches), lost: lost, errors: l.errs.n,
		sample: l.errs.sample}
}

// ---------------------------------------------------------------- round trips

// latencyLoad sends one message at a time on one session and records each
// round trip.
type latencyLoad struct {
	gate       *gate
	done       chan struct{}
	ws         *websocket.Conn
	bc         *bufferedConn
	mu         sync.Mutex
	samples    []int64
	count      int64
	errs       errorCounter
	mismatches int64
}

func newLatencyLoad(o options) *latencyLoad {
	l := &latencyLoad{gate: newGate(), done: make(chan struct{}), samples: make([]int64, 0, 1<<16)}
	ws, bc, err := dial(o, o.size+4096)
	if err != nil {
		l.errs.add(err)
		close(l.done)
		return l
	}
	l.ws, l.bc = ws, bc
	go l.run(newPayloads(o.size, o.binary))
	return l
}

func (l *latencyLoad) run(p payloads) {
	defer close(l.done)
	buf := p.newBuffer()
	rbuf := make([]byte, p.size+1)
	var seq uint64
	for l.gate.enter() {
		p.fill(buf, seq)
		t0 := time.Now()
		err := l.ws.WriteMessage(p.msgType(), buf)
		var mt int
		var msg []byte
		if err == nil {
			mt, msg, err = readMessage(l.ws, rbuf)
		}
		rtt := time.Since(t0)
		if err != nil {
			l.errs.add(err)
			l.gate.leave()
			return
		}
		if !p.check(mt, msg, seq) {
			atomic.AddInt64(&l.mismatches, 1)
		}
		seq++
		l.mu.Lock()
		l.samples = append(l.samples, rtt.Nanoseconds())
		l.mu.Unlock()
		atomic.AddInt64(&l.count, 1)
		l.gate.leave()
	}
}

func (l *latencyLoad) resume()          { l.gate.open() }
func (l *latencyLoad) pause()           { l.gate.shut() }
func (l *latencyLoad) completed() int64 { return atomic.LoadInt64(&l.count) }

func (l *latencyLoad) takeLatencies() []int64 {
	l.mu.Lock()
	out := l.samples
	l.samples = make([]int64, 0, cap(out))
	l.mu.Unlock()
	sortInt64(out)
	return out
}

func (l *latencyLoad) finish() problems {
	l.gate.end()
	<-l.done
	if l.ws != nil {
		closeSession(l.ws, l.bc)
	}
	return problems{mismatches: atomic.LoadInt64(&l.mismatches), errors: l.errs.n,
		sample: l.errs.sample}
}

// ---------------------------------------------------------------- handshakes

// handshakeLoad runs -conns workers, each opening a session (offering "echo")
// and closing it again, in a loop.
type handshakeLoad struct {
	gate       *gate
	workers    sync.WaitGroup
	count      int64
	errs       errorCounter
	mismatches int64
}

func newHandshakeLoad(o options) *handshakeLoad {
	l := &handshakeLoad{gate: newGate()}
	for w := 0; w < o.conns; w++ {
		l.workers.Add(1)
		go l.run(o)
	}
	return l
}

func (l *handshakeLoad) run(o options) {
	defer l.workers.Done()
	for l.gate.enter() {
		ws, bc, err := dial(o, 1024)
		if err != nil {
			if strings.Contains(err.Error(), "subprotocol") {
				atomic.AddInt64(&l.mismatches, 1)
			} else {
				l.errs.add(err)
			}
			time.Sleep(time.Millisecond) // no hot loop on a refusing server
		} else {
			closeSession(ws, bc)
			atomic.AddInt64(&l.count, 1)
		}
		l.gate.leave()
	}
}

func (l *handshakeLoad) resume()                { l.gate.open() }
func (l *handshakeLoad) pause()                 { l.gate.shut() }
func (l *handshakeLoad) completed() int64       { return atomic.LoadInt64(&l.count) }
func (l *handshakeLoad) takeLatencies() []int64 { return nil }

func (l *handshakeLoad) finish() problems {
	l.gate.end()
	l.workers.Wait()
	return problems{mismatches: atomic.LoadInt64(&l.mismatches), errors: l.errs.n,
		sample: l.errs.sample}
}
