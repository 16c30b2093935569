package memerr

import (
	"sync/atomic"
	"time"
)

// window keeps the counts a closed breaker trips on: successes and failures
// over a rolling window of buckets, and the current run of failures in a
// row. It takes no lock: each bucket is one atomic word holding the age of
// the bucket (in bucket periods since start) in its high half and the count
// in its low half, so that a bucket that has rolled out of the window is
// recognised by its age and restarted by the first request to land in it.
// A request costs one monotonic clock read and one compare-and-swap.
type window struct {
	start  time.Time // monotonic origin of the ages
	period time.Duration
	succ   []atomic.Uint64 // age<<32 | successes, one per bucket
	fail   []atomic.Uint64 // age<<32 | failures, one per bucket
	run    atomic.Uint64   // age of the run's first failure<<32 | failures in a row
}

func newWindow(span time.Duration, buckets int) *window {
	return &window{
		start:  time.Now(),
		period: max(span/time.Duration(buckets), 1),
		succ:   make([]atomic.Uint64, buckets),
		fail:   make([]atomic.Uint64, buckets),
	}
}

// age is the current bucket age. Ages are compared by their difference,
// which survives their wrap at 2³² periods; only a bucket left untouched
// for a multiple of 2³² periods (800 years at the default period of 6 s)
// could be taken for a current one.
func (w *window) age() uint32 { return uint32(time.Since(w.start) / w.period) }

// inWindow reports whether a bucket of age a is within the window at age now.
func (w *window) inWindow(a, now uint32) bool { return now-a < uint32(len(w.succ)) }

// add counts one event at age now in its bucket of bs.
func (w *window) add(bs []atomic.Uint64, now uint32) {
	b := &bs[now%uint32(len(bs))]
	for {
		old := b.Load()
		next := uint64(now)<<32 | 1
		switch a := uint32(old >> 32); {
		case a == now:
			next = old + 1
		case int32(now-a) < 0:
			return // a later request has restarted the bucket; this one is too old to count
		}
		if b.CompareAndSwap(old, next) {
			return
		}
	}
}

// sum is the count of the buckets of bs within the window at age now.
func (w *window) sum(bs []atomic.Uint64, now uint32) uint32 {
	var n uint32
	for i := range bs {
		v := bs[i].Load()
		if w.inWindow(uint32(v>>32), now) {
			n += uint32(v)
		}
	}
	return n
}

// success counts a success and ends the run of failures.
func (w *window) success() {
	w.add(w.succ, w.age())
	if w.run.Load() != 0 {
		w.run.Store(0)
	}
}

// failure counts a failure, extends the run (or starts one when there is
// none, or its first failure has left the window) and reports whether the
// breaker should now trip.
func (w *window) failure(s *BreakerSettings) bool {
	now := w.age()
	w.add(w.fail, now)
	for {
		old := w.run.Load()
		next := uint64(now)<<32 | 1
		if uint32(old) != 0 && w.inWindow(uint32(old>>32), now) {
			next = old + 1
		}
		if w.run.CompareAndSwap(old, next) {
			break
		}
	}
	return w.trips(s, now)
}

// trips reports whether the counts at age now meet either trip condition.
func (w *window) trips(s *BreakerSettings, now uint32) bool {
	if r := w.run.Load(); uint32(r) >= s.ConsecutiveFailures && w.inWindow(uint32(r>>32), now) {
		return true
	}
	f := w.sum(w.fail, now)
	counted := f + w.sum(w.succ, now)
	return counted >= s.MinRequests && float64(f) >= s.FailureRatio*float64(counted)
}

// reset forgets every count, for a breaker that has just closed.
func (w *window) reset() {
	for i := range w.succ {
		w.succ[i].Store(0)
		w.fail[i].Store(0)
	}
	w.run.Store(0)
}
