// Command echo_server is a TCP echo server written the Go way: one goroutine
// per connection, each blocked in Read as long as its client is quiet, and a
// clean stop on SIGINT or SIGTERM (the listener and every connection are
// closed, every goroutine returns, main exits 0).
//
// Twin of echo_server.c, line for line; bench/echo.sh measures both with the
// same load generator (bench/go/echoload).
//
//	echo_server [address]      serve on address (default 127.0.0.1:0)
//	echo_server --selftest N   serve on 127.0.0.1:0, dial it N times from
//	                           goroutines of this process, check every echo,
//	                           then stop as on SIGTERM; exit 0 if all matched
//
// The first line on standard output is "listening on ADDR".
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The server: its listener and the connections being served, so that a
// signal can close them all.
type server struct {
	ln      net.Listener
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	wg      sync.WaitGroup // the connection goroutines
}

// echo copies what the client sends back to it until end of file (or an
// error: the server closed the connection at shutdown, the client reset it).
// A plain Read/Write loop, not io.Copy (which would splice(2) on Linux), so
// that it does what echo_server.c does.
func echo(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF: the client is done
		}
	}
}

// handle serves one connection on its own goroutine.
func (s *server) handle(c net.Conn) {
	defer s.wg.Done()
	echo(c)
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// serve accepts until the listener is closed.
func (s *server) serve() error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil // shutdown closed it
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
				errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) ||
				errors.Is(err, syscall.ENOMEM) {
				time.Sleep(5 * time.Millisecond) // out of descriptors: wait, retry
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closing { // accepted just as shutdown began
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(c)
	}
}

// shutdown waits for ctx to be done (a signal, or stop), then closes the
// listener and every connection: Accept and every blocked Read return.
func (s *server) shutdown(ctx context.Context, done chan<- struct{}) {
	<-ctx.Done()
	s.mu.Lock()
	s.closing = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	close(done)
}

// ---- the self-test: clients on goroutines of this process -----------------

// pattern fills a message that differs by client, message and byte.
func pattern(b []byte, client, msg int) {
	for j := range b {
		b[j] = byte(client*31 + msg*7 + j)
	}
}

var sizes = []int{1, 64, 1000, 16384, 5}

// client dials addr, sends each message of sizes, checks its echo, then
// half-closes and expects end of file from the server.
func client(ctx context.Context, addr string, id int) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl) // Go's way to bound Read and Write by ctx
	}
	for m, n := range sizes {
		out, in := make([]byte, n), make([]byte, n)
		pattern(out, id, m)
		if _, err := c.Write(out); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, in); err != nil {
			return err
		}
		if string(in) != string(out) {
			return fmt.Errorf("message %d: echo differs", m)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	var b [1]byte
	if n, err := c.Read(b[:]); n != 0 || err != io.EOF {
		return fmt.Errorf("after CloseWrite: read %d, %v; want end of file", n, err)
	}
	return nil
}

// idleClient echoes once, says so on ready, then stays quiet until the
// server's shutdown closes the connection (end of file).
func idleClient(ctx context.Context, addr string, ready chan<- struct{}) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		close(ready)
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	var b [3]byte
	c.Write([]byte("hi\n"))
	_, err = io.ReadFull(c, b[:])
	close(ready)
	if err != nil {
		return err
	}
	if n, err := c.Read(b[:]); n != 0 || err != io.EOF {
		return fmt.Errorf("idle client: read %d, %v; want end of file at shutdown", n, err)
	}
	return nil
}

// selfTest runs n clients and the idle one against addr, then stops the
// server as Ctrl-C would, and reports whether everything matched.
func selfTest(addr string, n int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var failed atomic.Int32
	var wg sync.WaitGroup
	ready := make(chan struct{})
	idle := make(chan error, 1)
	go func() { idle <- idleClient(ctx, addr, ready) }()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := client(ctx, addr, i); err != nil {
				fmt.Fprintf(os.Stderr, "client %d: %v\n", i, err)
				failed.Add(1)
			}
		}(i)
	}
	wg.Wait()
	<-ready
	syscall.Kill(os.Getpid(), syscall.SIGTERM) // stop as on a signal
	if err := <-idle; err != nil {
		fmt.Fprintln(os.Stderr, err)
		failed.Add(1)
	}
	fmt.Printf("selftest: %d clients, %d failed\n", n, failed.Load())
	return failed.Load() == 0
}

func main() {
	addr, selftest := "127.0.0.1:0", 0
	args := os.Args[1:]
	if len(args) == 2 && args[0] == "--selftest" {
		selftest, _ = strconv.Atoi(args[1])
		if selftest < 1 {
			fmt.Fprintln(os.Stderr, "usage: echo_server [address] | --selftest N")
			os.Exit(2)
		}
	} else if len(args) == 1 {
		addr = args[0]
	} else if len(args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: echo_server [address] | --selftest N")
		os.Exit(2)
	}

	// ctx is done on the first SIGINT or SIGTERM (or stop).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo_server:", err)
		os.Exit(1)
	}
	fmt.Println("listening on", ln.Addr())

	s := &server{ln: ln, conns: make(map[net.Conn]struct{})}
	closed := make(chan struct{})
	go s.shutdown(ctx, closed)

	result := make(chan bool, 1)
	if selftest > 0 {
		go func() { result <- selfTest(ln.Addr().String(), selftest) }()
	} else {
		result <- true
	}

	err = s.serve()
	stop() // an accept error also ends the server
	<-closed
	s.wg.Wait()
	ok := <-result
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo_server: accept:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}
