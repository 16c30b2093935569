package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"GET /recall?id=mem_1 -> 200 OK\n  {\"content\":\"likes green tea\",\"id\":\"mem_1\"}",
		"GET /recall?id=mem_2 -> 404 Not Found\n  {\"error\":\"no such memory\",\"upstream_request_id\":\"req_0000000000000002\"}",
		"GET /recall?id=mem_3 -> 503 Service Unavailable\n  Retry-After: 7\n",
		"GET /recall?id=mem_4 -> 502 Bad Gateway\n  {\"error\":\"the memory service rejected our upstream credentials\"",
		"GET /recall?id=mem_5 -> 503 Service Unavailable\n  {\"error\":\"the memory service account is out of quota or credit",
		"a proxy's 502 page, three times (upstream: 3 requests)",
		"the outage goes on (upstream: 2 requests)",
		"the next call, breaker open (upstream: 0 requests)\n  GET /recall?id=mem_8 -> 503 Service Unavailable\n  Retry-After: 60\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
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
