package main

import (
	"testing"

	"github.com/memerr/memerr/internal/exampletest"
)

// TestRun plays the script and checks the lines of /metrics the program's
// doc comment promises: the attempts by outcome, the retries by reason,
// the open breaker, its transition, and the budget left.
func TestRun(t *testing.T) {
	exampletest.Run(t, run,
		"GET /v1/limited  ok",
		"GET /v1/outage   503",
		"GET /v1/refused  refused",
		`memerr_client_attempts_total{memerr_outcome="success",memerr_vendor="coze"} 2`,
		`memerr_client_attempts_total{memerr_code="4008",memerr_kind="rate_limited",memerr_outcome="failure",memerr_vendor="coze"} 1`,
		`memerr_client_attempts_total{memerr_code="503",memerr_kind="unavailable",memerr_outcome="failure",memerr_vendor="generic"} 3`,
		`memerr_client_attempts_total{memerr_outcome="circuit_open",memerr_vendor="coze"} 1`,
		`memerr_client_retries_total{memerr_retry_reason="rate_limited",memerr_vendor="coze"} 1`,
		`memerr_client_retries_total{memerr_retry_reason="unavailable",memerr_vendor="generic"} 2`,
		`memerr_client_retry_wait_seconds_count{memerr_retry_reason="rate_limited",memerr_vendor="coze"} 1`,
		`memerr_client_request_duration_seconds_count{memerr_outcome="success",memerr_vendor="coze"} 2`,
		`memerr_breaker_state="open"} 1`,
		`memerr_breaker_state="closed"} 0`,
		`memerr_client_breaker_transitions_total{memerr_breaker_previous_state="closed",`,
		// 500 tokens, less 5 for the rate limit's retry (given back by its
		// success) and 2×5 for the outage's retries.
		"memerr_client_retry_budget_tokens 490",
	)
}
