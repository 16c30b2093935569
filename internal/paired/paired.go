// Package paired measures round trippers against a baseline in the same
// process, in alternating blocks, for the ratio benchmarks of memerr and of
// its integration module. It is for benchmarks only.
package paired

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Contender is one client under measurement. Do sends one request from
// the given worker (0 ≤ worker < Workers()) and checks the answer.
type Contender struct {
	Name string
	Do   func(worker int) error
}

// Workers is the number of goroutines a block runs on: 2·GOMAXPROCS.
func Workers() int { return 2 * runtime.GOMAXPROCS(0) }

// Run sends b.N requests through each contender, in rounds: a round runs
// one block of block requests through each contender in turn, the order
// rotating every round, so that the machine's load falls on all of them
// alike. The first contender is the baseline.
//
// It reports, per contender, <name>-ns/req (wall time) and
// <name>-cpu-ns/req (the process's CPU time, client and server, where the
// platform gives it), and for each other contender the median over rounds
// of its block time divided by the baseline's in the same round:
// <name>/<baseline> and <name>/<baseline>-cpu, and the median over rounds
// of its block time less the baseline's, per request: <name>-added-ns/req
// and <name>-added-cpu-ns/req. A second instance of the
// baseline among the contenders is a control: how far its ratio strays
// from 1 is the method's own error.
func Run(b *testing.B, cs []Contender, block int) {
	workers := Workers()
	var failed atomic.Value
	runBlock := func(c Contender) (wall, cpu time.Duration) {
		var wg sync.WaitGroup
		c0, t0 := CPUTime(), time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w, n int) {
				defer wg.Done()
				for ; n > 0; n-- {
					if err := c.Do(w); err != nil {
						failed.Store(err)
						return
					}
				}
			}(w, (block+w)/workers)
		}
		wg.Wait()
		return time.Since(t0), CPUTime() - c0
	}
	for _, c := range cs {
		runBlock(c) // open the connections before measuring
	}

	rounds := max(1, (b.N+block-1)/block)
	wall := make([][]time.Duration, len(cs))
	cpu := make([][]time.Duration, len(cs))
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		for k := range cs {
			i := (r + k) % len(cs)
			w, c := runBlock(cs[i])
			wall[i] = append(wall[i], w)
			cpu[i] = append(cpu[i], c)
		}
	}
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	n := float64(rounds * block)
	base := cs[0].Name
	for i, c := range cs {
		var sw, sc time.Duration
		for r := range wall[i] {
			sw += wall[i][r]
			sc += cpu[i][r]
		}
		b.ReportMetric(float64(sw)/n, c.Name+"-ns/req")
		if sc > 0 {
			b.ReportMetric(float64(sc)/n, c.Name+"-cpu-ns/req")
		}
		if i == 0 {
			continue
		}
		b.ReportMetric(MedianRatio(wall[i], wall[0]), c.Name+"/"+base)
		b.ReportMetric(MedianDiff(wall[i], wall[0])/float64(block), c.Name+"-added-ns/req")
		if sc > 0 {
			b.ReportMetric(MedianRatio(cpu[i], cpu[0]), c.Name+"/"+base+"-cpu")
			b.ReportMetric(MedianDiff(cpu[i], cpu[0])/float64(block), c.Name+"-added-cpu-ns/req")
		}
	}
	b.ReportMetric(0, "ns/op") // a round's time says nothing; the ratios do
}

// MedianDiff is the median over rounds of a[r]-b[r], in nanoseconds; 0
// when there is none.
func MedianDiff(a, b []time.Duration) float64 {
	ds := make([]float64, 0, len(a))
	for r := range a {
		if r < len(b) {
			ds = append(ds, float64(a[r]-b[r]))
		}
	}
	return median(ds)
}

// MedianRatio is the median over rounds of a[r]/b[r]; 0 when there is none.
func MedianRatio(a, b []time.Duration) float64 {
	rs := make([]float64, 0, len(a))
	for r := range a {
		if r < len(b) && b[r] > 0 {
			rs = append(rs, float64(a[r])/float64(b[r]))
		}
	}
	return median(rs)
}

// median sorts xs and returns its median; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// Base is the http.Transport to put under every contender: a clone of
// http.DefaultTransport with room for one idle connection per goroutine,
// so that no contender pays for new connections.
func Base() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 1024
	return t
}

// Get sends req through rt, reads the body to the end and closes it. It
// returns the bytes read, and an error for a transport error, a read error
// or a status other than 200.
func Get(rt http.RoundTripper, req *http.Request) (int64, error) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return n, err
}

// Memory is a RoundTripper that answers every request at once, in memory,
// with a 200 carrying body as contentType, shaped as an http.Transport
// shapes an answer: a fresh header map, a fresh body with a Close, the
// request attached. Put under every contender, it takes the network out of
// a measurement, so that what is left of a contender's time is what the
// contender itself adds to a request.
func Memory(contentType string, body []byte) http.RoundTripper {
	return memory{contentType: contentType, body: body, length: []string{strconv.Itoa(len(body))}}
}

type memory struct {
	contentType string
	body        []byte
	length      []string
}

func (m memory) RoundTrip(r *http.Request) (*http.Response, error) {
	b := new(memBody)
	b.Reset(m.body)
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {m.contentType}, "Content-Length": m.length},
		ContentLength: int64(len(m.body)),
		Body:          b,
		Request:       r,
	}, nil
}

// memBody is a response body held in memory.
type memBody struct{ bytes.Reader }

func (*memBody) Close() error { return nil }
