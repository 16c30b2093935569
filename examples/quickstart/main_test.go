package main

import (
	"testing"

	"github.com/memerr/memerr/internal/exampletest"
)

// TestRun plays the whole tour in-process and checks the lines a reader is
// told to look for. run itself fails when the library misbehaves; these
// checks catch a tour that silently prints something else.
func TestRun(t *testing.T) {
	exampletest.Run(t, run,
		"== 1. One failure from each vendor ==",
		"  err        memerr: memos 40300 rate limited: ",
		"  code       MEMORY_NOT_FOUND (HTTP 404)",
		"  request id req_7f3a9c2e1b4d5a60",
		"  vendor     memoryos",
		"  kind       insufficient balance, retryable: false",
		"  err        memerr: coze 4011 insufficient balance: ",
		"  request id 20250101120000010203040506070809A",
		"errors.Is(err, memerr.CozeInsufficientBalance)                       true",
		"errors.Is(err, memerr.ErrRateLimited)                                false",
		"errors.As(err, &e): vendor coze, code 4011, kind insufficient balance",
		"attempt 1: HTTP 429, memerr: tensorheart RATE_LIMIT_EXCEEDED rate limited",
		"attempt 2: HTTP 200, memory mem_42",
		"the server saw 2 requests",
		"  breaker: closed -> open",
		"  err: memerr: http 503 unavailable: upstream overloaded (3 attempts)",
		"errors.Is(err, memerr.ErrCircuitOpen) = true, kind unavailable",
		"  the server still saw 3 requests",
		"  breaker: open -> half-open",
		"  breaker: half-open -> closed",
		"(request id req_abc124, retry after 5s)",
		"1 attempt; e.RetryAfter = 5s",
		"All steps behaved as described",
	)
}
