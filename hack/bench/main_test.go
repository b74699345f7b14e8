package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	irsa := filepath.Join(t.TempDir(), "irsa")
	if err := os.WriteFile(irsa, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFlags([]string{"-irsa", irsa})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.rounds < 2 || cfg.rounds%2 != 0 {
		t.Errorf("default rounds %d: want an even number, so each server goes first equally often", cfg.rounds)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-cpuprofile", "p", "-duration", "1s"}, "-cpuprofile: needs a -duration of at least 2s"},
		{[]string{"-rounds", "0"}, "-rounds: must be at least 1"},
		{[]string{"-irsa", filepath.Join(t.TempDir(), "missing")}, "run `make build`"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		if _, err := parseFlags(append([]string{"-irsa", irsa}, tc.args...)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to say %q", tc.args, err, tc.want)
		}
	}
}
