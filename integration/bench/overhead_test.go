package bench

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"

	"github.com/memerr/memerr/internal/paired"
)

// memBase answers every request in memory with successBody, as an
// http.Transport would shape the answer: a fresh header map, a fresh body
// with a Close, and the request attached. It takes the network out of the
// measurement, so that what is left of a contender's time is what the
// contender itself adds to a request.
type memBase struct{}

var successLength = []string{strconv.Itoa(len(successBody))}

func (memBase) RoundTrip(r *http.Request) (*http.Response, error) {
	b := new(memBody)
	b.Reset(successBody)
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":   {"application/json; charset=utf-8"},
			"Content-Length": successLength,
		},
		ContentLength: int64(len(successBody)),
		Body:          b,
		Request:       r,
	}, nil
}

// memBody is a response body held in memory.
type memBody struct{ bytes.Reader }

func (*memBody) Close() error { return nil }

// BenchmarkOverhead sends BenchmarkSuccessRatio's GETs through every
// contender, each over memBase instead of a loopback connection, in the
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
	cs := pairedContenders(func() http.RoundTripper { return memBase{} },
		requests(b, "http://memory.invalid/v1/memories"))
	paired.Run(b, cs, 4096)
}
