package main

import (
	"testing"
	"time"

	"github.com/memerr/memerr/internal/exampletest"
)

func TestRun(t *testing.T) {
	exampletest.Run(t, run,
		"GET /recall?id=mem_1 -> 200 OK\n  {\"content\":\"likes green tea\",\"id\":\"mem_1\"}",
		"GET /recall?id=mem_2 -> 404 Not Found\n  {\"error\":\"no such memory\",\"upstream_request_id\":\"req_0000000000000002\"}",
		"GET /recall?id=mem_3 -> 503 Service Unavailable\n  Retry-After: 7\n",
		"the next call, within that wait (upstream: 0 requests)\n  GET /recall?id=mem_3 -> 503 Service Unavailable\n  Retry-After: 7\n",
		"GET /recall?id=mem_4 -> 502 Bad Gateway\n  {\"error\":\"the memory service rejected our upstream credentials\"",
		"GET /recall?id=mem_5 -> 503 Service Unavailable\n  {\"error\":\"the memory service account is out of quota or credit",
		"a proxy's 502 page, three times (upstream: 3 requests)",
		"the outage goes on (upstream: 2 requests)",
		"the next call, breaker open (upstream: 0 requests)\n  GET /recall?id=mem_8 -> 503 Service Unavailable\n  Retry-After: 60\n",
	)
}

func TestCeilSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		0:                      0,
		time.Millisecond:       1,
		time.Second:            1,
		time.Second + 1:        2,
		59*time.Second + 999e6: 60,
		7 * time.Second:        7,
	} {
		if got := ceilSeconds(d); got != want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}
