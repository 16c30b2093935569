package main

import (
	"testing"

	"github.com/memerr/memerr/internal/exampletest"
)

func TestRun(t *testing.T) {
	exampletest.Run(t, run,
		"AddMemory: vendorsdk: status 200, code 4009: ",
		"errors.Is(err, memerr.ErrUnavailable) = false",
		"(retrying after attempt 1: memerr: coze 4009 unavailable: ",
		`AddMemory: saved mem_7 ("prefers window seats") after 1 retry; the server saw 2 requests`,
		"AddMemory: memerr: coze 4011 insufficient balance: ",
		"*memerr.Error: vendor coze, code 4011, kind insufficient balance, attempts 1",
		"errors.Is(err, memerr.CozeInsufficientBalance) = true",
	)
}
