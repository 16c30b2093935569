package bench

import (
	"net/http"
	"testing"

	"github.com/memerr/memerr/internal/paired"
)

// BenchmarkOverhead sends BenchmarkSuccessRatio's GETs through every
// contender, each over paired.Memory instead of a loopback connection, in the
// same alternating blocks. With the network gone, bare's time is the cost
// of the benchmark's own loop, and each contender's
// <name>-added-ns/req and <name>-added-cpu-ns/req (the median over rounds
// of its block time less bare's, per request) is the time it adds to
// every request it passes. On loopback, or on a real network, a contender
// costs bare's time plus that: the added time is what "cheaper" compares,
// measured without the network's noise. bare-again is the control, whose
// added time should be near 0. Run with
//
//	go test -run '^$' -bench Overhead -benchtime 1000000x -cpu 1,2 ./bench
func BenchmarkOverhead(b *testing.B) {
	cs := pairedContenders(func() http.RoundTripper { return paired.Memory("application/json; charset=utf-8", successBody) },
		requests(b, "http://memory.invalid/v1/memories"))
	paired.Run(b, cs, 4096)
}
