package main

// Measuring a load against one server, or against two servers in turns.
//
// In turns (-url2): the machine this suite runs on is shared, and its speed
// dips by 10-15 % for seconds at a time. Runs of a few seconds against one
// server and then the other catch a dip on one side only, so their ratio
// swings by ±10 %. Alternating short windows (-slice, default 500 ms) between
// the two servers puts each of the project's windows next to one of the
// baseline's, a dip then slows both, and their ratio holds. Both servers'
// sessions are opened first; a paused server's traffic is drained before the
// other's window starts, so each window has its server's core to itself.

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// window is one measured stretch of a load against one server.
type window struct {
	// Target is 0 for -url, 1 for -url2.
	Target int `json:"target"`
	// Pair numbers the windows of the two servers that are compared with each other.
	Pair         int     `json:"pair"`
	Seconds      float64 `json:"seconds"`
	Count        int64   `json:"count"`
	Rate         float64 `json:"rate"`
	P50Us        float64 `json:"p50Us,omitempty"`
	P99Us        float64 `json:"p99Us,omitempty"`
	ServerCPUPct float64 `json:"serverCpuPct"`
	GenCPUPct    float64 `json:"genCpuPct"`
	latencies    []int64
	serverCPU    time.Duration
	genCPU       time.Duration
}

// measureWindow lets l run for d and returns what it did meanwhile.
func measureWindow(l load, pids []int, d time.Duration) window {
	l.takeLatencies() // only the window's own round trips count
	before := l.completed()
	meter := startCPU(pids)
	time.Sleep(d)
	count := l.completed() - before
	// The window ends here: sorting its latencies (a fan-out window with
	// -latencies holds tens of thousands) is not part of it.
	wall, serverCPU, genCPU := meter.used()
	lastCoreBusy = meter.coreBusy()
	latencies := l.takeLatencies()
	elapsed := wall.Seconds()
	return window{
		Seconds: elapsed, Count: count, Rate: float64(count) / elapsed,
		P50Us: percentile(latencies, 0.50), P99Us: percentile(latencies, 0.99),
		ServerCPUPct: serverCPU.Seconds() / elapsed * 100, GenCPUPct: genCPU.Seconds() / elapsed * 100,
		latencies: latencies, serverCPU: serverCPU, genCPU: genCPU,
	}
}

// summarize merges windows of one server (and its load's problems) into one result.
func summarize(windows []window, pr problems, o options) result {
	var seconds float64
	var count int64
	var serverCPU, genCPU time.Duration
	var latencies []int64
	for _, w := range windows {
		seconds += w.Seconds
		count += w.Count
		serverCPU += w.serverCPU
		genCPU += w.genCPU
		latencies = append(latencies, w.latencies...)
	}
	sortInt64(latencies)
	r := result{
		Window: o.window, Seconds: seconds, Count: count, Mismatches: pr.mismatches, Lost: pr.lost,
		Errors: pr.errors, ErrorSample: pr.sample,
	}
	if seconds > 0 {
		r.Rate = float64(count) / seconds
		r.BytesPerSec = r.Rate * float64(o.size)
		r.ServerCPUPct = serverCPU.Seconds() / seconds * 100
		r.GenCPUPct = genCPU.Seconds() / seconds * 100
	}
	if len(latencies) > 0 {
		var sum int64
		for _, s := range latencies {
			sum += s
		}
		r.P50Us, r.P90Us = percentile(latencies, 0.50), percentile(latencies, 0.90)
		r.P99Us, r.MaxUs = percentile(latencies, 0.99), percentile(latencies, 1)
		r.MeanUs = float64(sum) / float64(len(latencies)) / 1000
	}
	return r
}

// measureOne runs the load of o against o.url: o.warmup, then o.duration measured.
func measureOne(o options) result {
	l := newLoad(o, o.url)
	l.resume()
	time.Sleep(o.warmup)
	w := measureWindow(l, o.pids, o.duration)
	l.pause()
	r := summarize([]window{w}, l.finish(), o)
	addPublished(&r, l)
	return r
}

// addPublished adds a fan-out load's totals to its result.
func addPublished(r *result, l load) {
	if f, ok := l.(interface{ published() (int64, int) }); ok {
		r.Published, r.Subscribers = f.published()
	}
}

// alternatingResult is the JSON printed in alternating mode.
type alternatingResult struct {
	Mode         string  `json:"mode"`
	SliceSeconds float64 `json:"sliceSeconds"`
	// Targets sums up each server's measured windows: [0] is -url, [1] is -url2.
	Targets [2]result `json:"targets"`
	// Windows lists every measured window in the order they ran.
	Windows []window `json:"windows"`
}

// measureAlternating runs the load of o against o.url and o.url2 in turns
// of o.slice: first o.warmup each (not measured), then o.duration each. The
// pairs alternate which server goes first (A B, B A, A B, ...).
func measureAlternating(o options) alternatingResult {
	o2 := o
	o2.pids, o2.puburl, o2.stall = o.pids2, o.puburl2, o.stall2
	if o.wire2 != "" {
		o2.wire = o.wire2
	}
	if o.protocol2 != "" {
		o2.protocol = o.protocol2
	}
	loads := [2]load{newLoad(o, o.url), newLoad(o2, o.url2)}
	pids := [2][]int{o.pids, o.pids2}
	warmSlices := int(o.warmup / o.slice)
	pairs := int(o.duration / o.slice)
	if pairs < 1 {
		pairs = 1
	}
	var windows []window
	var mine [2][]window
	for k := 0; k < warmSlices+pairs; k++ {
		order := [2]int{0, 1}
		if k%2 == 1 {
			order = [2]int{1, 0}
		}
		for _, t := range order {
			loads[t].resume()
			w := measureWindow(loads[t], pids[t], o.slice)
			loads[t].pause()
			if k < warmSlices {
				continue
			}
			w.Target, w.Pair = t, k-warmSlices
			windows = append(windows, w)
			mine[t] = append(mine[t], w)
		}
	}
	out := alternatingResult{Mode: o.mode, SliceSeconds: o.slice.Seconds(), Windows: windows}
	for t, l := range loads {
		out.Targets[t] = summarize(mine[t], l.finish(), o)
		addPublished(&out.Targets[t], l)
		out.Targets[t].Mode, out.Targets[t].Conns, out.Targets[t].Size = o.mode, o.conns, o.size
		out.Targets[t].CoreBusyPct = []float64{}
	}
	return out
}

// ---------------------------------------------------------------- CPU time

// serverRuntime is the CPU time of pids: their threads' scheduler runtime
// (nanosecond precision) where the kernel shows it, else utime + stime in
// clock ticks of 10 ms, too coarse for a window of 500 ms.
func serverRuntime(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		if d, ok := schedRuntime(pid); ok {
			total += d
		} else {
			total += time.Duration(procTicks([]int{pid})) * 10 * time.Millisecond
		}
	}
	return total
}

var sumExecRuntime = []byte("se.sum_exec_runtime")

// schedRuntime sums se.sum_exec_runtime (ms) over /proc/PID/task/*/sched.
func schedRuntime(pid int) (time.Duration, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	var ms float64
	for _, e := range entries {
		b, err := os.ReadFile(dir + e.Name() + "/sched")
		if err != nil {
			continue // the thread has exited
		}
		i := bytes.Index(b, sumExecRuntime)
		if i < 0 {
			return 0, false
		}
		line := b[i+len(sumExecRuntime):]
		if nl := bytes.IndexByte(line, '\n'); nl >= 0 {
			line = line[:nl]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimLeft(string(line), " :")), 64)
		if err != nil {
			return 0, false
		}
		ms += v
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}
