package main

import (
	"testing"

	"github.com/memerr/memerr/internal/exampletest"
)

func TestRun(t *testing.T) {
	exampletest.Run(t, run,
		`text received before the failure: "You said you like green "`,
		"err: memerr: coze 4000 invalid request: The requested parameter is invalid: additional_messages (request id 20250101120000010203040506070809C)",
		"err: memerr: coze 5000 internal: event interval error (request id 20250101120000010203040506070809C)",
		`text received before the failure: "step 1 done"`,
		"code 4009, kind unavailable, retryable true",
		"err: memerr: coze 4100 unauthenticated: authentication is invalid",
	)
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
