package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Running is a webhook served in this process, by Start.
type Running struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Start serves the webhook in this process and returns once it reports
// ready on its metrics port, or why it did not within timeout. It is for
// callers that run the webhook beside other work: the demo and tests.
func Start(ctx context.Context, opts *Options, log *slog.Logger, timeout time.Duration) (*Running, error) {
	ctx, cancel := context.WithCancel(ctx)
	r := &Running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Run(ctx, opts, log) }()

	host := opts.BindAddress
	if host == "" {
		host = "127.0.0.1"
	}
	readyz := "http://" + net.JoinHostPort(host, strconv.Itoa(opts.MetricsPort)) + "/readyz"
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-r.done:
			cancel()
			return nil, fmt.Errorf("webhook exited before it was ready: %v", err)
		default:
		}
		if resp, err := client.Get(readyz); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("webhook not ready after %s: %w", timeout, r.Stop())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the webhook down and returns what Run returned; calling it
// again returns the same.
func (r *Running) Stop() error {
	r.once.Do(func() {
		r.cancel()
		r.err = <-r.done
	})
	return r.err
}
