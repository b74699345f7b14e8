package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"
)

// Targets from the issue: our webhook against the floor, and its memory
// over a cluster full of ServiceAccounts.
const (
	minThroughputRatio = 0.85
	maxP99Ratio        = 1.5
	maxLoadedRSS       = 60 << 20
)

// results is everything the report shows.
type results struct {
	cfg          config
	requestBytes int
	patchBytes   int
	ours, floor  tally
	// pairs is ours/floor throughput of each round, to show the spread.
	pairs  []float64
	empty  footprint
	loaded *loadedMemory // nil when skipped
}

// addRound records one round: ours, then the floor.
func (r *results) addRound(ours, floor tally) {
	r.ours.add(ours)
	r.floor.add(floor)
	r.pairs = append(r.pairs, ours.throughput()/floor.throughput())
}

// print writes the report.
func (r *results) print(out io.Writer) {
	c := r.cfg
	fmt.Fprintf(out, "\nour webhook vs floor webhook: %d rounds of %s each, concurrency %d, %d CPUs, GOMAXPROCS unset\n",
		c.rounds, c.duration, c.concurrency, runtime.NumCPU())
	fmt.Fprintf(out, "request: pod AdmissionReview v1, %d bytes; our answer: JSON patch of %d bytes\n\n", r.requestBytes, r.patchBytes)

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "server\tanswers\treq/s\tp50\tp99\tCPU/req\terrors")
	for _, s := range []struct {
		name string
		t    *tally
	}{{"ours", &r.ours}, {"floor", &r.floor}} {
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%s\t%s\t%s\t%d\n", s.name, s.t.requests, s.t.throughput(),
			ms(s.t.percentile(0.5)), ms(s.t.percentile(0.99)), us(s.t.cpuPerRequest()), s.t.errors)
	}
	fmt.Fprintln(w)
	throughput := r.ours.throughput() / r.floor.throughput()
	p99 := r.ours.percentile(0.99).Seconds() / r.floor.percentile(0.99).Seconds()
	fmt.Fprintln(w, "ours/floor\tratio\ttarget\tresult")
	fmt.Fprintf(w, "throughput\t%.3f\t>= %.2f\t%s\n", throughput, minThroughputRatio, verdict(throughput >= minThroughputRatio))
	fmt.Fprintf(w, "p99 latency\t%.3f\t<= %.2f\t%s\n", p99, maxP99Ratio, verdict(p99 <= maxP99Ratio))
	fmt.Fprintf(w, "server CPU/req\t%.3f\t\t(for reading; no target)\n", r.ours.cpuPerRequest().Seconds()/r.floor.cpuPerRequest().Seconds())
	w.Flush()
	fmt.Fprintf(out, "throughput ratio per round:")
	for _, p := range r.pairs {
		fmt.Fprintf(out, " %.2f", p)
	}
	fmt.Fprintln(out, "\nCPU/req: user+system CPU time of the server process per answer, from /proc/<pid>/stat")
	r.printMemory(out)
}

// printMemory writes the memory part of the report.
func (r *results) printMemory(out io.Writer) {
	fmt.Fprintf(out, "\nour webhook's memory, %s after ready\n", settle)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "cluster\tVmRSS\tpeak VmHWM\tGo heap in use\ttarget\tresult")
	fmt.Fprintf(w, "empty, before load\t%s\t%s\t%s\t\t\n", mib(r.empty.rss), mib(r.empty.peak), mib(int64(r.empty.heapInUse)))
	if lm := r.loaded; lm != nil {
		f := lm.footprint
		fmt.Fprintf(w, "%d ServiceAccounts\t%s\t%s\t%s\tVmRSS < %s\t%s\n", lm.serviceAccounts, mib(f.rss), mib(f.peak),
			mib(int64(f.heapInUse)), mib(maxLoadedRSS), verdict(f.rss < maxLoadedRSS))
	}
	w.Flush()
	if lm := r.loaded; lm != nil {
		fmt.Fprintf(out, "%s = %.0f (%d created, 1 in %d with a role, in %d namespaces)\n",
			cacheGauge, lm.cached, lm.serviceAccounts, boundEvery, saNamespaces)
		fmt.Fprintf(out, "creating them took %s (%.0f/s)\n", lm.createTook.Round(100*time.Millisecond),
			float64(lm.serviceAccounts)/lm.createTook.Seconds())
	} else {
		fmt.Fprintln(out, "(-skip-memory: no ServiceAccounts created)")
	}
}

// failure is the error that makes the run fail: wrong answers, not targets
// missed.
func (r *results) failure() error {
	var errs []error
	for _, t := range []*tally{&r.ours, &r.floor} {
		if t.errors > 0 {
			errs = append(errs, fmt.Errorf("%d failed requests, the first: %w", t.errors, t.firstErr))
		}
	}
	if lm := r.loaded; lm != nil && lm.cached < float64(lm.serviceAccounts) {
		errs = append(errs, fmt.Errorf("%s is %.0f, want at least %d", cacheGauge, lm.cached, lm.serviceAccounts))
	}
	return errors.Join(errs...)
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", d.Seconds()*1000) }

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", d.Seconds()*1e6) }

func mib(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }
