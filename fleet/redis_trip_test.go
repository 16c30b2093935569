package memerrfleet

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/stretchr/testify/assert"
)

// Over a real redis-server: eight replicas, each sending every 10 ms to a
// vendor that answers 503, stop after about five failures across the
// fleet (their breakers trip on five in a row), not 8×5: the replicas trip
// together. The trip burst is logged; the bound leaves room for the
// requests already in flight while the open circuit travels.
func TestRealRedisTripTogether(t *testing.T) {
	r := startRedis(t)
	v := newTrialVendor(t, http.StatusServiceUnavailable, false)
	const n = 8
	rs := tripReplicas(t, r.addr(), n, tripBreaker)

	start := time.Now()
	var wg sync.WaitGroup
	stopped := make([]time.Duration, n)
	for i, rep := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for j := 0; j < 50; j++ {
				err := rep.client.DoJSON(context.Background(), http.MethodGet, v.URL+"/v1/x", nil, nil)
				if err != nil && assert.ErrorIs(t, err, memerr.ErrUnavailable) && errorIsCircuit(err) {
					stopped[i] = time.Since(start)
					return
				}
				<-tick.C
			}
			t.Errorf("replica %d never stopped", i)
		}()
	}
	wg.Wait()
	hits := v.hits.Load()
	var trips uint64
	for _, rep := range rs {
		trips += rep.fleet.Stats().Trips
	}
	t.Logf("fleet: %d replicas sending every 10 ms to a 503 vendor, breakers on 5 in a row: %d requests reached it before all stopped "+
		"(independent replicas: %d); %d trips; the last replica stopped after %v", n, hits, n*5, trips, maxDuration(stopped).Round(time.Millisecond))
	assert.GreaterOrEqual(t, hits, int64(5))
	assert.LessOrEqual(t, hits, int64(2*5+n), "about five across the fleet, plus what was in flight; independent replicas send 40")
	assert.Positive(t, trips, "the fleet's count opened the circuit")
}

func errorIsCircuit(err error) bool { return err != nil && errors.Is(err, memerr.ErrCircuitOpen) }

func maxDuration(ds []time.Duration) (m time.Duration) {
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
