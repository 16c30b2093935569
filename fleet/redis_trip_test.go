package memerrfleet

import (
	"net/http"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Over a real redis-server: eight replicas failing in turn against a
// vendor that answers 503 open the circuit for all after five failures
// across the fleet (their breakers trip on five in a row), not 8×5; a
// success then starts the count again. Each failure waits until every
// replica knows the count, so the figure does not depend on the machine's
// speed (the fleet simulation measures replicas sending at once).
func TestRealRedisTripTogether(t *testing.T) {
	r := startRedis(t)
	v := newTrialVendor(t, http.StatusServiceUnavailable, false)
	rs := tripReplicas(t, r.addr(), 8, tripBreaker)
	scope := v.scope()
	failInTurn(t, rs, v.URL+"/v1/x", scope, 5)
	start := time.Now()
	var slowest time.Duration
	for i, rep := range rs {
		require.Eventually(t, func() bool { h, ok := rep.fleet.Held(scope); return ok && h.Until.After(time.Now()) }, slow, 100*time.Microsecond,
			"replica %d learns the open circuit", i)
		slowest = max(slowest, time.Since(start))
		_, err := rep.get(v.URL + "/v1/x")
		require.ErrorIs(t, err, memerr.ErrCircuitOpen, "replica %d fails at once", i)
	}
	assert.Equal(t, int64(5), v.hits.Load(), "five requests reached the vendor, not 8×5")
	assert.Equal(t, uint64(1), rs[4].fleet.Stats().Trips, "the replica whose failure reached five opened the circuit")
	t.Logf("fleet: 8 replicas over real redis-server tripped together after 5 failures; the open circuit reached the last replica %v "+
		"after the fifth failure returned", slowest.Round(time.Microsecond))

	// A failure, then a success on another replica: the count starts again.
	other := v.scope() + "/other" // a scope no breaker uses: the fleet's count alone
	rs[0].fleet.Failed(other, tripBreaker)
	knowsCount(t, rs, other, 1)
	rs[7].fleet.Succeeded(other)
	knowsCount(t, rs, other, 0)
}
