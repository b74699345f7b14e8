package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// loader sends the same admission request to one server at a time from a
// fixed number of workers, each waiting for its answer before the next.
type loader struct {
	client      *http.Client
	body        []byte
	concurrency int
}

// target is a server to load and the length of its one correct answer:
// both servers answer the same request identically every time.
type target struct {
	name    string
	url     string
	wantLen int
	server  *child
}

// tally is what runs against one server recorded.
type tally struct {
	requests  int // answered correctly
	errors    int
	firstErr  error
	elapsed   time.Duration
	latencies []time.Duration // of the correct answers
	// cpu is what the server process spent, user and system.
	cpu time.Duration
}

// add merges o into t; elapsed adds up, so rounds measured one after the
// other give the throughput over all of them.
func (t *tally) add(o tally) {
	t.requests += o.requests
	t.errors += o.errors
	if t.firstErr == nil {
		t.firstErr = o.firstErr
	}
	t.elapsed += o.elapsed
	t.cpu += o.cpu
	t.latencies = append(t.latencies, o.latencies...)
}

// throughput is correct answers per second.
func (t *tally) throughput() float64 { return float64(t.requests) / t.elapsed.Seconds() }

// cpuPerRequest is the server's CPU time per correct answer.
func (t *tally) cpuPerRequest() time.Duration { return t.cpu / time.Duration(max(t.requests, 1)) }

// percentile returns the latency under which a fraction q of the answers
// came (nearest rank). It sorts the latencies.
func (t *tally) percentile(q float64) time.Duration {
	if len(t.latencies) == 0 {
		return 0
	}
	slices.Sort(t.latencies)
	rank := int(q*float64(len(t.latencies))+0.5) - 1
	return t.latencies[min(max(rank, 0), len(t.latencies)-1)]
}

// run loads tg for d and returns what it saw, with the CPU time the server
// spent meanwhile. Requests in flight at the deadline finish and count;
// elapsed runs until the last one has.
func (l *loader) run(ctx context.Context, tg target, d time.Duration) (tally, error) {
	cpuBefore, err := tg.server.cpuTime()
	if err != nil {
		return tally{}, err
	}
	start := time.Now()
	deadline := start.Add(d)
	workers := make([]tally, l.concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { workers[i] = l.worker(ctx, tg, deadline) })
	}
	wg.Wait()
	total := tally{}
	for _, w := range workers {
		total.add(w)
	}
	total.elapsed = time.Since(start)
	cpuAfter, err := tg.server.cpuTime()
	total.cpu = cpuAfter - cpuBefore
	return total, err
}

// worker sends requests one after the other until the deadline.
func (l *loader) worker(ctx context.Context, tg target, deadline time.Time) tally {
	t := tally{latencies: make([]time.Duration, 0, 4096)}
	for ctx.Err() == nil && time.Now().Before(deadline) {
		start := time.Now()
		if err := l.post(ctx, tg); err != nil {
			t.errors++
			if t.firstErr == nil {
				t.firstErr = err
			}
			continue
		}
		t.latencies = append(t.latencies, time.Since(start))
		t.requests++
	}
	return t
}

// post sends one request and checks the answer is the expected one by its
// status and length; decoding it would cost the client more than the floor.
func (l *loader) post(ctx context.Context, tg target) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tg.url, bytes.NewReader(l.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return fmt.Errorf("%s: read answer: %w", tg.name, err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s: %s", tg.name, resp.Status)
	case int(n) != tg.wantLen:
		return fmt.Errorf("%s: answer of %d bytes, want %d", tg.name, n, tg.wantLen)
	}
	return nil
}
