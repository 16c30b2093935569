package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		`text received before the failure: "You said you like green "`,
		"err: memerr: coze 4000 invalid request: The requested parameter is invalid: additional_messages (request id 20250101120000010203040506070809C)",
		`text received before the failure: "step 1 done"`,
		"code 4009, kind rate limited, retryable true",
		"err: memerr: coze 4100 unauthenticated: authentication is invalid",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}

// TestContentOf covers the example's small helper.
func TestContentOf(t *testing.T) {
	for line, want := range map[string]string{
		`data: {"content":"hi there"}`: "hi there",
		`data: {"id":"x"}`:             "",
		`data: {"content":"cut`:        "",
	} {
		if got := contentOf(line); got != want {
			t.Errorf("contentOf(%q) = %q, want %q", line, got, want)
		}
	}
}
