package memerrfleet

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/memerr/memerr"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hooks follow the degraded mode one change at a time, in order: when
// Redis answers again while OnDegraded still runs (slow, or preempted),
// the change back and OnRecovered wait for it, so that a gauge or alert the
// hooks set ends where Stats says the fleet is. Before, the recovery's
// compare-and-swap ran at once and OnRecovered could run before the
// OnDegraded it follows had done, leaving the hooks' state "degraded" while
// the fleet shared holds again.
func TestHooksInOrder(t *testing.T) {
	m := miniredis.RunT(t)
	var (
		mu        sync.Mutex
		events    []string
		running   bool     // OnDegraded is running
		overlap   []string // what happened while it ran
		started   = make(chan struct{}, 1)
		unblocked = make(chan struct{})
	)
	record := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	var f *Fleet
	f = patientFleet(t, m.Addr(), WithHooks(Hooks{
		OnDegraded: func(error) {
			record("degraded")
			mu.Lock()
			running = true
			mu.Unlock()
			select {
			case started <- struct{}{}:
			default:
			}
			// Held up until the fleet has left the degraded mode under
			// it (the defect), or for a while (a few refresh periods).
			deadline := time.NewTimer(10 * testRefresh)
			defer deadline.Stop()
			tick := time.NewTicker(poll)
			defer tick.Stop()
		wait:
			for {
				select {
				case <-unblocked:
					break wait
				case <-deadline.C:
					break wait
				case <-tick.C:
					if !f.Stats().Degraded {
						mu.Lock()
						overlap = append(overlap, "Stats says recovered")
						mu.Unlock()
						break wait
					}
				}
			}
			mu.Lock()
			running = false
			mu.Unlock()
		},
		OnRecovered: func() {
			mu.Lock()
			if running {
				overlap = append(overlap, "OnRecovered ran")
			}
			mu.Unlock()
			record("recovered")
		},
	}))
	t.Cleanup(func() {
		select {
		case <-unblocked:
		default:
			close(unblocked)
		}
	})

	m.SetError("ERR injected")
	select {
	case <-started:
	case <-time.After(slow):
		t.Fatal("the degraded mode was never entered")
	}
	m.SetError("") // Redis answers again while OnDegraded runs
	require.Eventually(t, func() bool { return !f.Stats().Degraded }, slow, poll)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 2 }, slow, poll)

	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, overlap, "the recovery waits for OnDegraded to return")
	assert.Equal(t, []string{"degraded", "recovered"}, events)
}

// After Close, the fleet reports nothing: a request still running through
// a Transport during shutdown (its trial's lease call, its quota) finds
// the Redis client closed, which is no outage; no hook runs, Stats does not
// turn degraded, and the request proceeds on local state.
func TestNoReportsAfterClose(t *testing.T) {
	m := miniredis.RunT(t)
	var degraded atomic.Int32
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true, DialTimeout: patient,
		ReadTimeout: patient, WriteTimeout: patient, MaxRetries: -1})
	f := New(rdb, WithRefresh(testRefresh), WithTimeout(patient), WithHooks(Hooks{OnDegraded: func(error) { degraded.Add(1) }}))
	const scope = "https://api.example:443"
	f.Hold(scope, endedCircuit(time.Second))
	require.NoError(t, f.Close())
	require.NoError(t, rdb.Close()) // the usual order of a shutdown

	assert.True(t, f.Probe(context.Background(), scope), "each replica probes for itself")
	f.Verdict(scope, true)
	_, ok := f.Take(scope, memerr.Quota{Requests: 10, Per: time.Second}, 0)
	assert.True(t, ok)
	assert.False(t, f.Stats().Degraded)
	assert.Zero(t, degraded.Load())
}
