package memerr

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// later moves w's clock on by d, as if d had passed.
func later(w *window, d time.Duration) { w.start = w.start.Add(-d) }

func TestWindowFailureRatio(t *testing.T) {
	s := &BreakerSettings{MinRequests: 4, FailureRatio: 0.5, ConsecutiveFailures: 100}
	w := newWindow(time.Minute, 10)
	w.success()
	assert.False(t, w.failure(s), "1 failure in 2 requests: under MinRequests")
	w.success()
	w.success()
	assert.False(t, w.failure(s), "2 in 5: under the ratio")
	assert.True(t, w.failure(s), "3 in 6: at the ratio")
}

func TestWindowConsecutiveFailures(t *testing.T) {
	s := &BreakerSettings{MinRequests: 1000, FailureRatio: 1, ConsecutiveFailures: 3}
	w := newWindow(time.Minute, 10)
	assert.False(t, w.failure(s))
	assert.False(t, w.failure(s))
	w.success()
	assert.False(t, w.failure(s), "a success ends the run")
	assert.False(t, w.failure(s))
	assert.True(t, w.failure(s), "3 in a row")
}

func TestWindowRollsOver(t *testing.T) {
	s := &BreakerSettings{MinRequests: 4, FailureRatio: 0.5, ConsecutiveFailures: 3}
	w := newWindow(10*time.Second, 10) // buckets of 1 s

	assert.False(t, w.failure(s))
	assert.False(t, w.failure(s))
	later(w, 10*time.Second)
	assert.Zero(t, w.sum(w.fail, w.age()), "a whole window later, the failures have left it")
	assert.False(t, w.failure(s), "the run restarts: its first failures have left the window")
	assert.False(t, w.failure(s))
	assert.True(t, w.failure(s), "3 in a row within the window")

	w.reset()
	assert.Zero(t, w.sum(w.fail, w.age()))
	for i := 0; i < 3; i++ {
		w.success()
	}
	later(w, 5*time.Second)
	w.success()
	assert.False(t, w.failure(s), "1 failure in 5")
	assert.False(t, w.failure(s), "2 in 6")
	later(w, 5*time.Second) // the first three successes leave the window
	assert.Equal(t, uint32(1), w.sum(w.succ, w.age()))
	w.success() // ends the run
	assert.True(t, w.failure(s), "3 failures in 5 requests within the window")
}

func TestWindowLateCountIsDropped(t *testing.T) {
	w := newWindow(10*time.Second, 10)
	later(w, 12*time.Second)
	now := w.age()
	w.add(w.fail, now)
	w.add(w.fail, now-10) // measured a window ago, landing in the same bucket
	assert.Equal(t, uint32(1), w.sum(w.fail, now))
}

func TestWindowConcurrent(t *testing.T) {
	s := &BreakerSettings{MinRequests: 1 << 30, FailureRatio: 1, ConsecutiveFailures: 1 << 30}
	w := newWindow(time.Hour, 10)
	const goroutines, each = 8, 2000
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if i%4 == 0 {
					w.failure(s)
				} else {
					w.success()
				}
			}
		}()
	}
	wg.Wait()
	now := w.age()
	require.Equal(t, uint32(goroutines*each/4), w.sum(w.fail, now), "no failure lost")
	require.Equal(t, uint32(goroutines*each*3/4), w.sum(w.succ, now), "no success lost")
}
