// Command loadgen is the WebSocket load generator of the benchmark suite.
//
// It drives a WebSocket echo server on 127.0.0.1 in one of four modes and
// prints one JSON object with the figures on stdout:
//
//	throughput  -conns N -size B -type text|binary -window W: pipelined echoes
//	latency     -size B: one connection, one message in flight, p50/p99 RTT
//	handshake   -conns W: W workers loop connect + close handshake
//	idle        -conns N: open N sessions and hold them (stdin protocol below)
//
// Every echoed payload is compared with what was sent (content, length,
// message type and order); each difference is counted as a mismatch.
// Every handshake offers the subprotocol "echo" and checks that the server
// selected it.
//
// CPU use of the server (-pids, summed over /proc/PID/stat utime+stime) and of
// this process (getrusage) is measured over the same window as the figures,
// as a percentage of one core.
//
// Idle mode talks to its parent over stdin/stdout: it prints "WARM" after a
// short warm-up, waits for a line on stdin, opens the sessions, prints
// "READY <opened>", waits for a second line, then checks every session with
// one echo, closes them all and prints the JSON result.
//
// It is built with Debian's golang-go and golang-github-gorilla-websocket-dev
// in GOPATH mode (see bench/run.sh); it fetches nothing.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// result is the JSON object printed at the end of a run.
type result struct {
	Mode         string  `json:"mode"`
	Conns        int     `json:"conns"`
	Size         int     `json:"size"`
	Window       int     `json:"window"`
	Seconds      float64 `json:"seconds"`
	Count        int64   `json:"count"`
	Rate         float64 `json:"rate"`
	BytesPerSec  float64 `json:"bytesPerSec"`
	Mismatches   int64   `json:"mismatches"`
	Lost         int64   `json:"lost"`
	Errors       int64   `json:"errors"`
	ErrorSample  string  `json:"errorSample,omitempty"`
	P50Us        float64 `json:"p50Us,omitempty"`
	P90Us        float64 `json:"p90Us,omitempty"`
	P99Us        float64 `json:"p99Us,omitempty"`
	MaxUs        float64 `json:"maxUs,omitempty"`
	MeanUs       float64 `json:"meanUs,omitempty"`
	Opened       int     `json:"opened,omitempty"`
	ServerCPUPct float64 `json:"serverCpuPct"`
	GenCPUPct    float64 `json:"genCpuPct"`
	// CoreBusyPct is how busy each core was in the window (all processes).
	CoreBusyPct []float64 `json:"coreBusyPct"`
}

// options are the command-line settings.
type options struct {
	mode     string
	url      string
	conns    int
	size     int
	binary   bool
	window   int
	warmup   time.Duration
	duration time.Duration
	pids     []int
	srcBase  int
}

func main() {
	var o options
	var msgType, pids string
	flag.StringVar(&o.mode, "mode", "throughput", "throughput | latency | handshake | idle")
	flag.StringVar(&o.url, "url", "ws://127.0.0.1:8181/echo", "WebSocket URL (loopback only)")
	flag.IntVar(&o.conns, "conns", 64, "connections (handshake: workers)")
	flag.IntVar(&o.size, "size", 32, "payload bytes (>= 16)")
	flag.StringVar(&msgType, "type", "text", "text | binary")
	flag.IntVar(&o.window, "window", 128, "messages in flight per connection (throughput)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before measuring")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time")
	flag.StringVar(&pids, "pids", "", "comma-separated server PIDs whose CPU use is measured")
	flag.IntVar(&o.srcBase, "src", 2, "first source address 127.0.0.<src> to spread connections over")
	profile := flag.String("cpuprofile", "", "write a Go CPU profile of the generator here")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fail(err.Error())
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	o.binary = msgType == "binary"
	for _, p := range strings.Split(pids, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil {
			o.pids = append(o.pids, n)
		}
	}
	if o.size < 16 {
		o.size = 16
	}
	if !strings.HasPrefix(o.url, "ws://127.") && !strings.HasPrefix(o.url, "ws://localhost") {
		fail("refusing a non-loopback URL: " + o.url)
	}
	var r result
	switch o.mode {
	case "throughput":
		r = runThroughput(o)
	case "latency":
		r = runLatency(o)
	case "handshake":
		r = runHandshake(o)
	case "idle":
		r = runIdle(o)
	default:
		fail("unknown mode " + o.mode)
	}
	r.Mode, r.Conns, r.Size = o.mode, o.conns, o.size
	r.CoreBusyPct = lastCoreBusy
	if r.CoreBusyPct == nil {
		r.CoreBusyPct = []float64{}
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "loadgen:", msg)
	os.Exit(2)
}

// ---------------------------------------------------------------- CPU use

// lastCoreBusy holds the per-core load of the last measured window.
var lastCoreBusy []float64

// cpuMeter measures CPU time of the server PIDs and of this process.
type cpuMeter struct {
	pids      []int
	wall      time.Time
	server    int64 // clock ticks (USER_HZ = 100)
	generator time.Duration
	cores     [][2]int64 // per core: busy and total jiffies from /proc/stat
}

func coreJiffies() [][2]int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	var out [][2]int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var busy, total int64
		for i, v := range f[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			if i >= 8 { // guest time is already in user
				break
			}
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		out = append(out, [2]int64{busy, total})
	}
	return out
}

func procTicks(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// f[0] is field 3 (state); utime and stime are fields 14 and 15.
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += u + st
	}
	return total
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(pids []int) cpuMeter {
	return cpuMeter{pids: pids, wall: time.Now(), server: procTicks(pids), generator: selfCPU(),
		cores: coreJiffies()}
}

// coreBusy returns how busy each core was since the meter started, in percent.
func (m cpuMeter) coreBusy() []float64 {
	now := coreJiffies()
	out := []float64{}
	for i := range now {
		if i >= len(m.cores) {
			break
		}
		total := now[i][1] - m.cores[i][1]
		if total <= 0 {
			out = append(out, 0)
			continue
		}
		out = append(out, float64(now[i][0]-m.cores[i][0])/float64(total)*100)
	}
	return out
}

// stop returns elapsed seconds, server and generator CPU in percent of one core.
func (m cpuMeter) stop() (float64, float64, float64) {
	lastCoreBusy = m.coreBusy()
	elapsed := time.Since(m.wall).Seconds()
	server := float64(procTicks(m.pids)-m.server) / 100 / elapsed * 100
	gen := (selfCPU() - m.generator).Seconds() / elapsed * 100
	return elapsed, server, gen
}

// ---------------------------------------------------------------- connections

// bufferedConn lets the sender queue many frames and write them with one
// syscall. Until buffering is switched on (after the handshake) it writes
// through. Write deadlines are ignored: gorilla sets one per frame and the
// generator never uses them.
type bufferedConn struct {
	net.Conn
	mu       sync.Mutex
	on       bool
	buf      []byte
	writeErr error
}

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return c.Conn.Write(p)
	}
	if c.writeErr != nil {
		return 0, c.writeErr
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= 256*1024 {
		c.flushLocked()
	}
	return len(p), c.writeErr
}

func (c *bufferedConn) SetWriteDeadline(time.Time) error { return nil }

func (c *bufferedConn) flushLocked() {
	if len(c.buf) > 0 && c.writeErr == nil {
		_, c.writeErr = c.Conn.Write(c.buf)
	}
	c.buf = c.buf[:0]
}

// Flush writes the queued frames.
func (c *bufferedConn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
	return c.writeErr
}

// Buffer switches buffering on or off (off flushes first).
func (c *bufferedConn) Buffer(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !on {
		c.flushLocked()
	}
	c.on = on
}

var srcCounter uint32

// dial opens one session offering subprotocol "echo", spreading source
// addresses over 127.0.0.<src>..127.0.0.<src+63> so that many short
// connections never run out of ephemeral ports.
func dial(o options, bufSize int) (*websocket.Conn, *bufferedConn, error) {
	var bc *bufferedConn
	n := atomic.AddUint32(&srcCounter, 1)
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(o.srcBase+int(n%64)))}
	d := websocket.Dialer{
		Subprotocols:     []string{"echo"},
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   bufSize,
		WriteBufferSize:  bufSize,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: src}
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			bc = &bufferedConn{Conn: c}
			return bc, nil
		},
	}
	ws, resp, err := d.Dial(o.url, nil)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%v (HTTP %d)", err, resp.StatusCode)
		}
		return nil, nil, err
	}
	if ws.Subprotocol() != "echo" {
		ws.Close()
		return nil, nil, fmt.Errorf("server selected subprotocol %q, want \"echo\"", ws.Subprotocol())
	}
	return ws, bc, nil
}

// sendClose flushes, sends a close frame and bounds the wait for the server's.
func sendClose(ws *websocket.Conn, bc *bufferedConn) {
	bc.Buffer(false)
	_ = ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
}

// closeSession runs the close handshake on a session nobody else reads.
func closeSession(ws *websocket.Conn, bc *bufferedConn) {
	sendClose(ws, bc)
	for {
		if _, _, err := ws.NextReader(); err != nil {
			break
		}
	}
	ws.Close()
}

// ---------------------------------------------------------------- payloads

// payloads builds and checks the message for sequence number seq: the first
// 16 bytes carry seq (hex for text, little-endian for binary), the rest is a
// fixed random pattern (letters for text).
type payloads struct {
	size   int
	binary bool
	base   []byte
}

func newPayloads(size int, bin bool) payloads {
	rnd := rand.New(rand.NewSource(int64(size)))
	base := make([]byte, size)
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range base {
		if bin {
			base[i] = byte(rnd.Intn(256))
		} else {
			base[i] = letters[rnd.Intn(len(letters))]
		}
	}
	return payloads{size: size, binary: bin, base: base}
}

func (p payloads) msgType() int {
	if p.binary {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}

func (p payloads) header(seq uint64, dst []byte) {
	if p.binary {
		binary.LittleEndian.PutUint64(dst[0:8], seq)
		binary.LittleEndian.PutUint64(dst[8:16], ^seq)
		return
	}
	const hex = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		dst[i] = hex[seq&15]
		seq >>= 4
	}
}

// fill writes the payload for seq into buf (len size), reusing the tail.
func (p payloads) fill(buf []byte, seq uint64) {
	p.header(seq, buf[:16])
}

func (p payloads) newBuffer() []byte {
	b := make([]byte, p.size)
	copy(b, p.base)
	return b
}

// check reports whether got is the payload for seq.
func (p payloads) check(mt int, got []byte, seq uint64) bool {
	if mt != p.msgType() || len(got) != p.size {
		return false
	}
	var h [16]byte
	p.header(seq, h[:])
	return bytes.Equal(got[:16], h[:]) && bytes.Equal(got[16:], p.base[16:])
}

// readMessage reads one whole message into buf (cap size+1) and returns it.
func readMessage(ws *websocket.Conn, buf []byte) (int, []byte, error) {
	mt, r, err := ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	n := 0
	for {
		if n == len(buf) {
			// longer than expected: drain and report the length we saw
			extra, err := io.Copy(io.Discard, r)
			if err != nil {
				return 0, nil, err
			}
			return mt, make([]byte, n+int(extra)), nil
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return mt, buf[:n], nil
		}
		if err != nil {
			return 0, nil, err
		}
	}
}

// ---------------------------------------------------------------- errors

type errorCounter struct {
	n      int64
	mu     sync.Mutex
	sample string
}

func (e *errorCounter) add(err error) {
	atomic.AddInt64(&e.n, 1)
	e.mu.Lock()
	if e.sample == "" {
		e.sample = err.Error()
	}
	e.mu.Unlock()
}

// dialAll opens n sessions with at most 64 handshakes at once.
func dialAll(o options, n, bufSize int, errs *errorCounter) ([]*websocket.Conn, []*bufferedConn) {
	wss := make([]*websocket.Conn, n)
	bcs := make([]*bufferedConn, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ws, bc, err := dial(o, bufSize)
			if err != nil {
				errs.add(err)
				return
			}
			wss[i], bcs[i] = ws, bc
		}(i)
	}
	wg.Wait()
	return wss, bcs
}

// ---------------------------------------------------------------- throughput

type connStats struct {
	received int64
	sent     int64
	_        [48]byte
}

func runThroughput(o options) result {
	var errs errorCounter
	var mismatches int64
	p := newPayloads(o.size, o.binary)
	bufSize := o.size + 64
	if bufSize < 4096 {
		bufSize = 4096
	}
	wss, bcs := dialAll(o, o.conns, bufSize, &errs)
	stats := make([]connStats, o.conns)
	stop := make(chan struct{})
	var senders, receivers sync.WaitGroup
	maxBatch := o.window
	if maxBatch > 64 {
		maxBatch = 64
	}
	for i := range wss {
		ws, bc, st := wss[i], bcs[i], &stats[i]
		if ws == nil {
			continue
		}
		credits := make(chan struct{}, o.window)
		for j := 0; j < o.window; j++ {
			credits <- struct{}{}
		}
		bc.Buffer(true)
		senders.Add(1)
		go func() { // sender
			defer senders.Done()
			buf := p.newBuffer()
			var seq uint64
			for {
				select {
				case <-stop:
					return
				case <-credits:
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
					p.fill(buf, seq)
					if err := ws.WriteMessage(p.msgType(), buf); err != nil {
						errs.add(err)
						return
					}
					seq++
				}
				if err := bc.Flush(); err != nil {
					errs.add(err)
					return
				}
				atomic.StoreInt64(&st.sent, int64(seq))
			}
		}()
		receivers.Add(1)
		go func() { // receiver
			defer receivers.Done()
			buf := make([]byte, o.size+1)
			var seq uint64
			for {
				mt, msg, err := readMessage(ws, buf)
				if err != nil {
					if !websocket.IsCloseError(err, websocket.CloseNormalClosure) &&
						!strings.Contains(err.Error(), "i/o timeout") {
						errs.add(err)
					}
					return
				}
				if !p.check(mt, msg, seq) {
					atomic.AddInt64(&mismatches, 1)
				}
				seq++
				atomic.StoreInt64(&st.received, int64(seq))
				select {
				case credits <- struct{}{}:
				default:
				}
			}
		}()
	}
	total := func() int64 {
		var t int64
		for i := range stats {
			t += atomic.LoadInt64(&stats[i].received)
		}
		return t
	}
	time.Sleep(o.warmup)
	before := total()
	meter := startCPU(o.pids)
	time.Sleep(o.duration)
	count := total() - before
	elapsed, serverCPU, genCPU := meter.stop()
	close(stop)
	senders.Wait()
	// Let in-flight echoes come back, then close every session.
	deadline := time.Now().Add(5 * time.Second)
	var lost int64
	for i := range wss {
		if wss[i] == nil {
			continue
		}
		for atomic.LoadInt64(&stats[i].received) < atomic.LoadInt64(&stats[i].sent) &&
			time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		lost += atomic.LoadInt64(&stats[i].sent) - atomic.LoadInt64(&stats[i].received)
	}
	for i := range wss {
		if wss[i] != nil {
			sendClose(wss[i], bcs[i]) // the receiver goroutine reads the server's close
		}
	}
	receivers.Wait()
	for _, ws := range wss {
		if ws != nil {
			ws.Close()
		}
	}
	return result{
		Window: o.window, Seconds: elapsed, Count: count, Rate: float64(count) / elapsed,
		BytesPerSec: float64(count) * float64(o.size) / elapsed, Mismatches: mismatches,
		Lost: lost, Errors: errs.n, ErrorSample: errs.sample, ServerCPUPct: serverCPU,
		GenCPUPct: genCPU,
	}
}

// ---------------------------------------------------------------- latency

func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return float64(sorted[i]) / 1000
}

func runLatency(o options) result {
	var errs errorCounter
	var mismatches int64
	p := newPayloads(o.size, o.binary)
	ws, bc, err := dial(o, o.size+4096)
	if err != nil {
		return result{Errors: 1, ErrorSample: err.Error()}
	}
	buf := p.newBuffer()
	rbuf := make([]byte, o.size+1)
	samples := make([]int64, 0, 1<<18)
	var seq uint64
	measuring := false
	var meter cpuMeter
	start := time.Now()
	end := start.Add(o.warmup)
	for {
		now := time.Now()
		if now.After(end) {
			if measuring {
				break
			}
			measuring = true
			meter = startCPU(o.pids)
			end = now.Add(o.duration)
		}
		p.fill(buf, seq)
		t0 := time.Now()
		if err := ws.WriteMessage(p.msgType(), buf); err != nil {
			errs.add(err)
			break
		}
		mt, msg, err := readMessage(ws, rbuf)
		if err != nil {
			errs.add(err)
			break
		}
		rtt := time.Since(t0)
		if !p.check(mt, msg, seq) {
			mismatches++
		}
		seq++
		if measuring {
			samples = append(samples, rtt.Nanoseconds())
		}
	}
	elapsed, serverCPU, genCPU := meter.stop()
	closeSession(ws, bc)
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	var sum int64
	for _, s := range samples {
		sum += s
	}
	mean := 0.0
	if len(samples) > 0 {
		mean = float64(sum) / float64(len(samples)) / 1000
	}
	return result{
		Seconds: elapsed, Count: int64(len(samples)), Rate: float64(len(samples)) / elapsed,
		Mismatches: mismatches, Errors: errs.n, ErrorSample: errs.sample,
		P50Us: percentile(samples, 0.50), P90Us: percentile(samples, 0.90),
		P99Us: percentile(samples, 0.99), MaxUs: percentile(samples, 1), MeanUs: mean,
		ServerCPUPct: serverCPU, GenCPUPct: genCPU,
	}
}

// ---------------------------------------------------------------- handshakes

func runHandshake(o options) result {
	var errs errorCounter
	var mismatches, done int64
	var measuring int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ws, bc, err := dial(o, 1024)
				if err != nil {
					if strings.Contains(err.Error(), "subprotocol") {
						atomic.AddInt64(&mismatches, 1)
					} else {
						errs.add(err)
					}
					time.Sleep(time.Millisecond) // no hot loop on a refusing server
					continue
				}
				closeSession(ws, bc)
				if atomic.LoadInt32(&measuring) == 1 {
					atomic.AddInt64(&done, 1)
				}
			}
		}()
	}
	time.Sleep(o.warmup)
	atomic.StoreInt32(&measuring, 1)
	meter := startCPU(o.pids)
	time.Sleep(o.duration)
	count := atomic.LoadInt64(&done)
	elapsed, serverCPU, genCPU := meter.stop()
	close(stop)
	wg.Wait()
	return result{
		Seconds: elapsed, Count: count, Rate: float64(count) / elapsed, Mismatches: mismatches,
		Errors: errs.n, ErrorSample: errs.sample, ServerCPUPct: serverCPU, GenCPUPct: genCPU,
	}
}

// ---------------------------------------------------------------- idle sessions

func runIdle(o options) result {
	var errs errorCounter
	var mismatches int64
	in := bufio.NewReader(os.Stdin)
	p := newPayloads(o.size, o.binary)
	// Warm-up: a few sessions with one echo each, so both servers have run
	// their upgrade and echo paths before the "before" snapshot.
	warm, warmBc := dialAll(o, 100, 1024, &errs)
	for i, ws := range warm {
		if ws == nil {
			continue
		}
		if !echoOnce(ws, p, uint64(i)) {
			mismatches++
		}
		closeSession(ws, warmBc[i])
	}
	fmt.Println("WARM")
	if _, err := in.ReadString('\n'); err != nil {
		fail("stdin closed before opening")
	}
	meter := startCPU(o.pids)
	wss, bcs := dialAll(o, o.conns, 1024, &errs)
	opened := 0
	for _, ws := range wss {
		if ws != nil {
			opened++
		}
	}
	elapsed, serverCPU, genCPU := meter.stop()
	fmt.Printf("READY %d\n", opened)
	_, _ = in.ReadString('\n')
	// Every held session must still echo.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i, ws := range wss {
		if ws == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, ws *websocket.Conn) {
			defer wg.Done()
			defer func() { <-sem }()
			if !echoOnce(ws, p, uint64(i)) {
				atomic.AddInt64(&mismatches, 1)
			}
			closeSession(ws, bcs[i])
		}(i, ws)
	}
	wg.Wait()
	return result{
		Seconds: elapsed, Count: int64(opened), Rate: float64(opened) / elapsed, Opened: opened,
		Mismatches: mismatches, Errors: errs.n, ErrorSample: errs.sample,
		ServerCPUPct: serverCPU, GenCPUPct: genCPU,
	}
}

func echoOnce(ws *websocket.Conn, p payloads, seq uint64) bool {
	buf := p.newBuffer()
	p.fill(buf, seq)
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteMessage(p.msgType(), buf); err != nil {
		return false
	}
	mt, msg, err := readMessage(ws, make([]byte, p.size+1))
	_ = ws.SetReadDeadline(time.Time{})
	return err == nil && p.check(mt, msg, seq)
}
