// Command netcancel is the Go twin of bench/net_cancel.c: how soon a Read
// blocked on Go's network poller returns once it is told to stop. Go has no
// read with a context; the way to stop a blocked Read from another goroutine
// is SetReadDeadline with a past time, so both of its rows measure that:
//
//	cancel_*    the C row is chan_fd_read_ctx + context_cancel;
//	deadline_*  the C row is chan_fd_set_read_deadline(past), as here.
//
// (C's thread_cancel_* row has no Go twin: every Read parks a goroutine.)
//
// Usage: netcancel [--trials N] [--sleep-us U]
//
// Each trial starts a reader goroutine on an empty os.Pipe (which Go's
// poller serves), waits until it has started and U microseconds more, sets
// the read deadline in the past and measures the time from that call to the
// reader's return. It prints "id<TAB>value<TAB>unit" lines: p50, p99 and max
// in microseconds. Each wait is bounded (1 s).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"
)

func run(id string, trials int, sleep time.Duration) bool {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "netcancel:", err)
		return false
	}
	defer r.Close()
	defer w.Close()
	delay := make([]time.Duration, 0, trials)
	var b [1]byte
	for i := 0; i < trials; i++ {
		r.SetReadDeadline(time.Time{})
		started := make(chan struct{})
		done := make(chan time.Time, 1)
		var rerr error
		go func() {
			close(started)
			_, rerr = r.Read(b[:])
			done <- time.Now()
		}()
		<-started
		time.Sleep(sleep) // the reader parks meanwhile
		stop := time.Now()
		r.SetReadDeadline(time.Unix(1, 0)) // long past
		select {
		case ret := <-done:
			if !errors.Is(rerr, os.ErrDeadlineExceeded) {
				fmt.Fprintln(os.Stderr, "netcancel: the read returned", rerr)
				return false
			}
			delay = append(delay, ret.Sub(stop))
		case <-time.After(time.Second):
			fmt.Fprintln(os.Stderr, "netcancel: the reader did not return within 1 s")
			return false
		}
	}
	sort.Slice(delay, func(i, j int) bool { return delay[i] < delay[j] })
	n := len(delay)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	fmt.Printf("%s_p50\t%.3f\tus\n", id, us(delay[n/2]))
	fmt.Printf("%s_p99\t%.3f\tus\n", id, us(delay[n*99/100]))
	fmt.Printf("%s_max\t%.3f\tus\n", id, us(delay[n-1]))
	return true
}

func main() {
	trials := flag.Int("trials", 1000, "trials per row")
	sleepUS := flag.Int("sleep-us", 1000, "microseconds between the reader's start and the stop")
	flag.Parse()
	if *trials < 1 || *trials > 100000 || *sleepUS < 0 || *sleepUS > 100000 {
		fmt.Fprintln(os.Stderr, "netcancel: trials 1..100000, sleep-us 0..100000")
		os.Exit(2)
	}
	sleep := time.Duration(*sleepUS) * time.Microsecond
	if !run("cancel", *trials, sleep) || !run("deadline", *trials, sleep) {
		os.Exit(1)
	}
}
