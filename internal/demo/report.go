package demo

import (
	"fmt"
	"io"
	"time"
)

// reporter prints one line per step with its result and duration, and the
// step's details indented below it.
type reporter struct {
	out   io.Writer
	n     int
	start time.Time
}

func (r *reporter) step(name string, run func() error) error {
	if r.start.IsZero() {
		r.start = time.Now()
	}
	r.n++
	fmt.Fprintf(r.out, "[%d] %s\n", r.n, name)
	began := time.Now()
	err := run()
	took := time.Since(began).Round(time.Millisecond)
	if err != nil {
		fmt.Fprintf(r.out, "    FAILED after %s: %v\n", took, err)
		return err
	}
	fmt.Fprintf(r.out, "    done in %s\n", took)
	return nil
}

func (r *reporter) detail(format string, args ...any) {
	fmt.Fprintf(r.out, "    "+format+"\n", args...)
}

func (r *reporter) total() time.Duration { return time.Since(r.start) }
