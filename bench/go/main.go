// Command gochanbench is the Go half of gochan's side-by-side benchmark: the
// twin of bench/gochan_bench.c, workload for workload, with the same counts,
// the same goroutine structure (one goroutine per C thread or goroutine, and
// for g1-g4 and gscale_* the same method step for step) and int64 values.
//
// Usage: gochanbench [--quick] WORKLOAD
//
// It prints one line per measurement, "id<TAB>value<TAB>unit", exactly as the
// C program does; bench/run.sh runs both alternately and tabulates medians.
// Run it with GOMAXPROCS equal to the cores the C side uses.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var quick bool

// scaled divides a count by 10 in --quick mode, as the C side does.
func scaled(n int64) int64 {
	if quick {
		return n / 10
	}
	return n
}

func emit(id string, value float64, unit string) {
	fmt.Printf("%s\t%.3f\t%s\n", id, value, unit)
}

func check(ok bool, what string) {
	if !ok {
		fmt.Fprintf(os.Stderr, "gochanbench: check failed: %s\n", what)
		os.Exit(1)
	}
}

func perOp(d time.Duration, n int64) float64 { return float64(d.Nanoseconds()) / float64(n) }
func millis(d time.Duration) float64         { return float64(d.Nanoseconds()) / 1e6 }

// ---- B1: buffered channel, cap 128, one producer and one consumer ----------

func produce(c chan int64, n int64, closeWhenDone bool) {
	for i := int64(0); i < n; i++ {
		c <- i
	}
	if closeWhenDone {
		close(c)
	}
}

func b1Once(n int64) float64 {
	c := make(chan int64, 128)
	var wg sync.WaitGroup
	start := time.Now()
	sum := int64(0)
	wg.Add(1)
	go func() { defer wg.Done(); produce(c, n, true) }()
	for v := range c {
		sum += v
	}
	wg.Wait()
	elapsed := time.Since(start)
	check(sum == n*(n-1)/2, "b1 sum")
	return perOp(elapsed, n)
}

func b1() {
	n := scaled(2000000)
	b1Once(n / 20)
	emit("b1", b1Once(n), "ns/msg")
}

// ---- B2: unbuffered ping-pong between two goroutines -----------------------

func b2Once(rounds int64) float64 {
	ping, pong := make(chan int64), make(chan int64)
	var wg sync.WaitGroup
	start := time.Now()
	sum := int64(0)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := range ping {
			pong <- v
		}
	}()
	for i := int64(0); i < rounds; i++ {
		ping <- i
		sum += <-pong
	}
	close(ping)
	wg.Wait()
	elapsed := time.Since(start)
	check(sum == rounds*(rounds-1)/2, "b2 sum")
	return perOp(elapsed, rounds)
}

func b2() {
	rounds := scaled(200000)
	b2Once(rounds / 20)
	emit("b2", b2Once(rounds), "ns/rtt")
}

// ---- B3: 4 producers and 4 consumers on one channel of cap 1024 ------------

type consumerSum struct {
	sum int64
	_   [64]byte // consumers' sums on their own cache lines
}

func b3Once(n int64) float64 {
	const P, C = 4, 4
	c := make(chan int64, 1024)
	var producers, consumers sync.WaitGroup
	var sums [C]consumerSum
	start := time.Now()
	for i := 0; i < C; i++ {
		consumers.Add(1)
		go func(s *consumerSum) {
			defer consumers.Done()
			sum := int64(0)
			for v := range c {
				sum += v
			}
			s.sum = sum
		}(&sums[i])
	}
	for i := 0; i < P; i++ {
		producers.Add(1)
		go func() { defer producers.Done(); produce(c, n/P, false) }()
	}
	producers.Wait()
	close(c)
	consumers.Wait()
	elapsed := time.Since(start)
	sum := int64(0)
	for i := range sums {
		sum += sums[i].sum
	}
	check(sum == P*((n/P)*(n/P-1)/2), "b3 sum")
	return perOp(elapsed, n)
}

func b3() {
	n := scaled(2000000)
	b3Once(n / 20)
	emit("b3", b3Once(n), "ns/msg")
}

// ---- B4: one consumer selecting over 4 producers' channels of cap 128 ------

func b4Once(n int64) float64 {
	const P = 4
	var wg sync.WaitGroup
	var cs [P]chan int64
	start := time.Now()
	sum := int64(0)
	for i := range cs {
		cs[i] = make(chan int64, 128)
		wg.Add(1)
		go func(c chan int64) { defer wg.Done(); produce(c, n/P, true) }(cs[i])
	}
	c0, c1, c2, c3 := cs[0], cs[1], cs[2], cs[3]
	for open := P; open > 0; {
		select {
		case v, ok := <-c0:
			if !ok {
				c0 = nil
				open--
				continue
			}
			sum += v
		case v, ok := <-c1:
			if !ok {
				c1 = nil
				open--
				continue
			}
			sum += v
		case v, ok := <-c2:
			if !ok {
				c2 = nil
				open--
				continue
			}
			sum += v
		case v, ok := <-c3:
			if !ok {
				c3 = nil
				open--
				continue
			}
			sum += v
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	check(sum == P*((n/P)*(n/P-1)/2), "b4 sum")
	return perOp(elapsed, n)
}

func b4() {
	n := scaled(2000000)
	b4Once(n / 20)
	emit("b4", b4Once(n), "ns/msg")
}

// ---- G1 - G4: B1 - B4 with every worker a goroutine -------------------------

// inGoroutine runs body(n) inside one goroutine and waits for its result on a
// channel, as the C side does (there main is a plain thread that only waits;
// here main only waits too).
func inGoroutine(body func(int64) float64, n int64) float64 {
	result := make(chan float64)
	go func() { result <- body(n) }()
	return <-result
}

func gRow(id string, body func(int64) float64, n int64, unit string) {
	inGoroutine(body, n/20)
	emit(id, inGoroutine(body, n), unit)
}

func g1() { gRow("g1", b1Once, scaled(2000000), "ns/msg") }
func g2() { gRow("g2", b2Once, scaled(200000), "ns/rtt") }
func g3() { gRow("g3", b3Once, scaled(2000000), "ns/msg") }
func g4() { gRow("g4", b4Once, scaled(2000000), "ns/msg") }

// ---- B5, B6, B7: single-goroutine costs -------------------------------------

func b5Once(n int64) float64 {
	c := make(chan int64)
	start := time.Now()
	for i := int64(0); i < n; i++ {
		select {
		case <-c:
			check(false, "b5 try_recv")
		default:
		}
	}
	return perOp(time.Since(start), n)
}

func b5() {
	n := scaled(2000000)
	b5Once(n / 20)
	emit("b5", b5Once(n), "ns/op")
}

func b6Once(n int64) float64 {
	c := make(chan int64, 1)
	sum := int64(0)
	start := time.Now()
	for i := int64(0); i < n; i++ {
		c <- i
		sum += <-c
	}
	elapsed := time.Since(start)
	check(sum == n*(n-1)/2, "b6 sum")
	return perOp(elapsed, n)
}

func b6() {
	n := scaled(2000000)
	b6Once(n / 20)
	emit("b6", b6Once(n), "ns/pair")
}

var sinkChan chan int64

func b7Once(n int64) float64 {
	start := time.Now()
	for i := int64(0); i < n; i++ {
		sinkChan = make(chan int64)
	}
	return perOp(time.Since(start), n)
}

func b7() {
	n := scaled(2000000)
	b7Once(n / 20)
	emit("b7", b7Once(n), "ns")
}

// ---- B8 - B11: contexts ----------------------------------------------------

func b8Once(n int64) float64 {
	bg := context.Background()
	start := time.Now()
	for i := int64(0); i < n; i++ {
		_, cancel := context.WithCancel(bg)
		cancel()
	}
	return perOp(time.Since(start), n)
}

func b8() {
	n := scaled(2000000)
	b8Once(n / 20)
	emit("b8", b8Once(n), "ns")
}

func b9() {
	n := scaled(100000)
	parent, parentCancel := context.WithCancel(context.Background())
	cancels := make([]context.CancelFunc, n)
	dones := make([]<-chan struct{}, n)
	for i := range cancels {
		var kid context.Context
		kid, cancels[i] = context.WithCancel(parent)
		dones[i] = kid.Done() // made before the cancel, as on the C side
	}
	start := time.Now()
	parentCancel()
	for _, d := range dones {
		_, ok := <-d
		check(!ok, "b9 done closed")
	}
	elapsed := time.Since(start)
	for _, cancel := range cancels {
		cancel()
	}
	emit("b9", millis(elapsed), "ms")
}

func b10Once(n int64) float64 {
	bg := context.Background()
	start := time.Now()
	for i := int64(0); i < n; i++ {
		_, cancel := context.WithTimeout(bg, time.Hour)
		cancel()
	}
	return perOp(time.Since(start), n)
}

func b10() {
	n := scaled(2000000)
	b10Once(n / 20)
	emit("b10", b10Once(n), "ns")
}

func b11() {
	const depth = 100
	var keys [depth]int
	ctx := context.Background()
	for i := 0; i < depth; i++ {
		ctx = context.WithValue(ctx, &keys[i], &keys[i])
	}
	n := scaled(2000000)
	hits := int64(0)
	want := &keys[0]
	for i := int64(0); i < n/20; i++ {
		if ctx.Value(want) == want {
			hits++
		}
	}
	start := time.Now()
	for i := int64(0); i < n; i++ {
		if ctx.Value(want) == want {
			hits++
		}
	}
	elapsed := time.Since(start)
	check(hits == n+n/20, "b11 lookups")
	emit("b11", perOp(elapsed, n), "ns")
}

// ---- B12: lateness of a 1 ms timer in a select ------------------------------

func b12() {
	n := 1000
	if quick {
		n = 100
	}
	late := make([]time.Duration, n)
	never := make(chan int64) // the select's other case, never ready
	for i := range late {
		start := time.Now()
		t := time.NewTimer(time.Millisecond)
		select {
		case <-t.C:
		case <-never:
			check(false, "b12 select")
		}
		late[i] = time.Since(start) - time.Millisecond
		t.Stop()
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	emit("b12_p50", float64(late[n/2].Nanoseconds())/1e3, "us")
	emit("b12_p99", float64(late[n*99/100].Nanoseconds())/1e3, "us")
}

// ---- memory: bytes per object, from the heap's own accounting --------------

const memObjects = 10000

// heapInUse is HeapAlloc after a full collection: live heap bytes.
func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func memReport(id string, before, after int64) {
	emit(id, float64(after-before)/memObjects, "B")
}

func memChan() {
	cs := make([]chan int64, memObjects)
	before := heapInUse()
	for i := range cs {
		cs[i] = make(chan int64)
	}
	after := heapInUse()
	runtime.KeepAlive(cs)
	memReport("mem_chan", before, after)
}

func memContext(id string, timeout bool) {
	ctxs := make([]context.Context, memObjects)
	cancels := make([]context.CancelFunc, memObjects)
	bg := context.Background()
	_, cancel := context.WithTimeout(bg, time.Hour) // warm up, as the C side
	cancel()
	before := heapInUse()
	for i := range ctxs {
		if timeout {
			ctxs[i], cancels[i] = context.WithTimeout(bg, time.Hour)
		} else {
			ctxs[i], cancels[i] = context.WithCancel(bg)
		}
	}
	after := heapInUse()
	for _, cancel := range cancels {
		cancel()
	}
	runtime.KeepAlive(ctxs)
	memReport(id, before, after)
}

func memTimer() {
	ts := make([]*time.Timer, memObjects)
	time.NewTimer(time.Hour).Stop()
	before := heapInUse()
	for i := range ts {
		ts[i] = time.NewTimer(time.Hour)
	}
	after := heapInUse()
	for _, t := range ts {
		t.Stop()
	}
	memReport("mem_timer", before, after)
}

// ---- scale: 10,000 goroutines -----------------------------------------------

func scaleGoroutines() int64 {
	if quick {
		return 1000
	}
	return 10000
}

// otherRunningThreads counts this process's threads other than the caller's
// that are running or runnable (state R in /proc/self/task/TID/stat).
func otherRunningThreads() int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self := strconv.Itoa(syscall.Gettid())
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	running := 0
	for _, t := range tasks {
		if t.Name() == self {
			continue
		}
		stat, err := os.ReadFile("/proc/self/task/" + t.Name() + "/stat")
		if err != nil {
			continue // the thread exited
		}
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'R' {
			running++
		}
	}
	return running
}

// waitReady waits until ready reaches n, then until every other thread is
// asleep, exactly as the C side does.
func waitReady(ready *int64, n int64) {
	for atomic.LoadInt64(ready) < n {
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 1000 && otherRunningThreads() > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
}

func scaleClose() {
	n := scaleGoroutines()
	c := make(chan int64)
	var wg sync.WaitGroup
	var ready int64
	wg.Add(int(n))
	for i := int64(0); i < n; i++ {
		go func() {
			atomic.AddInt64(&ready, 1)
			_, ok := <-c
			check(!ok, "scale_close recv")
			wg.Done()
		}()
	}
	waitReady(&ready, n)
	start := time.Now()
	close(c)
	wg.Wait()
	emit("scale_close", millis(time.Since(start)), "ms")
}

// whisper is the daisy chain's link: left <- 1 + <-right.
func whisper(left, right chan int64, ready *int64) {
	atomic.AddInt64(ready, 1)
	left <- 1 + <-right
}

func daisy(n int64, waitFirst bool) float64 {
	cs := make([]chan int64, n+1)
	for i := range cs {
		cs[i] = make(chan int64)
	}
	var ready int64
	start := time.Now()
	for i := int64(0); i < n; i++ {
		go whisper(cs[i], cs[i+1], &ready)
	}
	if waitFirst {
		waitReady(&ready, n)
		start = time.Now()
	}
	cs[n] <- 1
	v := <-cs[0]
	elapsed := time.Since(start)
	check(v == n+1, "daisy value")
	return millis(elapsed)
}

func scaleDaisy() {
	emit("scale_daisy", daisy(scaleGoroutines(), false), "ms")
	emit("scale_daisy_pass", daisy(scaleGoroutines(), true), "ms")
}

// ---- gscale: 10k, 100k and 1M blocked goroutines ----------------------------

// The same method as gochan_bench.c's, step for step: warm up with one
// goroutine; start n goroutines that bump a counter and block on one channel,
// the one whose bump reaches n recording the time since the first start;
// poll for that time, then settle (waitReady); close and wait on a
// WaitGroup; VmRSS from /proc/self/status before the start and after the
// settle (not runtime.MemStats, so that both sides count what the kernel
// counts); every gscaleCheckEvery starts, stop short when /proc/meminfo's
// MemAvailable is below gscaleReserve and print n/a with the reason.
const (
	gscaleCheckEvery = 4096
	gscaleReserve    = int64(1) << 30
)

// procKB is the value of "Key:   N kB" in a /proc file, in bytes; -1 if absent.
func procKB(path, key string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, key+":") {
			f := strings.Fields(line[len(key)+1:])
			if len(f) == 0 {
				return -1
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return -1
			}
			return kb * 1024
		}
	}
	return -1
}

func vmRSS() int64 { return procKB("/proc/self/status", "VmRSS") }

func memoryLow() bool {
	avail := procKB("/proc/meminfo", "MemAvailable")
	return avail >= 0 && avail < gscaleReserve
}

func emitNA(id, unit, why string) {
	fmt.Printf("%s\tn/a\t%s\t%s\n", id, unit, why)
}

// warmUp starts one goroutine and waits for it, as the C side does.
func warmUp() {
	c := make(chan int64)
	go func() { c <- 1 }()
	check(<-c == 1, "warm-up recv")
}

type gscaleState struct {
	c          chan int64
	wg         sync.WaitGroup
	n          int64
	t0         time.Time
	ready      int64
	allReadyNs int64 // since t0, by the n-th to be ready
}

func (s *gscaleState) block() {
	if atomic.AddInt64(&s.ready, 1) == s.n {
		t := int64(time.Since(s.t0))
		if t <= 0 {
			t = 1
		}
		atomic.StoreInt64(&s.allReadyNs, t)
	}
	_, ok := <-s.c
	check(!ok, "gscale recv")
	s.wg.Done()
}

// start starts s.n goroutines blocked on s.c and waits until all are parked;
// "" when all started, otherwise why not (once those that did are parked).
func (s *gscaleState) start() string {
	n, started := s.n, int64(0)
	s.wg.Add(int(n))
	s.t0 = time.Now()
	why := ""
	for ; started < n; started++ {
		if started%gscaleCheckEvery == 0 && memoryLow() {
			why = fmt.Sprintf("stopped after %d goroutines: MemAvailable below %d MiB",
				started, gscaleReserve>>20)
			break
		}
		go s.block()
	}
	if started < n {
		s.wg.Add(int(started - n))
		waitReady(&s.ready, started)
		return why
	}
	for atomic.LoadInt64(&s.allReadyNs) == 0 {
		time.Sleep(time.Millisecond)
	}
	waitReady(&s.ready, n)
	return ""
}

func (s *gscaleState) close() float64 {
	start := time.Now()
	close(s.c)
	s.wg.Wait()
	return millis(time.Since(start))
}

func gscale(n int64, startID, closeID, memID string) {
	warmUp()
	s := &gscaleState{c: make(chan int64), n: n}
	rssBefore := vmRSS()
	why := s.start()
	rssAfter := vmRSS()
	if why == "" {
		emit(startID, float64(atomic.LoadInt64(&s.allReadyNs))/1e6, "ms")
		if memID != "" && rssBefore >= 0 && rssAfter >= 0 {
			emit(memID, float64(rssAfter-rssBefore)/float64(n), "B")
		} else if memID != "" {
			emitNA(memID, "B", "no VmRSS in /proc/self/status")
		}
	} else {
		emitNA(startID, "ms", why)
		if memID != "" {
			emitNA(memID, "B", why)
		}
	}
	if closeID == "" {
		return // the process exits with them blocked
	}
	closed := s.close()
	if why == "" {
		emit(closeID, closed, "ms")
	} else {
		emitNA(closeID, "ms", why)
	}
}

func gscale10k() {
	gscale(scaled(10000), "gscale_start_10k", "gscale_close_10k", "")
}

func gscale100k() {
	gscale(scaled(100000), "gscale_start_100k", "gscale_close_100k", "mem_goroutine")
}

func gscale1m() {
	gscale(scaled(1000000), "gscale_start_1m", "gscale_close_1m", "")
}

func gscaleDaisy() {
	warmUp()
	emit("gscale_daisy", daisy(scaled(10000), false), "ms")
}

// ---- S1 - S4: sync, every row inside a goroutine ---------------------------

const sWorkers = 4 // goroutines of the contended rows, as the C twin

func s1Once(n int64) float64 {
	var m sync.Mutex
	start := time.Now()
	for i := int64(0); i < n; i++ {
		m.Lock()
		m.Unlock()
	}
	return perOp(time.Since(start), n)
}

type sShared struct {
	m         sync.Mutex
	rw        sync.RWMutex
	counter   int64
	perWorker int64
	sink      atomic.Int64
}

func s2Worker(s *sShared) {
	for i := int64(0); i < s.perWorker; i++ {
		s.m.Lock()
		s.counter++
		s.m.Unlock()
	}
}

func s3Worker(s *sShared) {
	seen := int64(0)
	for i := int64(0); i < s.perWorker; i++ {
		if i%100 == 0 {
			s.rw.Lock()
			s.counter++
			s.rw.Unlock()
		} else {
			s.rw.RLock()
			seen += s.counter
			s.rw.RUnlock()
		}
	}
	s.sink.Add(seen)
}

func sContended(n int64, worker func(*sShared), writesPerWorker func(int64) int64) float64 {
	s := &sShared{perWorker: n / sWorkers}
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < sWorkers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); worker(s) }()
	}
	wg.Wait()
	elapsed := time.Since(start)
	check(s.counter == sWorkers*writesPerWorker(s.perWorker), "s counter")
	return perOp(elapsed, sWorkers*s.perWorker)
}

func s2Once(n int64) float64 {
	return sContended(n, s2Worker, func(k int64) int64 { return k })
}

func s3Once(n int64) float64 {
	return sContended(n, s3Worker, func(k int64) int64 { return (k + 99) / 100 })
}

func s4Once(n int64) float64 {
	var once sync.Once
	nothing := func() {}
	once.Do(nothing)
	start := time.Now()
	for i := int64(0); i < n; i++ {
		once.Do(nothing)
	}
	return perOp(time.Since(start), n)
}

func s1() { gRow("s1", s1Once, scaled(20000000), "ns/op") }
func s2() { gRow("s2", s2Once, scaled(4000000), "ns/op") }
func s3() { gRow("s3", s3Once, scaled(8000000), "ns/op") }
func s4() { gRow("s4", s4Once, scaled(50000000), "ns/op") }

// ---- main -------------------------------------------------------------------

var workloads = []struct {
	name string
	run  func()
}{
	{"b1", b1},
	{"b2", b2},
	{"b3", b3},
	{"b4", b4},
	{"g1", g1},
	{"g2", g2},
	{"g3", g3},
	{"g4", g4},
	{"b5", b5},
	{"b6", b6},
	{"b7", b7},
	{"b8", b8},
	{"b9", b9},
	{"b10", b10},
	{"b11", b11},
	{"b12", b12},
	{"mem_chan", memChan},
	{"mem_cancel", func() { memContext("mem_cancel", false) }},
	{"mem_timeout", func() { memContext("mem_timeout", true) }},
	{"mem_timer", memTimer},
	{"scale_close", scaleClose},
	{"scale_daisy", scaleDaisy},
	{"gscale_10k", gscale10k},
	{"gscale_100k", gscale100k},
	{"gscale_daisy", gscaleDaisy},
	{"gscale_1m", gscale1m},
	{"s1", s1},
	{"s2", s2},
	{"s3", s3},
	{"s4", s4},
}

func main() {
	name := ""
	for _, arg := range os.Args[1:] {
		if arg == "--quick" {
			quick = true
		} else {
			name = arg
		}
	}
	for _, w := range workloads {
		if w.name == name {
			w.run()
			return
		}
	}
	fmt.Fprint(os.Stderr, "usage: gochanbench [--quick] WORKLOAD\nworkloads:")
	for _, w := range workloads {
		fmt.Fprint(os.Stderr, " ", w.name)
	}
	fmt.Fprintln(os.Stderr)
	os.Exit(2)
}
