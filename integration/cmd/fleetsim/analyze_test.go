package main

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func TestInWindow(t *testing.T) {
	as := []arrival{
		{At: at(999), Scope: "a"},
		{At: at(1000), Scope: "a"}, // the window's start counts
		{At: at(1500), Scope: "a"},
		{At: at(1500), Scope: "b"}, // another scope does not
		{At: at(1999), Scope: "a"},
		{At: at(2000), Scope: "a"}, // the window's end does not
	}
	assert.Equal(t, 3, inWindow(as, "a", at(1000), at(2000)))
	assert.Equal(t, 1, inWindow(as, "b", at(1000), at(2000)))
	assert.Equal(t, 0, inWindow(as, "a", at(3000), at(4000)))
}

func TestBursts(t *testing.T) {
	gap := 300 * time.Millisecond
	var as []arrival
	// Out of order, as concurrent handlers append: a trip of four, a
	// probe after 1 s, two probes after 2 s more; a request of another
	// scope and one outside the window between them.
	for _, ms := range []int{1010, 1000, 1030, 1020, 2100, 4150, 4100} {
		as = append(as, arrival{At: at(ms), Scope: "a"})
	}
	as = append(as, arrival{At: at(3000), Scope: "b"}, arrival{At: at(9000), Scope: "a"})
	assert.Equal(t, []int{4, 1, 2}, bursts(as, "a", at(0), at(5000), gap))

	// Arrivals exactly gap apart start a new burst; closer ones do not.
	as = []arrival{{At: at(0), Scope: "a"}, {At: at(299), Scope: "a"}, {At: at(599), Scope: "a"}}
	assert.Equal(t, []int{2, 1}, bursts(as, "a", at(0), at(1000), gap))
	assert.Empty(t, bursts(nil, "a", at(0), at(1000), gap))
}

func TestPercentile(t *testing.T) {
	var xs []float64
	for i := 100; i >= 1; i-- { // unsorted
		xs = append(xs, float64(i))
	}
	assert.Equal(t, 99.0, percentile(xs, 99))
	assert.Equal(t, 50.0, percentile(xs, 50))
	assert.Equal(t, 100.0, percentile(xs, 100))
	assert.Equal(t, 1.0, percentile(xs, 0.1))
	assert.Equal(t, 100.0, xs[0], "the input is not sorted in place")

	// Nearest rank on few values: the p99 of ten values is the largest.
	assert.Equal(t, 10.0, percentile([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99))
	assert.Equal(t, 7.0, percentile([]float64{7}, 50))
	assert.True(t, math.IsNaN(percentile(nil, 99)))
}

func TestPerSecond(t *testing.T) {
	as := []arrival{
		{At: at(0), Scope: "a"}, {At: at(100), Scope: "a"}, {At: at(499), Scope: "a"},
		{At: at(500), Scope: "a"},
		{At: at(1200), Scope: "a"}, // the partial last bin
		{At: at(1250), Scope: "a"}, // the end: excluded
		{At: at(200), Scope: "b"},
	}
	assert.Equal(t, []float64{6, 2, 2}, perSecond(as, "a", at(0), at(1250), 500*time.Millisecond))
	assert.Nil(t, perSecond(as, "a", at(10), at(10), time.Second))
}

func TestHoldRequests(t *testing.T) {
	first := arrival{At: at(1000), Replica: 0, Sent: at(999), Status: 429, Scope: "a"}
	end := at(6000)
	as := []arrival{
		first,
		{At: at(1001), Replica: 0, Sent: at(1000), Scope: "a"},  // the replica that got the 429: not counted
		{At: at(1000), Replica: 1, Sent: at(998), Scope: "a"},   // arrived with the 429, not after: not counted
		{At: at(1002), Replica: 1, Sent: at(999), Scope: "a"},   // sent before the 429: in flight
		{At: at(1004), Replica: 1, Sent: at(1003), Scope: "a"},  // sent before replica 1 knew (1005): in flight
		{At: at(1010), Replica: 1, Sent: at(1009), Scope: "a"},  // sent after it knew: beyond
		{At: at(1010), Replica: 2, Sent: at(1009), Scope: "a"},  // replica 2 never knew: beyond
		{At: at(1010), Replica: 3, Scope: "a"},                  // no stamp: beyond
		{At: at(1010), Replica: 1, Sent: at(1009), Scope: "b"},  // another scope
		{At: at(6000), Replica: 1, Sent: at(5999), Scope: "a"},  // the hold is over
		{At: at(5999), Replica: 1, Sent: at(5990), Status: 200}, // no scope "a"
	}
	seen := map[int]time.Time{1: at(1005), 3: at(1100)}
	f := holdRequests(as, first, end, seen, 4)
	assert.Equal(t, 2, f.InFlight)
	assert.Equal(t, 3, f.Beyond)
	assert.ElementsMatch(t, []time.Duration{5 * time.Millisecond, 100 * time.Millisecond}, f.Learned)
	assert.Equal(t, 1, f.NotLearnt, "replica 2")

	// Independent replicas know nothing: only what was sent before the
	// first 429 is in flight.
	f = holdRequests(as, first, end, nil, 4)
	assert.Equal(t, 1, f.InFlight)
	assert.Equal(t, 4, f.Beyond)
	assert.Equal(t, 3, f.NotLearnt)
}

func TestFirstWith(t *testing.T) {
	as := []arrival{
		{At: at(900), Status: 429, Scope: "a", Replica: 9}, // before from
		{At: at(1300), Status: 429, Scope: "a", Replica: 3},
		{At: at(1100), Status: 429, Scope: "a", Replica: 2},
		{At: at(1050), Status: 200, Scope: "a", Replica: 1},
		{At: at(1000), Status: 429, Scope: "b", Replica: 4},
	}
	a, ok := firstWith(as, "a", 429, at(1000))
	require.True(t, ok)
	assert.Equal(t, 2, a.Replica)
	_, ok = firstWith(as, "a", 503, at(0))
	assert.False(t, ok)
}

func TestJudge(t *testing.T) {
	f := figure{Name: "propagation", Fleet: 50, Goal: 50, Strict: true, Margin: 250}
	f.judge()
	assert.False(t, f.Met, "< 50 ms is not met by 50 ms")
	assert.True(t, f.WithinMargin)

	f = figure{Name: "redis-failures", Fleet: 0, Goal: 0, Margin: 0}
	f.judge()
	assert.True(t, f.Met)
	assert.True(t, f.WithinMargin)

	f = figure{Name: "recovery", Fleet: math.Inf(1), Goal: 1, Margin: 3}
	f.judge()
	assert.False(t, f.Met, "never")
	assert.False(t, f.WithinMargin)

	f = figure{Name: "success-cost", Fleet: math.NaN(), Goal: 1.02, Margin: 1.1}
	f.judge()
	assert.False(t, f.Met, "not measured is not met")
	assert.False(t, f.WithinMargin)
}

func TestFigureJSON(t *testing.T) {
	b, err := json.Marshal(figure{Name: "propagation", Independent: math.NaN(), Fleet: math.Inf(1), Goal: 50})
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Nil(t, m["independent"])
	assert.Nil(t, m["fleet"])
	assert.Equal(t, 50.0, m["goal"])
	assert.Equal(t, "propagation", m["name"])
}
