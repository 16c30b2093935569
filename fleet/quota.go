package memerrfleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memerr/memerr"
	"github.com/redis/go-redis/v9"
)

// DefaultQuotaTimeout bounds the Redis round trip of a request under a
// quota (WithQuotaTimeout).
const DefaultQuotaTimeout = 50 * time.Millisecond

// WithQuotaTimeout bounds the one Redis round trip a request to a scope
// with a quota makes (memerr.WithQuota): past it, the request proceeds on
// its replica's local share and the fleet checks Redis on its own
// goroutine. Default: DefaultQuotaTimeout (50 ms); zero or less keeps the
// default. As for WithTimeout, go-redis applies it to the socket only when
// the client sets ContextTimeoutEnabled.
func WithQuotaTimeout(d time.Duration) Option {
	return func(f *Fleet) {
		if d > 0 {
			f.quota.timeout = d
		}
	}
}

// quotas is a Fleet's state for the scopes with a quota.
type quotas struct {
	timeout   time.Duration
	id        string        // this replica's name in the set of replicas
	throttles chan string   // scopes a throttle was observed for, to lower their rate
	cancels   chan string   // scopes a place was given back in (Cancel)
	added     chan struct{} // a scope was added: count the replicas now, not at the next tick
	local     atomic.Bool   // a request's round trip failed: take locally until Redis answers a refresh
	replicas  atomic.Int64  // the replicas seen lately, this one included
	fallback  *memerr.LocalLimiter

	mu     sync.Mutex
	scopes map[string]*quotaScope
}

// quotaScope is what a replica knows of one scope's shared quota.
type quotaScope struct {
	q         memerr.Quota
	rate      atomic.Uint64 // the rate in force last read from Redis (math.Float64bits); 0 if never
	succeeded atomic.Bool   // a success was observed since the last report
}

func newQuotas() *quotas {
	var b [8]byte
	rand.Read(b[:])
	return &quotas{timeout: DefaultQuotaTimeout, id: hex.EncodeToString(b[:]), throttles: make(chan string, 64), cancels: make(chan string, 64),
		added: make(chan struct{}, 1), fallback: memerr.NewLocalLimiter(), scopes: map[string]*quotaScope{}}
}

// scope is the state of scope, made when new; q is the latest quota the
// transport gave for it.
func (qs *quotas) scope(scope string, q memerr.Quota) *quotaScope {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	s, ok := qs.scopes[scope]
	if !ok || s.q != q {
		s = &quotaScope{q: q}
		qs.scopes[scope] = s
		select {
		case qs.added <- struct{}{}:
		default:
		}
	}
	return s
}

// takeScript is GCRA (the generic cell rate algorithm) on one hash per
// scope, in microseconds of Redis's clock: tat, the theoretical arrival
// time of the next request; r, the rate in force (requests per period),
// lowered and raised by aimdScript. A request may go when the clock
// reaches tat less the burst's tolerance; it takes its place (tat moves
// one interval on) only if it can wait that long. A field that is not a
// number, out of its bounds, or a key of another type is read as absent.
// It returns {taken (0/1), wait µs, rate in force × 1000}.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local per, hi, lo = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local burst, maxwait, bound = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ty = redis.call('TYPE', KEYS[1])['ok']
if ty ~= 'hash' and ty ~= 'none' then redis.call('DEL', KEYS[1]) end
local r = tonumber(redis.call('HGET', KEYS[1], 'r'))
if not r or r ~= r or r < lo or r > hi then r = hi end
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat'))
if not tat or tat ~= tat or tat < now or tat > now + bound then tat = now end
local interval = per / r
local wait = tat - (burst - 1) * interval - now
if wait < 0 then wait = 0 end
if wait > maxwait then
  return {0, math.floor(wait), math.floor(r * 1000)}
end
tat = tat + interval
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat))
redis.call('PEXPIRE', KEYS[1], math.ceil((tat - now) / 1000) + 3600000)
return {1, math.floor(wait), math.floor(r * 1000)}
`)

// aimdScript lowers (ARGV[3] = "1") or raises the rate in force of a
// scope's hash, as memerr.Quota's doc says: halved at most once per
// cooldown (ARGV[4], µs), raised by ceiling/60 per second since the last
// increase (at most two seconds' worth), within [floor, ceiling]. The
// hash lives an hour past its last change. It returns the rate × 1000.
var aimdScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hi, lo, cooldown = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
local ty = redis.call('TYPE', KEYS[1])['ok']
if ty ~= 'hash' and ty ~= 'none' then redis.call('DEL', KEYS[1]) end
local r = tonumber(redis.call('HGET', KEYS[1], 'r'))
if not r or r ~= r or r < lo or r > hi then r = hi end
if ARGV[3] == '1' then
  local down = tonumber(redis.call('HGET', KEYS[1], 'down'))
  if not down or down ~= down or down > now then down = 0 end
  if now - down >= cooldown then
    r = r / 2
    redis.call('HSET', KEYS[1], 'down', string.format('%.0f', now))
  end
else
  local up = tonumber(redis.call('HGET', KEYS[1], 'up'))
  if not up or up ~= up or up > now then up = 0 end
  r = r + hi / 60 * math.min((now - up) / 1000000, 2)
  redis.call('HSET', KEYS[1], 'up', string.format('%.0f', now))
end
if r < lo then r = lo end
if r > hi then r = hi end
redis.call('HSET', KEYS[1], 'r', string.format('%.6f', r))
if redis.call('PTTL', KEYS[1]) < 3600000 then redis.call('PEXPIRE', KEYS[1], 3600000) end
return math.floor(r * 1000)
`)

func (f *Fleet) quotaKey(scope string) string { return f.prefix + "quota:" + scope }

// Take implements memerr.Limiter for the whole fleet: one Redis round trip,
// bounded by WithQuotaTimeout, takes the request's place in the scope's
// shared GCRA. When Redis is degraded or the round trip fails, the request
// is taken from this replica's share of the quota instead (the rate in
// force last read, divided by the replicas seen lately), kept in memory.
func (f *Fleet) Take(scope string, q memerr.Quota, maxWait time.Duration) (time.Duration, bool) {
	s := f.quota.scope(scope, q)
	if f.isDegraded() || f.quota.local.Load() {
		return f.quota.fallback.Take(scope, f.share(s), maxWait)
	}
	hi, lo, burst := q.Bounds()
	ctx, cancel := context.WithTimeout(f.ctx, f.quota.timeout)
	res, err := takeScript.Run(ctx, f.client, []string{f.quotaKey(scope)},
		q.Per.Microseconds(), hi, lo, burst, maxWait.Microseconds(), memerr.MaxHint.Microseconds()).Int64Slice()
	cancel()
	if err != nil || len(res) != 3 {
		if f.quota.local.CompareAndSwap(false, true) {
			f.askRefresh() // the fleet finds out on its own goroutine whether Redis is down
		}
		return f.quota.fallback.Take(scope, f.share(s), maxWait)
	}
	if r := float64(res[2]) / 1000; r >= lo && r <= hi {
		s.rate.Store(math.Float64bits(r))
	}
	return min(max(0, time.Duration(res[1])*time.Microsecond), memerr.MaxHint), res[0] == 1
}

// Observe implements memerr.Limiter: a throttle is sent to Redis at once
// (on the fleet's goroutine) to lower the scope's shared rate; successes
// are reported once per refresh period to raise it. Both also reach this
// replica's local share, used while Redis is away.
func (f *Fleet) Observe(scope string, q memerr.Quota, throttled bool) {
	s := f.quota.scope(scope, q)
	f.quota.fallback.Observe(scope, f.share(s), throttled)
	if !throttled {
		if !s.succeeded.Load() {
			s.succeeded.Store(true)
		}
		return
	}
	select {
	case f.quota.throttles <- scope:
	default: // many at once: the cooldown would ignore them anyway
	}
}

// share is this replica's part of s's quota while Redis is away: the rate
// in force last read from Redis (the quota's own if none), divided by the
// replicas seen lately, as a quota over a longer period.
func (f *Fleet) share(s *quotaScope) memerr.Quota {
	q := s.q
	hi, _, _ := q.Bounds()
	rate := math.Float64frombits(s.rate.Load())
	if rate <= 0 || rate > hi {
		rate = hi
	}
	n := float64(max(1, f.quota.replicas.Load()))
	q.Per = time.Duration(float64(q.Per) * n * hi / rate)
	return q
}

// quotaLoop lowers the shared rate of a throttled scope at once, and each
// refresh period raises the rate of the scopes that saw successes and
// counts the replicas (for the local share).
func (f *Fleet) quotaLoop() {
	defer f.wg.Done()
	tick := time.NewTicker(f.refresh)
	defer tick.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-f.quota.added:
			seen := f.outages()
			f.result(seen, f.countReplicas())
		case scope := <-f.quota.cancels:
			if s := f.quota.lookup(scope); s != nil {
				seen := f.outages()
				f.result(seen, f.giveBack(scope, s))
			}
		case scope := <-f.quota.throttles:
			if s := f.quota.lookup(scope); s != nil {
				seen := f.outages()
				f.result(seen, f.adjust(scope, s, true))
			}
		case <-tick.C:
			f.quota.mu.Lock()
			var raised []string
			for scope, s := range f.quota.scopes {
				if s.succeeded.Swap(false) {
					raised = append(raised, scope)
				}
			}
			empty := len(f.quota.scopes) == 0
			f.quota.mu.Unlock()
			if empty {
				continue
			}
			seen := f.outages()
			err := f.countReplicas()
			for _, scope := range raised {
				if s := f.quota.lookup(scope); s != nil && err == nil {
					err = f.adjust(scope, s, false)
				}
			}
			f.result(seen, err)
		}
	}
}

func (qs *quotas) lookup(scope string) *quotaScope {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	return qs.scopes[scope]
}

// Cancel implements memerr.QuotaCanceler: a request that Take gave a
// place to was not sent after all (its context ended while it waited its
// turn, or an open breaker refused it), so the scope's next place comes
// one interval earlier, if it is still ahead, for the whole fleet. The
// Redis call is made on the fleet's goroutine: Cancel never blocks, and
// many at once may be dropped, as they are then waited out in a few
// intervals anyway. Taken from this replica's local share (Redis away),
// the place goes back there.
func (f *Fleet) Cancel(scope string, q memerr.Quota) {
	if f.isDegraded() || f.quota.local.Load() {
		f.quota.fallback.Cancel(scope, f.share(f.quota.scope(scope, q)))
		return
	}
	f.quota.scope(scope, q)
	select {
	case f.quota.cancels <- scope:
	default:
	}
}

// giveBack runs cancelScript for scope.
func (f *Fleet) giveBack(scope string, s *quotaScope) error {
	hi, lo, _ := s.q.Bounds()
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	return cancelScript.Run(ctx, f.client, []string{f.quotaKey(scope)}, s.q.Per.Microseconds(), hi, lo).Err()
}

// cancelScript moves a scope's tat (see takeScript) one interval back when
// it is still ahead of Redis's clock (takeScript reads a tat behind the
// clock as now). A hash that is not there, or holds no number, is left
// alone.
var cancelScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local per, hi, lo = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return 0 end
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat'))
if not tat or tat ~= tat or tat <= now then return 0 end
local r = tonumber(redis.call('HGET', KEYS[1], 'r'))
if not r or r ~= r or r < lo or r > hi then r = hi end
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', tat - per / r))
return 1
`)

// adjust runs aimdScript for scope.
func (f *Fleet) adjust(scope string, s *quotaScope, throttled bool) error {
	hi, lo, _ := s.q.Bounds()
	flag := "0"
	if throttled {
		flag = "1"
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	r, err := aimdScript.Run(ctx, f.client, []string{f.quotaKey(scope)}, hi, lo, flag, memerr.QuotaCooldown.Microseconds()).Int64()
	if err == nil {
		if rate := float64(r) / 1000; rate >= lo && rate <= hi {
			s.rate.Store(math.Float64bits(rate))
		}
	}
	return err
}

// replicasScript notes the replica ARGV[1] in the sorted set KEYS[1],
// scored by Redis's clock (ms), forgets those not seen for ARGV[2] ms, and
// counts the rest; the set lives an hour past its last note. Redis's clock,
// as for the quota: a replica whose clock runs behind would otherwise be
// dropped by the others at every count, one ahead kept long after it died.
// A key of another type is written over.
var replicasScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ty = redis.call('TYPE', KEYS[1])['ok']
if ty ~= 'zset' and ty ~= 'none' then redis.call('DEL', KEYS[1]) end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], 3600000)
return redis.call('ZCARD', KEYS[1])
`)

// countReplicas notes this replica in the sorted set of replicas (scored
// by the time Redis last saw it), forgets those not seen for three refresh
// periods, and counts the rest.
func (f *Fleet) countReplicas() error {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	n, err := replicasScript.Run(ctx, f.client, []string{f.prefix + "replicas"}, f.quota.id, (3 * f.refresh).Milliseconds()).Int64()
	if err == nil {
		f.quota.replicas.Store(min(max(1, n), 10000))
	}
	return err
}
