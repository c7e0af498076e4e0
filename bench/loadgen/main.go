// Command loadgen is the WebSocket load generator of the benchmark suite.
//
// It drives a WebSocket echo server on 127.0.0.1 in one of five modes and
// prints one JSON object with the figures on stdout:
//
//	throughput  -conns N -size B -type text|binary -window W: pipelined echoes
//	latency     -size B: one connection, one message in flight, p50/p99 RTT
//	handshake   -conns W: W workers loop connect + close handshake
//	idle        -conns N: open N sessions and hold them (stdin protocol below)
//	fanout      -conns N -size B -window W: one publisher, N subscribers, each
//	            message delivered to all N (a fan-out server, not an echo; see
//	            fanout.go); its count is deliveries. -puburl connects the
//	            publisher to another server than the subscribers (two nodes
//	            joined by a backplane); -latencies records each delivery's
//	            publish-to-receive time (p50/p99 in the JSON)
//
// With -url2 (and -pids2) the modes but idle drive two servers in turns:
// windows of -slice each, one server then the other (see measure.go), and the
// JSON holds both servers' figures.
//
// Every echoed payload is compared with what was sent (content, length,
// message type and order); each difference is counted as a mismatch.
// Every handshake offers the subprotocol -protocol ("echo" unless told) and
// checks that the server selected it.
//
// CPU use of the server (-pids: its threads' scheduler runtime from
// /proc/PID/task/*/sched, else utime+stime) and of this process (getrusage) is
// measured over the same window as the figures, as a percentage of one core.
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
	Mode        string  `json:"mode"`
	Conns       int     `json:"conns"`
	Size        int     `json:"size"`
	Window      int     `json:"window"`
	Seconds     float64 `json:"seconds"`
	Count       int64   `json:"count"`
	Rate        float64 `json:"rate"`
	BytesPerSec float64 `json:"bytesPerSec"`
	Mismatches  int64   `json:"mismatches"`
	Lost        int64   `json:"lost"`
	Errors      int64   `json:"errors"`
	ErrorSample string  `json:"errorSample,omitempty"`
	P50Us       float64 `json:"p50Us,omitempty"`
	P90Us       float64 `json:"p90Us,omitempty"`
	P99Us       float64 `json:"p99Us,omitempty"`
	MaxUs       float64 `json:"maxUs,omitempty"`
	MeanUs      float64 `json:"meanUs,omitempty"`
	Opened      int     `json:"opened,omitempty"`
	// Published and Subscribers: messages sent and sessions they went to (fanout).
	Published    int64   `json:"published,omitempty"`
	Subscribers  int     `json:"subscribers,omitempty"`
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
	url2     string
	pids2    []int
	slice    time.Duration
	protocol string
	// puburl and puburl2: where the fan-out publisher of -url and of -url2
	// connects ("" = the same server as the subscribers).
	puburl  string
	puburl2 string
	// latencies: the fan-out load records each delivery's publish-to-receive time.
	latencies bool
	// protocol2: the subprotocol for -url2 ("" = -protocol).
	protocol2 string
	// wire and wire2: the fan-out's framing on -url and -url2 (wire.go).
	wire, wire2 string
	// rate: fan-out messages per second (0: as fast as the window allows).
	rate float64
	// stall and stall2: fan-out subscribers that stop reading, on -url and -url2.
	stall, stall2 int
	// skipSubprotocolCheck: the server selects none (socket.io).
	skipSubprotocolCheck bool
}

func main() {
	var o options
	var msgType, pids, pids2 string
	flag.StringVar(&o.mode, "mode", "throughput", "throughput | latency | handshake | idle | fanout")
	flag.StringVar(&o.url, "url", "ws://127.0.0.1:8181/echo", "WebSocket URL (loopback only)")
	flag.IntVar(&o.conns, "conns", 64, "connections (handshake: workers)")
	flag.IntVar(&o.size, "size", 32, "payload bytes (>= 16)")
	flag.StringVar(&msgType, "type", "text", "text | binary")
	flag.IntVar(&o.window, "window", 128, "messages in flight per connection (throughput)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before measuring")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time")
	flag.StringVar(&pids, "pids", "", "comma-separated server PIDs whose CPU use is measured")
	flag.IntVar(&o.srcBase, "src", 2, "first source address 127.0.0.<src> to spread connections over")
	flag.StringVar(&o.url2, "url2", "", "a second server: measure both in turns of -slice (see measure.go)")
	flag.StringVar(&pids2, "pids2", "", "PIDs of the -url2 server")
	flag.DurationVar(&o.slice, "slice", 500*time.Millisecond, "window length when taking turns")
	flag.StringVar(&o.protocol, "protocol", "echo", "the subprotocol offered and required")
	flag.StringVar(&o.puburl, "puburl", "", "fanout: the publisher's URL (default -url)")
	flag.StringVar(&o.puburl2, "puburl2", "", "fanout: the publisher's URL for -url2 (default -url2)")
	flag.BoolVar(&o.latencies, "latencies", false,
		"fanout: record every delivery's publish-to-receive time")
	flag.StringVar(&o.protocol2, "protocol2", "", "the subprotocol for -url2 (default -protocol)")
	flag.StringVar(&o.wire, "wire", "plain", "fanout: plain | json | socketio (wire.go)")
	flag.StringVar(&o.wire2, "wire2", "", "fanout: the -url2 server's wire (default -wire)")
	flag.Float64Var(&o.rate, "rate", 0, "fanout: messages per second (0: as the window allows)")
	flag.IntVar(&o.stall, "stall", 0, "fanout: subscribers that stop reading after their first probe")
	flag.IntVar(&o.stall2, "stall2", 0, "fanout: -stall for the -url2 server")
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
	o.pids, o.pids2 = parsePids(pids), parsePids(pids2)
	if o.size < 16 {
		o.size = 16
	}
	for _, u := range []string{o.url, o.url2, o.puburl, o.puburl2} {
		if u != "" && !strings.HasPrefix(u, "ws://127.") && !strings.HasPrefix(u, "ws://localhost") {
			fail("refusing a non-loopback URL: " + u)
		}
	}
	if o.url2 != "" && o.mode != "idle" {
		out, _ := json.Marshal(measureAlternating(o))
		fmt.Println(string(out))
		return
	}
	var r result
	if o.mode == "idle" {
		r = runIdle(o)
	} else {
		r = measureOne(o)
	}
	r.Mode, r.Conns, r.Size = o.mode, o.conns, o.size
	r.CoreBusyPct = lastCoreBusy
	if r.CoreBusyPct == nil {
		r.CoreBusyPct = []float64{}
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func parsePids(list string) []int {
	var out []int
	for _, p := range strings.Split(list, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil {
			out = append(out, n)
		}
	}
	return out
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
	server    time.Duration
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
	return cpuMeter{pids: pids, wall: time.Now(), server: serverRuntime(pids), generator: selfCPU(),
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

// used returns the wall time since the meter started and the CPU time the
// server and this process used meanwhile.
func (m cpuMeter) used() (wall, server, generator time.Duration) {
	return time.Since(m.wall), serverRuntime(m.pids) - m.server, selfCPU() - m.generator
}

// stop returns elapsed seconds, server and generator CPU in percent of one core.
func (m cpuMeter) stop() (float64, float64, float64) {
	lastCoreBusy = m.coreBusy()
	wall, server, gen := m.used()
	elapsed := wall.Seconds()
	return elapsed, server.Seconds() / elapsed * 100, gen.Seconds() / elapsed * 100
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

// dial opens one session offering subprotocol o.protocol, spreading source
// addresses over 127.0.0.<src>..127.0.0.<src+63> so that many short
// connections never run out of ephemeral ports.
func dial(o options, bufSize int) (*websocket.Conn, *bufferedConn, error) {
	var bc *bufferedConn
	n := atomic.AddUint32(&srcCounter, 1)
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(o.srcBase+int(n%64)))}
	d := websocket.Dialer{
		Subprotocols:     []string{o.protocol},
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
	if ws.Subprotocol() != o.protocol && !o.skipSubprotocolCheck {
		ws.Close()
		return nil, nil, fmt.Errorf("server selected subprotocol %q, want %q", ws.Subprotocol(),
			o.protocol)
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

// ---------------------------------------------------------------- latency

func sortInt64(v []int64) { sort.Slice(v, func(i, j int) bool { return v[i] < v[j] }) }

func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return float64(sorted[i]) / 1000
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
