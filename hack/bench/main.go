// Command bench compares our webhook with a floor webhook that does the
// least a webhook can, side by side in one run on a local cluster, and
// reports the ratios: on a shared machine absolute numbers drift, ratios
// of interleaved rounds much less. `make bench` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/irsa-dev/irsa/internal/localcluster"
)

// config is the benchmark's command line.
type config struct {
	irsa            string
	concurrency     int
	warmup          time.Duration
	duration        time.Duration
	rounds          int
	serviceAccounts int
	skipMemory      bool
	cpuProfile      string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == floorCommand {
		if err := runFloor(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout)
	if ctx.Err() != nil {
		err = errors.New("interrupted; everything started is stopped")
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line and checks it.
func parseFlags(args []string) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&cfg.irsa, "irsa", "bin/irsa", "our webhook binary, built by make build")
	fs.IntVar(&cfg.concurrency, "concurrency", 8, "requests in flight, each on its own keep-alive connection")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "load on each server before measuring")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "measured load per server per round")
	fs.IntVar(&cfg.rounds, "rounds", 6, "rounds, alternately ours then floor and floor then ours, to cancel drift")
	fs.IntVar(&cfg.serviceAccounts, "service-accounts", 100000, "ServiceAccounts in the cluster for the memory figure")
	fs.BoolVar(&cfg.skipMemory, "skip-memory", false, "skip the memory figure")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write our webhook's CPU profile during the first round to this file")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if cfg.concurrency < 1 {
		errs = append(errs, errors.New("-concurrency: must be at least 1"))
	}
	if cfg.warmup < 0 {
		errs = append(errs, errors.New("-warmup: must not be negative"))
	}
	if cfg.duration <= 0 {
		errs = append(errs, errors.New("-duration: must be positive"))
	}
	if cfg.cpuProfile != "" && cfg.duration < 2*time.Second {
		errs = append(errs, errors.New("-cpuprofile: needs a -duration of at least 2s (it profiles for a second less)"))
	}
	if cfg.rounds < 1 {
		errs = append(errs, errors.New("-rounds: must be at least 1"))
	}
	if cfg.serviceAccounts < 1 && !cfg.skipMemory {
		errs = append(errs, errors.New("-service-accounts: must be at least 1"))
	}
	if _, err := os.Stat(cfg.irsa); err != nil {
		errs = append(errs, fmt.Errorf("-irsa: %w (run `make build`)", err))
	}
	// Absolute, so it does not matter where the servers start.
	abs, err := filepath.Abs(cfg.irsa)
	if err != nil {
		errs = append(errs, fmt.Errorf("-irsa: %w", err))
	}
	cfg.irsa = abs
	return cfg, errors.Join(errs...)
}

// run starts a local cluster, compares the servers on it, measures memory
// and writes the report to out. Everything it started is stopped when it
// returns, also on error or interrupt.
func run(ctx context.Context, cfg config, out io.Writer) error {
	body, err := reviewRequest()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "irsa-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	progress("starting a local cluster")
	cluster, err := localcluster.Start(dir, localcluster.Options{})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := createNamespace(ctx, cluster.Client, benchNamespace); err != nil {
		return err
	}
	if err := ensureServiceAccount(ctx, cluster.Client, benchNamespace, benchServiceAccount, benchRoleARN); err != nil {
		return err
	}

	s, err := newServers(cfg, dir, cluster.Kubeconfig, body)
	if err != nil {
		return err
	}
	res := &results{cfg: cfg, requestBytes: len(body)}
	if err := compare(ctx, cfg, s, res); err != nil {
		return err
	}
	if !cfg.skipMemory {
		progress("creating %d ServiceAccounts", cfg.serviceAccounts)
		if res.loaded, err = measureLoaded(ctx, cluster.Config, s, cfg.serviceAccounts); err != nil {
			return err
		}
	}
	res.print(out)
	return res.failure()
}

// compare starts both servers, checks their answers, reads our empty-cluster
// memory, warms both up and loads them in alternating rounds.
func compare(ctx context.Context, cfg config, s *servers, res *results) error {
	progress("starting our webhook and the floor")
	ours, err := s.startOurs(ctx, "irsa")
	if err != nil {
		return err
	}
	defer ours.stop()
	floor, err := s.startFloor(ctx)
	if err != nil {
		return err
	}
	defer floor.stop()
	defer s.closeIdle()

	targets, err := checkAnswers(s, ours, floor, res)
	if err != nil {
		return err
	}
	if res.empty, err = s.measureFootprint(ctx, ours); err != nil {
		return err
	}

	l := &loader{client: s.client, body: s.body, concurrency: cfg.concurrency}
	for _, tg := range targets {
		progress("warming up %s for %s", tg.name, cfg.warmup)
		t, err := l.run(ctx, tg, cfg.warmup)
		if err == nil {
			err = t.firstErr
		}
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	for round := range cfg.rounds {
		var pair [2]tally
		// Odd rounds load the floor first, so drift within a round
		// favours neither server.
		order := []int{0, 1}
		if round%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			tg := targets[i]
			var profiled chan error
			if round == 0 && i == 0 && cfg.cpuProfile != "" {
				profiled = make(chan error, 1)
				go func() { profiled <- s.cpuProfile(ours, cfg.duration-time.Second, cfg.cpuProfile) }()
			}
			if pair[i], err = l.run(ctx, tg, cfg.duration); err != nil {
				return err
			}
			if profiled != nil {
				if err := <-profiled; err != nil {
					return fmt.Errorf("-cpuprofile: %w", err)
				}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			progress("round %d/%d %-5s %6.0f req/s  p99 %s  server CPU %s/req  errors %d", round+1, cfg.rounds,
				tg.name, pair[i].throughput(), ms(pair[i].percentile(0.99)), us(pair[i].cpuPerRequest()), pair[i].errors)
		}
		res.addRound(pair[0], pair[1])
	}
	return nil
}

// checkAnswers asks each server once, requires our answer to carry a patch,
// and returns the two as load targets, ours first.
func checkAnswers(s *servers, ours, floor *server, res *results) ([]target, error) {
	answer, oursLen, err := admit(s.client, ours.url, s.body)
	if err != nil {
		return nil, err
	}
	if len(answer.Patch) == 0 || answer.PatchType == nil {
		return nil, fmt.Errorf("our webhook did not mutate the pod of ServiceAccount %s/%s (annotated %s): no patch in its answer",
			benchNamespace, benchServiceAccount, benchRoleARN)
	}
	res.patchBytes = len(answer.Patch)
	_, floorLen, err := admit(s.client, floor.url, s.body)
	if err != nil {
		return nil, err
	}
	return []target{
		{name: "ours", url: ours.url, wantLen: oursLen, server: ours.child},
		{name: "floor", url: floor.url, wantLen: floorLen, server: floor.child},
	}, nil
}

// progress tells the person waiting what is happening, on stderr so the
// report on stdout stays clean.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// sleep waits for d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
