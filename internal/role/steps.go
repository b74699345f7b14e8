package role

import "github.com/irsa-dev/irsa/internal/progress"

// stepLog records the steps of a run and reports each as it ends. In a dry
// run a change is reported as skipped, with what it would have done.
type stepLog struct {
	dryRun bool
	report func(progress.Step)
	steps  []progress.Step
}

// add records a step that changed nothing.
func (l *stepLog) add(s progress.Step) {
	l.steps = append(l.steps, s)
	if l.report != nil {
		l.report(s)
	}
}

// change records a step that made a change (created, updated or
// deleted something), described by verb ("create", "detach") for a dry
// run.
func (l *stepLog) change(s progress.Step, verb string) {
	if l.dryRun {
		detail := "would " + verb
		if s.Detail != "" {
			detail += ": " + s.Detail
		}
		s.Outcome, s.Detail = progress.Skipped, detail
	}
	l.add(s)
}
