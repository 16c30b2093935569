// Package exampletest runs an example program's run function in-process
// for its test and checks the lines a reader is told to look for.
package exampletest

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// Run calls run with a buffer and fails t when run fails or when the
// output lacks any of wants; on failure it logs the whole output.
func Run(t *testing.T, run func(io.Writer) error, wants ...string) {
	t.Helper()
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range wants {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}
