// Command echoload is the load generator of bench/echo.sh: it measures an
// echo server (examples/echo_server.c or its Go twin, examples/echo_server.go)
// over loopback, with the standard library only.
//
// Usage: echoload -addr 127.0.0.1:PORT -conns N [-pid PID] [flags]
//
// Phases, each bounded in time:
//
//  1. baseline: the server's RSS and thread count with no connection
//     (/proc/PID/status VmRSS, /proc/PID/task);
//  2. connect: opens N connections, at most -parallel dials in flight,
//     retrying a failed dial (EAGAIN, a full backlog, a reset) with backoff;
//     each sends one -size request as soon as it is connected and reads the
//     echo. connect_ms is the time from the first dial until every
//     connection has had its answer;
//  3. idle: every connection is open and quiet; after -settle, the server's
//     RSS again: rss_per_idle_conn_b = (RSS now - RSS at baseline) / N;
//  4. load: every connection keeps one request outstanding (write, read the
//     echo, repeat) for -window; rtt_per_s counts the round trips completed
//     in the window, p50_us/p99_us/max_us their latency;
//  5. end: the server's threads (now and the most seen, sampled every 50 ms
//     through all phases), RSS and VmHWM, then every connection is closed.
//
// It prints one line of key=value pairs (the first is "echoload"), and exits
// 1 if the run could not finish (a phase timed out, or fewer than all
// connections got through; errors= says how many failed).
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	addr     = flag.String("addr", "", "server address, host:port (loopback)")
	conns    = flag.Int("conns", 100, "connections")
	pid      = flag.Int("pid", 0, "server process id, for /proc (0: skip)")
	size     = flag.Int("size", 64, "request size in bytes")
	window   = flag.Duration("window", 3*time.Second, "load phase length")
	settle   = flag.Duration("settle", 500*time.Millisecond, "quiet time before the idle RSS reading")
	parallel = flag.Int("parallel", 64, "dials in flight at most")
	retries  = flag.Int("retries", 40, "attempts per dial")
	timeout  = flag.Duration("timeout", 60*time.Second, "bound on the connect phase, and on each I/O")
	label    = flag.String("label", "", "printed as impl=LABEL")
)

// ---- /proc ------------------------------------------------------------------

// procStatusKB reads a "Key:   123 kB" line of /proc/PID/status; -1 if absent.
func procStatusKB(key string) int64 {
	if *pid <= 0 {
		return -1
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(*pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key+":") {
			f := strings.Fields(line[len(key)+1:])
			if len(f) > 0 {
				v, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return v
				}
			}
		}
	}
	return -1
}

func threads() int {
	if *pid <= 0 {
		return -1
	}
	d, err := os.ReadDir("/proc/" + strconv.Itoa(*pid) + "/task")
	if err != nil {
		return -1
	}
	return len(d)
}

// ---- one connection ---------------------------------------------------------

type conn struct {
	id  int
	c   net.Conn
	out []byte
	in  []byte
	seq uint64
	lat []time.Duration // round trips completed in the window
	n   int64
	err error
}

// roundTrip sends one request (the connection id and a sequence number,
// 8 bytes each, then filler) and reads its echo, checking it.
func (k *conn) roundTrip() error {
	k.seq++
	binary.BigEndian.PutUint64(k.out[0:], uint64(k.id))
	binary.BigEndian.PutUint64(k.out[8:], k.seq)
	k.c.SetDeadline(time.Now().Add(*timeout))
	if _, err := k.c.Write(k.out); err != nil {
		return err
	}
	if _, err := io.ReadFull(k.c, k.in); err != nil {
		return err
	}
	if !bytes.Equal(k.in, k.out) {
		return errors.New("echo differs from the request")
	}
	return nil
}

// dial retries with backoff: a loopback dial fails transiently when the
// listen backlog is full or ephemeral ports run short.
func dial() (net.Conn, error) {
	var err error
	backoff := 5 * time.Millisecond
	for i := 0; i < *retries; i++ {
		var c net.Conn
		c, err = net.DialTimeout("tcp", *addr, 5*time.Second)
		if err == nil {
			return c, nil
		}
		time.Sleep(backoff)
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
	return nil, err
}

func main() {
	flag.Parse()
	if *addr == "" || *conns < 1 || *size < 16 {
		fmt.Fprintln(os.Stderr, "usage: echoload -addr HOST:PORT -conns N [-pid PID] (size >= 16)")
		os.Exit(2)
	}
	n := *conns

	// Threads, sampled through every phase.
	var maxThreads atomic.Int64
	samplerStop := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if th := int64(threads()); th > maxThreads.Load() {
				maxThreads.Store(th)
			}
			select {
			case <-samplerStop:
				return
			case <-t.C:
			}
		}
	}()

	// 1. baseline
	rss0 := procStatusKB("VmRSS")
	threads0 := threads()

	// 2. connect, one goroutine per connection, and one answer each.
	ks := make([]*conn, n)
	var failed atomic.Int64
	var answered sync.WaitGroup
	startLoad := make(chan struct{})
	var stopLoad atomic.Bool
	var loadStart, loadEnd atomic.Int64 // UnixNano
	var finished sync.WaitGroup
	sem := make(chan struct{}, *parallel)
	t0 := time.Now()
	answered.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		k := &conn{id: i, out: bytes.Repeat([]byte{'x'}, *size), in: make([]byte, *size)}
		k.out[*size-1] = '\n'
		ks[i] = k
		sem <- struct{}{}
		go func() {
			defer finished.Done()
			c, err := dial()
			<-sem
			if err == nil {
				k.c = c
				err = k.roundTrip()
			}
			answered.Done()
			if err != nil {
				k.err = err
				failed.Add(1)
				return
			}
			<-startLoad
			start := time.Unix(0, loadStart.Load())
			for !stopLoad.Load() {
				t := time.Now()
				if err := k.roundTrip(); err != nil {
					k.err = err
					failed.Add(1)
					return
				}
				if end := time.Now(); !stopLoad.Load() && t.After(start) {
					k.lat = append(k.lat, end.Sub(t))
					k.n++
				}
			}
		}()
	}
	connectDone := make(chan struct{})
	go func() { answered.Wait(); close(connectDone) }()
	timedOut := false
	select {
	case <-connectDone:
	case <-time.After(*timeout):
		timedOut = true
	}
	connectTime := time.Since(t0)

	// 3. idle
	var rssIdle int64 = -1
	threadsIdle := -1
	if !timedOut {
		time.Sleep(*settle)
		rssIdle = procStatusKB("VmRSS")
		threadsIdle = threads()
	}

	// 4. load
	var win time.Duration
	if !timedOut {
		loadStart.Store(time.Now().UnixNano())
		close(startLoad)
		time.Sleep(*window)
		stopLoad.Store(true)
		loadEnd.Store(time.Now().UnixNano())
		win = time.Duration(loadEnd.Load() - loadStart.Load())
	} else {
		stopLoad.Store(true)
		close(startLoad)
	}
	allDone := make(chan struct{})
	go func() { finished.Wait(); close(allDone) }()
	select {
	case <-allDone:
	case <-time.After(*timeout + 5*time.Second):
		timedOut = true
	}

	// 5. end, before closing anything
	threadsEnd := threads()
	rssEnd := procStatusKB("VmRSS")
	hwm := procStatusKB("VmHWM")
	close(samplerStop)
	<-samplerDone
	for _, k := range ks {
		if k.c != nil {
			k.c.Close()
		}
	}

	var lat []time.Duration
	var total int64
	var firstErr error
	for _, k := range ks {
		lat = append(lat, k.lat...)
		total += k.n
		if firstErr == nil && k.err != nil {
			firstErr = k.err
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	// lat[n/2] and lat[n*99/100], as bench/gochan_bench.c's B12 does.
	pct := func(per100 int) float64 {
		if len(lat) == 0 {
			return -1
		}
		i := len(lat) * per100 / 100
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return float64(lat[i].Nanoseconds()) / 1e3
	}
	rate := -1.0
	if win > 0 {
		rate = float64(total) / win.Seconds()
	}
	perConn := -1.0
	if rssIdle >= 0 && rss0 >= 0 {
		perConn = float64(rssIdle-rss0) * 1024 / float64(n)
	}
	maxTh := maxThreads.Load()
	if th := int64(threadsEnd); th > maxTh {
		maxTh = th
	}

	fmt.Printf("echoload impl=%s conns=%d size=%d connect_ms=%.3f rtt_per_s=%.1f rtts=%d"+
		" p50_us=%.1f p99_us=%.1f max_us=%.1f window_s=%.3f"+
		" threads0=%d threads_idle=%d threads_end=%d threads_max=%d"+
		" rss0_kb=%d rss_idle_kb=%d rss_end_kb=%d hwm_kb=%d rss_per_idle_conn_b=%.0f"+
		" errors=%d timed_out=%t\n",
		orDash(*label), n, *size, float64(connectTime.Nanoseconds())/1e6, rate, total,
		pct(50), pct(99), pct(100), win.Seconds(),
		threads0, threadsIdle, threadsEnd, maxTh,
		rss0, rssIdle, rssEnd, hwm, perConn,
		failed.Load(), timedOut)
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "echoload: first error:", firstErr)
	}
	if timedOut || failed.Load() > 0 {
		os.Exit(1)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
