package memerrfleet

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/memerr/memerr"
	"github.com/redis/go-redis/v9"
)

// One trial per fleet: when a shared open circuit ends, the transport of
// each replica asks Probe before sending to the scope; the lease in Redis
// (<prefix>lease:<scope>) elects one replica, whose Verdict closes the
// circuit for all or gives the lease up (after a failure, the transport
// has shared a new open circuit first). See memerr.FleetProber.

// leaseScript takes the trial lease KEYS[1] for ARGV[2] ms with the token
// ARGV[1], unless a lease runs or the hold KEYS[2] runs again. It answers
// {"won", 0}; {"taken", ms left}; {"closed", ms left} when a trial has
// closed the circuit that ended at ARGV[3] (Unix ms) or later; or {"held",
// value} when the hold ends after now (ARGV[4]) and not past the bound
// ARGV[5] (a failed trial's new open circuit whose message has not arrived
// yet; a value over 1 KiB is not read). A stored lease without expiry or
// longer than a lease, or a key of another type (corrupt), is taken over.
var leaseScript = redis.NewScript(stringOf + `
local h = str(KEYS[2])
if h and #h <= 1024 then
  local u = string.match(h, '^v%d|(%d+)|')
  u = u and tonumber(u)
  if u and u > tonumber(ARGV[4]) and u <= tonumber(ARGV[5]) then
    return {'held', h}
  end
end
local cur = str(KEYS[1])
if cur then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 and ttl <= tonumber(ARGV[2]) then
    local closed = string.match(cur, '^closed|(%d+)$')
    closed = closed and tonumber(closed)
    if not closed then
      return {'taken', ttl}
    end
    if closed >= tonumber(ARGV[3]) then
      return {'closed', ttl}
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {'won', 0}
`)

// closeScript records a trial's success: the lease KEYS[1] reads
// "closed|<ARGV[2]>" for ARGV[1] ms, the hold KEYS[2] is deleted unless
// it ends after ARGV[2] (a newer hold; a key of another type is no hold),
// and ARGV[4] is published on ARGV[3].
var closeScript = redis.NewScript(stringOf + `
redis.call('SET', KEYS[1], 'closed|' .. ARGV[2], 'PX', ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  local cur = str(KEYS[2])
  local u = cur and string.match(cur, '^v%d|(%d+)|')
  u = u and tonumber(u)
  if not u or u <= tonumber(ARGV[2]) then
    redis.call('DEL', KEYS[2])
  end
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`)

// releaseScript gives the lease KEYS[1] up if it still holds the token
// ARGV[1].
var releaseScript = redis.NewScript(stringOf + `
if str(KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
`)

// Probe asks for the lease of scope's trial request, once its shared open
// circuit has ended (memerr.FleetProber): true for the one request of the
// fleet that sends it, false for the others. While this replica knows of a
// lease (its own trial, or another replica's until it expires), it answers
// false without I/O; otherwise it runs one script in Redis, bounded by
// WithTimeout and ctx. When Redis does not answer (or is known to be
// away), it answers true: each replica then probes for itself.
func (f *Fleet) Probe(ctx context.Context, scope string) bool {
	now := f.now()
	token := strconv.FormatUint(rand.Uint64(), 36)
	f.mu.Lock()
	if p, ok := f.probes[scope]; ok && p.until.After(now) {
		f.mu.Unlock()
		return false
	}
	f.probes[scope] = probe{until: now.Add(f.lease), token: token}
	var ended int64 // the end of the open circuit on trial, Unix ms
	if h, ok := f.holds[scope]; ok && isCircuit(h) {
		ended = h.Until.UnixMilli()
	}
	f.mu.Unlock()

	if !f.isDegraded() {
		rctx, cancel := context.WithTimeout(ctx, f.timeout)
		res, err := leaseScript.Run(rctx, f.client, []string{f.leaseKey(scope), f.key(scope)}, token, f.lease.Milliseconds(), ended,
			now.UnixMilli(), now.Add(memerr.MaxHint+skewSlack).UnixMilli()).Slice()
		cancel()
		switch state, left, held := leaseAnswer(res); {
		case err != nil && ctx.Err() != nil:
			f.forget(scope, token) // the caller gave up; the lease, if taken, expires
			return false
		case err != nil:
			if f.ctx.Err() == nil { // after Close, a client closed by the shutdown is no outage
				f.fail(err)
			}
			// fail-open: this replica probes for itself
		case state == "taken":
			f.mu.Lock()
			if f.probes[scope].token == token {
				f.probes[scope] = probe{until: now.Add(min(left, f.lease))}
			}
			f.mu.Unlock()
			return false
		case state == "held":
			f.forget(scope, token)
			f.apply(scope, held) // a corrupt value is counted and ignored
			return false
		case state == "closed":
			// A trial closed it and this replica missed the message (or
			// read the ended hold again just before): the request goes,
			// and its verdict is shared again.
			f.circuitClosed(scope, time.UnixMilli(ended))
			return true
		case state != "won":
			f.ignore("malformed lease answer") // fail-open
		}
	}
	f.trials.Add(1)
	return true
}

// leaseAnswer reads leaseScript's answer: the time a lease has left, or
// the value of a running hold.
func leaseAnswer(res []any) (state string, left time.Duration, held string) {
	if len(res) != 2 {
		return "", 0, ""
	}
	state, _ = res[0].(string)
	ms, _ := res[1].(int64)
	held, _ = res[1].(string)
	return state, time.Duration(max(ms, 0)) * time.Millisecond, held
}

// Verdict ends the trial Probe granted (memerr.FleetProber). closed: the
// open circuit that ended is forgotten here at once, and, through Redis,
// by every replica; otherwise the lease is given up. It never blocks: the
// Redis work is queued behind the holds (so a failed trial's new hold is
// stored before its lease is given up).
func (f *Fleet) Verdict(scope string, closed bool) {
	now := f.now()
	f.mu.Lock()
	p := f.probes[scope]
	delete(f.probes, scope)
	var ended time.Time
	if h, ok := f.holds[scope]; closed && ok && isCircuit(h) && !h.Until.After(now) {
		ended = h.Until
		delete(f.holds, scope)
		f.noteClosed(scope, ended, now)
	}
	f.mu.Unlock()
	if p.token == "" && ended.IsZero() {
		return
	}
	select {
	case f.queue <- write{scope: scope, end: &trialEnd{closed: !ended.IsZero(), token: p.token, at: ended}}:
	default:
		f.dropped.Add(1) // the lease expires by itself
	}
}

// endTrial writes a verdict to Redis: on success the lease reads closed,
// the ended hold is deleted and the others are told; otherwise the lease
// is given up.
func (f *Fleet) endTrial(scope string, e *trialEnd) error {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	if e.closed {
		ms := strconv.FormatInt(e.at.UnixMilli(), 10)
		return closeScript.Run(ctx, f.client, []string{f.leaseKey(scope), f.key(scope)},
			f.lease.Milliseconds(), ms, f.channel, "closed|"+ms+"|"+scope).Err()
	}
	return releaseScript.Run(ctx, f.client, []string{f.leaseKey(scope)}, e.token).Err()
}

// circuitClosed forgets scope's open circuit if it ended at or before at (a trial
// has closed it) and has ended here too, and another replica's lease if
// one is known.
func (f *Fleet) circuitClosed(scope string, at time.Time) {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if h, ok := f.holds[scope]; ok && isCircuit(h) && !h.Until.After(at) && !h.Until.After(now) {
		delete(f.holds, scope)
	}
	f.noteClosed(scope, at, now)
	if p, ok := f.probes[scope]; ok && p.token == "" {
		delete(f.probes, scope)
	}
}

// noteClosed notes that a trial closed scope's open circuit ending at at, so
// that keep refuses it when an older read brings it again. An end after
// now is not noted (a circuit still open cannot have been closed: the
// message is corrupt or its writer's clock runs ahead), nor a new scope's
// when maxHolds are noted. f.mu is held.
func (f *Fleet) noteClosed(scope string, at, now time.Time) {
	cur, ok := f.closes[scope]
	if at.After(now) || ok && !at.After(cur) || !ok && len(f.closes) >= maxHolds {
		return
	}
	f.closes[scope] = at
}

// forget drops this replica's lease of scope if it is still token's.
func (f *Fleet) forget(scope, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.probes[scope].token == token {
		delete(f.probes, scope)
	}
}
