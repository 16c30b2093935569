package memerrfleet

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/memerr/memerr"
	"github.com/memerr/memerr/internal/paired"
)

// BenchmarkSuccessPath sends successful GETs over loopback through a
// Transport without a fleet (off, and off-again as the control) and with
// one on miniredis (on), in paired.Run's alternating blocks: on/off is the
// cost of fleet mode on the success path, where it reads its local copy
// and nothing else, also with a quota on another scope (on-quota-elsewhere);
// on-quota/off is the cost of a quota on the scope itself, one Redis round
// trip per request. Run with
//
//	go test -run '^$' -bench SuccessPath -benchtime 200000x .
func BenchmarkSuccessPath(b *testing.B) {
	body := []byte(`{"code":0,"msg":"","data":{"id":"m1"}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	m := miniredis.RunT(b)
	f := New(newClient(b, m.Addr()))
	defer f.Close()
	f.Hold("https://another.example:443", memerr.FleetHold{}) // a map that is not empty

	reqs := make([]*http.Request, paired.Workers())
	for i := range reqs {
		var err error
		if reqs[i], err = http.NewRequest(http.MethodGet, srv.URL+"/v1/memories", nil); err != nil {
			b.Fatal(err)
		}
	}
	contender := func(name string, opts ...memerr.Option) paired.Contender {
		rt := memerr.NewTransport(paired.Base(), append([]memerr.Option{memerr.WithVendor(memerr.Coze)}, opts...)...)
		return paired.Contender{Name: name, Do: func(w int) error {
			n, err := paired.Get(rt, reqs[w])
			if err == nil && n != int64(len(body)) {
				err = fmt.Errorf("read %d bytes of %d", n, len(body))
			}
			return err
		}}
	}
	paired.Run(b, []paired.Contender{
		contender("off"),
		contender("off-again"),
		contender("on", memerr.WithFleet(f)),
		// A quota on another scope: this one's path is still a nil check.
		contender("on-quota-elsewhere", memerr.WithFleet(f),
			memerr.WithQuota("https://another.example", memerr.Quota{Requests: 600, Per: time.Minute})),
		// A quota on this scope, never reached: one Redis round trip
		// (miniredis) per request.
		contender("on-quota", memerr.WithFleet(f),
			memerr.WithQuota(srv.URL, memerr.Quota{Requests: 1 << 30, Per: time.Second})),
	}, 2048)
}

// BenchmarkHeld is the read the transport makes before each attempt, from
// parallel goroutines.
func BenchmarkHeld(b *testing.B) {
	m := miniredis.RunT(b)
	f := New(newClient(b, m.Addr()))
	defer f.Close()
	for i := 0; i < 16; i++ {
		f.Hold(fmt.Sprintf("https://h%d.example:443", i), hold(60e9))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.Held("https://h3.example:443")
		}
	})
}

// BenchmarkSucceeded is what the transport adds to each success with a
// FleetTripper, while the fleet's count is zero, from parallel goroutines.
func BenchmarkSucceeded(b *testing.B) {
	m := miniredis.RunT(b)
	f := New(newClient(b, m.Addr()))
	defer f.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.Succeeded("https://h3.example:443")
		}
	})
}
