package memerrfleet

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A key of another type where a scope's hold or lease belongs (another
// program's key under the prefix, a hostile writer) is read as absent and
// written over, as the refresh and the count of failures read one: the
// hold is shared, the trial is elected and closed, and Redis is not taken
// for away (no degraded mode, for this scope or any other).
func TestKeysOfAnotherType(t *testing.T) {
	m := miniredis.RunT(t)
	var degraded atomic.Int32
	f := patientFleet(t, m.Addr(), WithHooks(Hooks{OnDegraded: func(error) { degraded.Add(1) }}))
	b := patientFleet(t, m.Addr())

	const held = "https://held.example:443"
	m.HSet("memerr:hold:{"+held+"}", "v", "1")
	h := hold(time.Minute)
	f.Hold(held, h)
	eventuallyHeld(t, b, held, h)

	const trial = "https://trial.example:443"
	m.HSet("memerr:lease:{"+trial+"}", "v", "1")
	m.HSet("memerr:hold:{"+trial+"}", "v", "1")
	f.Hold(trial, endedCircuit(time.Second))
	flushed(t, m, f)
	assert.True(t, f.Probe(context.Background(), trial), "the trial is elected")
	assert.True(t, m.Exists("memerr:lease:{"+trial+"}"))
	f.Verdict(trial, true)
	require.Eventually(t, func() bool { v, _ := m.Get("memerr:lease:{" + trial + "}"); return len(v) > 7 && v[:7] == "closed|" },
		slow, poll, "the verdict is stored")
	assert.False(t, m.Exists("memerr:hold:{"+trial+"}"))

	const released = "https://released.example:443"
	f.Hold(released, endedCircuit(time.Second))
	flushed(t, m, f)
	require.True(t, f.Probe(context.Background(), released))
	m.Del("memerr:lease:{" + released + "}")
	m.HSet("memerr:lease:{"+released+"}", "v", "1")
	f.Verdict(released, false)
	flushed(t, m, f)

	// An operation that reaches Redis after them all: the refresh.
	seen := f.outages()
	require.True(t, f.result(seen, f.readAll()))
	assert.False(t, f.Stats().Degraded)
	assert.Zero(t, degraded.Load(), "a key of another type is no Redis failure")
}

// flushed waits until f has written everything queued before it: a hold
// queued after them has reached Redis (one goroutine writes, in order).
func flushed(t *testing.T, m *miniredis.Miniredis, f *Fleet) {
	t.Helper()
	scope := "flush-" + strconv.FormatUint(rand.Uint64(), 36)
	f.Hold(scope, hold(time.Minute))
	require.Eventually(t, func() bool { return m.Exists("memerr:hold:{" + scope + "}") }, slow, poll)
}
