// Command go-hello is a small HTTP service on 127.0.0.1:$PORT:
// GET /?name=... says hello, GET /healthz says ok. Standard library only.
package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// handler answers the greeting page and the health check.
func handler(greeting string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "world"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<h1>%s, %s!</h1>\n", html.EscapeString(greeting), html.EscapeString(name))
	})
	return mux
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		log.Fatal("go-hello: set PORT to the port to listen on")
	}
	greeting := os.Getenv("GREETING")
	if greeting == "" {
		greeting = "Hello"
	}
	server := &http.Server{
		Addr:              "127.0.0.1:" + port,
		Handler:           handler(greeting),
		ReadHeaderTimeout: 10 * time.Second,
	}
	// SIGTERM (a stop or a deploy) lets requests in flight finish.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	log.Printf("go-hello: listening on %s", server.Addr)
	if err := server.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
