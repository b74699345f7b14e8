package progress

import (
	"bytes"
	"testing"
	"time"
)

func TestPrinterAndChanged(t *testing.T) {
	var out bytes.Buffer
	report := Printer(&out)
	steps := []Step{{Name: "bucket b", Outcome: Unchanged}, {Name: "object k", Outcome: Created, Detail: "eu-west-1", Took: 1234567 * time.Microsecond}}
	for _, s := range steps {
		report(s)
	}
	want := "unchanged  bucket b\ncreated    object k (eu-west-1) [1.235s]\n"
	if out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	if !Changed(steps) || Changed(steps[:1]) || Changed(nil) {
		t.Error("Changed is wrong")
	}
	if Changed([]Step{{Outcome: Checked}, {Outcome: Skipped}}) {
		t.Error("checks and skips are not changes")
	}
}
