// Chat is a server that lets clients chat with each other: the chat server
// of "The Go Programming Language" (Donovan and Kernighan), section 8.10
// (gopl.io/ch8/chat), with a clean shutdown on SIGINT or SIGTERM.
//
// Twin of chat.c's server (`chat --serve [ADDR]`): go run chat.go [ADDR].
// `chat --check /tmp/chatgo 127.0.0.1:0` runs chat.c's scripted clients
// against it (after go build -o /tmp/chatgo chat.go).
package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

type client chan<- string // an outgoing message channel

var (
	entering = make(chan client)
	leaving  = make(chan client)
	messages = make(chan string) // all incoming client messages
)

// Not in the book: done on SIGINT or SIGTERM.
var shutdown context.Context

// Not in the book: every handleConn and clientWriter, and the goroutine
// that closes the listener; main waits for them before it returns.
var conns, broadcasting sync.WaitGroup

func main() {
	address := "localhost:8000"
	if len(os.Args) > 1 {
		address = os.Args[1]
	}
	ctx, stop := signal.NotifyContext(context.Background(),
		os.Interrupt, syscall.SIGTERM)
	defer stop()
	shutdown = ctx

	listener, err := net.Listen("tcp", address)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("chat: listening on", listener.Addr())

	broadcasting.Add(1)
	go broadcaster()
	conns.Add(1)
	go func() { // not in the book
		defer conns.Done()
		<-shutdown.Done()
		listener.Close() // Accept fails: main's loop ends
	}()
	for {
		conn, err := listener.Accept()
		if err != nil {
			if shutdown.Err() != nil {
				break // not in the book: the listener was closed
			}
			log.Print(err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		conns.Add(1)
		go handleConn(conn)
	}

	// Not in the book: every client has left and its connection is closed;
	// then close messages, the broadcaster's cue to return.
	conns.Wait()
	close(messages)
	broadcasting.Wait()
}

func broadcaster() {
	defer broadcasting.Done()
	clients := make(map[client]bool) // all connected clients
	for {
		select {
		case msg, ok := <-messages:
			if !ok {
				return // not in the book: main closed messages
			}
			// Broadcast incoming message to all
			// clients' outgoing message channels.
			for cli := range clients {
				cli <- msg
			}
		case cli := <-entering:
			clients[cli] = true
		case cli := <-leaving:
			delete(clients, cli)
			close(cli)
		}
	}
}

func handleConn(conn net.Conn) {
	defer conns.Done()
	ch := make(chan string) // outgoing client messages
	conns.Add(1)
	go clientWriter(conn, ch)

	// Not in the book: closing conn at shutdown ends input.Scan and any
	// write (chat.c reads and writes with the context instead).
	left := make(chan struct{})
	defer close(left)
	go func() {
		select {
		case <-shutdown.Done():
			conn.Close()
		case <-left:
		}
	}()

	who := conn.RemoteAddr().String()
	ch <- "You are " + who
	messages <- who + " has arrived"
	entering <- ch

	input := bufio.NewScanner(conn)
	for input.Scan() {
		messages <- who + ": " + input.Text()
	}
	// NOTE: ignoring potential errors from input.Err()

	leaving <- ch
	messages <- who + " has left"
	conn.Close()
}

func clientWriter(conn net.Conn, ch <-chan string) {
	defer conns.Done()
	for msg := range ch {
		fmt.Fprintln(conn, msg) // NOTE: ignoring network errors
	}
}
