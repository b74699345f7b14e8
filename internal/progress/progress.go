// Package progress reports what each step of an idempotent command did,
// in words and in one line per step.
package progress

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// Outcome says what a step did.
type Outcome string

// Outcomes of a step.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	Checked   Outcome = "checked"
	Skipped   Outcome = "skipped"
	Deleted   Outcome = "deleted"
)

// Step is one thing a command made sure of.
type Step struct {
	Name    string
	Outcome Outcome
	Detail  string
	// Took is how long the step took, when it was timed.
	Took time.Duration
}

// Changed reports whether any of steps changed something.
func Changed(steps []Step) bool {
	return slices.ContainsFunc(steps, func(s Step) bool {
		return s.Outcome == Created || s.Outcome == Updated || s.Outcome == Deleted
	})
}

// Printer returns a report function that writes each step to w as
// "outcome  name (detail)".
func Printer(w io.Writer) func(Step) {
	return func(s Step) {
		line := fmt.Sprintf("%-10s %s", s.Outcome, s.Name)
		if s.Detail != "" {
			line += " (" + s.Detail + ")"
		}
		if s.Took > 0 {
			line += " [" + s.Took.Round(time.Millisecond).String() + "]"
		}
		fmt.Fprintln(w, line)
	}
}
