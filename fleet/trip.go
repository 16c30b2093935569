package memerrfleet

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/memerr/memerr"
	"github.com/redis/go-redis/v9"
)

// Tripping together: the transport of each replica reports its breaker's
// failures (Failed) and successes (Succeeded) for a scope; one count of
// failures in a row per scope (<prefix>fails:<scope>) is kept in Redis for
// the whole fleet, and the replica whose failure makes it reach the
// breaker's ConsecutiveFailures opens the circuit for all (a circuit hold,
// as a replica's own open breaker shares). Each change of the count is
// published ("fails|<n>|<scope>" on the holds channel), so every replica
// knows whether the count is above zero: a success asks Redis to start it
// again only then. See memerr.FleetTripper.

// failScript counts one failure of a scope in KEYS[1], which expires
// ARGV[2] ms after the last. A value that is not a count below the
// threshold ARGV[1] (a trip clears the count, so no such value is stored)
// or a key of another type is read as zero. When the count reaches the
// threshold, it is cleared and the answer is 1: the caller opens the
// circuit. The new count (0 after a trip) is published on ARGV[3] as
// "fails|<n>|" .. ARGV[4].
var failScript = redis.NewScript(`
local limit = tonumber(ARGV[1])
local n = 0
if redis.call('TYPE', KEYS[1])['ok'] == 'string' then
  local v = redis.call('GET', KEYS[1])
  if #v <= 10 and string.match(v, '^%d+$') then n = tonumber(v) end
end
if n >= limit then n = 0 end
n = n + 1
if n >= limit then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[3], 'fails|0|' .. ARGV[4])
  return 1
end
redis.call('SET', KEYS[1], n, 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], 'fails|' .. n .. '|' .. ARGV[4])
return 0
`)

// resetScript starts a scope's count KEYS[1] again after a success, and
// publishes ARGV[2] on ARGV[1] if there was one.
var resetScript = redis.NewScript(`
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('PUBLISH', ARGV[1], ARGV[2])
end
return 0
`)

// maxCount bounds a count read from a message; a larger one is ignored.
const maxCount = 1 << 30

// count is the fleet's count of failures in a row of a scope as this
// replica knows it, when above zero.
type count struct {
	n  int64
	at time.Time // when it was learned, for prune
}

// failure is a breaker failure to count in Redis (reset false), or a
// success to start the count again (reset true).
type failure struct {
	reset    bool
	settings memerr.BreakerSettings
}

// Failed counts a breaker failure of scope across the fleet
// (memerr.FleetTripper). It never blocks: the count is queued behind the
// holds for the write goroutine, which runs one script in Redis; when the
// fleet's failures in a row reach s.ConsecutiveFailures, that goroutine
// opens the scope's circuit for every replica for s.OpenTimeout (Hold).
// The count expires s.Window after the last failure. In the degraded mode
// nothing is counted: each replica's breaker decides alone.
func (f *Fleet) Failed(scope string, s memerr.BreakerSettings) {
	if f.isDegraded() {
		return
	}
	f.mu.Lock()
	c := f.counts[scope]
	f.counts[scope] = count{n: max(c.n, 1), at: f.now()} // the next success resets it, whatever Redis answers
	f.mu.Unlock()
	f.enqueue(write{scope: scope, fail: &failure{settings: s}})
}

// Succeeded starts the fleet's count of scope's failures again
// (memerr.FleetTripper). While this replica knows the count to be zero,
// which is always the case while nothing fails, it costs a map read under
// a read lock: no I/O, no allocation. Otherwise it queues the reset for
// the write goroutine and never blocks.
func (f *Fleet) Succeeded(scope string) {
	f.mu.RLock()
	_, ok := f.counts[scope]
	f.mu.RUnlock()
	if !ok {
		return
	}
	f.mu.Lock()
	_, ok = f.counts[scope]
	delete(f.counts, scope)
	f.mu.Unlock()
	if ok && !f.isDegraded() {
		f.enqueue(write{scope: scope, fail: &failure{reset: true}})
	}
}

// enqueue queues w for the write goroutine, or drops it (counted in
// Stats.Dropped) when the queue is full.
func (f *Fleet) enqueue(w write) {
	select {
	case f.queue <- w:
	default:
		f.dropped.Add(1)
	}
}

// failKey is the key of scope's count of failures in a row.
func (f *Fleet) failKey(scope string) string { return f.prefix + "fails:" + scope }

// countFailure runs a failure or a reset in Redis, on the write goroutine. A
// failure that makes the count reach the threshold opens the circuit
// here, and the open circuit is written and published at once.
func (f *Fleet) countFailure(scope string, w *failure) error {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	keys := []string{f.failKey(scope)}
	if w.reset {
		return resetScript.Run(ctx, f.client, keys, f.channel, "fails|0|"+scope).Err()
	}
	s := w.settings
	window := max(s.Window, time.Second).Milliseconds()
	tripped, err := failScript.Run(ctx, f.client, keys, max(s.ConsecutiveFailures, 1), window, f.channel, scope).Int()
	if err != nil || tripped != 1 {
		return err
	}
	open := max(s.OpenTimeout, time.Millisecond)
	h := memerr.FleetHold{Until: f.now().Add(open), Kind: memerr.KindUnavailable, Code: circuitOpen, Period: open}
	if !f.keep(scope, h, false) {
		return nil // a later hold runs already
	}
	f.trips.Add(1)
	return f.write(write{scope: scope, hold: h})
}

// applyCount applies a published count, "<n>|<scope>" after "fails|".
func (f *Fleet) applyCount(p string) {
	num, scope, _ := strings.Cut(p, "|")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > maxCount || scope == "" {
		f.ignore("malformed count")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n == 0 {
		delete(f.counts, scope)
		return
	}
	if _, ok := f.counts[scope]; ok || len(f.counts) < maxHolds {
		f.counts[scope] = count{n: n, at: f.now()}
	}
}
