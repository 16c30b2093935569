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
		"AddMemory: vendorsdk: status 200, code 4009: ",
		"errors.Is(err, memerr.ErrRateLimited) = false",
		"(retrying after attempt 1: memerr: coze 4009 rate limited: ",
		`AddMemory: saved mem_7 ("prefers window seats") after 1 retry; the server saw 2 requests`,
		"AddMemory: memerr: coze 4011 insufficient balance: ",
		"*memerr.Error: vendor coze, code 4011, kind insufficient balance, attempts 1",
		"errors.Is(err, memerr.CozeInsufficientBalance) = true",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}
