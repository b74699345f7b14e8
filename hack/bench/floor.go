package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// floorCommand is the hidden first argument that makes the benchmark binary
// serve as the floor webhook instead of running the benchmark.
const floorCommand = "floor"

// execFloor re-executes this binary as the floor on port, serving the
// given certificate, so the floor runs as a process of its own like ours.
func execFloor(dir string, env []string, port int, certFile, keyFile string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startChild("floor", dir, env, self, floorCommand,
		"-port", strconv.Itoa(port), "-tls-cert", certFile, "-tls-key", keyFile)
}

// runFloor is the floor webhook: the least a webhook can do. It reads the
// whole body and answers every request with the same allowed, unpatched
// AdmissionReview, over the TLS and HTTP settings our webhook uses.
func runFloor(args []string) error {
	fs := flag.NewFlagSet(floorCommand, flag.ContinueOnError)
	port := fs.Int("port", 0, "HTTPS port")
	certFile := fs.String("tls-cert", "", "serving certificate (PEM)")
	keyFile := fs.String("tls-key", "", "serving key (PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return err
	}
	answer, err := floorResponse()
	if err != nil {
		return err
	}
	server := &http.Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(answer)
		}),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = server.Shutdown(context.Background())
	}()
	if err := server.ListenAndServeTLS("", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
