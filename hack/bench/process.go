package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a server the benchmark started as its own process, with its
// output in a log file.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// startChild runs path with args and env, its output in dir/<name>.log. The
// child is killed if the benchmark dies without stopping it.
func startChild(name, dir string, env []string, path string, args ...string) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child holds its own descriptor
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	return c, nil
}

// serverEnv is the environment of both servers: the benchmark's own, less
// GOMAXPROCS, so each runtime sizes itself to the machine the same way.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") {
			env = append(env, kv)
		}
	}
	return env
}

// stop sends SIGTERM and waits; after 10 s it kills. Stopping twice is fine.
func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// waitReady calls probe until it succeeds, the child exits or timeout passes.
func (c *child) waitReady(ctx context.Context, timeout time.Duration, probe func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := probe()
		if err == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before ready (%v)\n%s", c.name, c.cmd.ProcessState, c.logTail(20))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last probe: %v)\n%s", c.name, ctx.Err(), err, c.logTail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logTail returns the last lines the child wrote.
func (c *child) logTail(lines int) string {
	data, _ := os.ReadFile(c.logPath)
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// memory is a process's resident set, now and at its peak, in bytes.
type memory struct{ rss, peak int64 }

// memory reads the child's VmRSS and VmHWM from /proc.
func (c *child) memory() (memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for line := range strings.Lines(string(data)) {
		key, value, _ := strings.Cut(line, ":")
		switch key {
		case "VmRSS":
			m.rss, err = kilobytes(value)
		case "VmHWM":
			m.peak, err = kilobytes(value)
		}
		if err != nil {
			return memory{}, fmt.Errorf("%s %s: %w", c.name, key, err)
		}
	}
	if m.rss == 0 || m.peak == 0 {
		return memory{}, fmt.Errorf("%s: no VmRSS or VmHWM in /proc status", c.name)
	}
	return m, nil
}

// kilobytes parses a /proc status size such as "  12345 kB" into bytes.
func kilobytes(s string) (int64, error) {
	n, ok := strings.CutSuffix(strings.TrimSpace(s), " kB")
	if !ok {
		return 0, fmt.Errorf("%q: want a size in kB", s)
	}
	kb, err := strconv.ParseInt(n, 10, 64)
	return kb << 10, err
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: fixed at 100
// per second by the kernel's ABI, whatever the kernel's own tick rate.
const userHZ = 100

// cpuTime returns the CPU time, user and system, the child has used so far.
func (c *child) cpuTime() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// count the fields from after its closing one.
	stat := string(data)
	fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("%s: short /proc stat", c.name)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15 of stat
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: /proc stat: %w", c.name, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
