package memerrfleet

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memerr/memerr"
	"github.com/redis/go-redis/v9"
)

// Defaults of the options.
const (
	DefaultPrefix  = "memerr:"
	DefaultRefresh = time.Second
	DefaultTimeout = 500 * time.Millisecond
	// DefaultLease is how long the replica elected to send the trial of
	// an ended open circuit holds its lease (see WithLease).
	DefaultLease = 5 * time.Second
	// queueSize bounds the holds waiting to be written to Redis; a hold
	// beyond it stays local and is counted in Stats.Dropped.
	queueSize = 1024
	// maxValue bounds a value or message read from Redis; a longer one is
	// ignored unread.
	maxValue = 1024
	// rewriteBatch is the holds written in one pipeline when Redis returns.
	rewriteBatch = 200
	// scanLimit bounds the keys one refresh reads.
	scanLimit = 10000
	// maxHolds bounds the holds learned from Redis kept at once: a flood
	// of scopes published by a broken or hostile writer is ignored beyond
	// it (the replica's own holds are always kept).
	maxHolds = 10000
	// skewSlack is how far past now + memerr.MaxHint a hold may end and
	// still be believed (the writer's clock may run ahead of ours).
	skewSlack = time.Minute
	// circuitGrace is how long an open circuit that has ended stays known
	// (locally and in Redis) while no trial has closed it: the first
	// request after it is the fleet's trial. After it, the circuit is
	// forgotten and each replica's breaker decides alone.
	circuitGrace = 10 * time.Minute
	// circuitOpen is the Code of a replica's open circuit.
	circuitOpen = "circuit_open"
)

// Fleet is a memerr.Fleet on Redis, and a memerr.Limiter for the quotas of
// memerr.WithQuota. Create it with New, hand it to every Transport of the
// process with memerr.WithFleet, and Close it on shutdown.
// It is safe for concurrent use.
type Fleet struct {
	client  redis.UniversalClient
	prefix  string // keys: prefix + "hold:{" + scope + "}" and others (README.md, "Keys")
	channel string // prefix + "holds"
	refresh time.Duration
	timeout time.Duration
	lease   time.Duration
	logger  *slog.Logger
	hooks   Hooks
	now     func() time.Time

	mu     sync.RWMutex
	holds  map[string]memerr.FleetHold
	probes map[string]probe // trial leases known locally, by scope
	// closes is, by scope, the end of the last open circuit a trial closed,
	// as this replica learned it: a read of Redis or a message older than
	// that verdict does not bring the circuit back (keep).
	closes map[string]time.Time
	counts map[string]count // the fleet's failures in a row, by scope, when above zero (trip.go)

	queue    chan write
	poke     chan struct{} // asks the refresh loop for a refresh now
	again    chan struct{} // asks the write loop to write every local hold again
	degraded atomic.Uint64 // bit 0: the degraded mode is on; the rest: how many times it was entered (outages)
	// change serializes the changes of the degraded mode with their logs
	// and hooks: OnRecovered never runs before, or while, the OnDegraded
	// it follows.
	change  sync.Mutex
	dropped atomic.Uint64
	ignored atomic.Uint64
	applied atomic.Uint64
	trials  atomic.Uint64
	trips   atomic.Uint64
	quota   *quotas

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// write is a hold to store in Redis, or (end set) the end of a trial, or
// (fail set) a breaker failure to count or a success to reset the count.
type write struct {
	scope string
	hold  memerr.FleetHold
	end   *trialEnd
	fail  *failure
}

// probe is a trial lease known locally: this replica's (token set), or
// another's, until its end; no request of the scope asks Redis before then.
type probe struct {
	until time.Time
	token string
}

// trialEnd is the verdict of this replica's trial, for Redis.
type trialEnd struct {
	closed bool
	token  string
	at     time.Time
}

// Hooks make the fleet's degraded mode visible. They must not block for
// long: they run on the fleet's own goroutines, except OnDegraded when a
// trial's lease call (Probe) is the first to find Redis not answering,
// which runs it on that request's goroutine. They run one at a time, in
// the order of the changes they report: OnRecovered never runs before, or
// while, the OnDegraded it follows (the change waits for it).
type Hooks struct {
	// OnDegraded runs when Redis stops answering (down, slow past the
	// timeout, or answering errors): holds are then shared no more, each
	// replica keeps its own, and requests proceed on local state.
	OnDegraded func(err error)
	// OnRecovered runs when Redis answers again (an operation started
	// after the failure succeeds); the holds this replica still keeps are
	// written again so that the others learn them.
	OnRecovered func()
}

// Stats counts what the fleet did since New.
type Stats struct {
	Degraded bool   // Redis is not answering now
	Applied  uint64 // holds of other replicas (or of Redis) that were newer than the local copy
	Ignored  uint64 // values or messages read from Redis that were corrupt, out of range or too long
	Dropped  uint64 // holds not written to Redis because the queue was full
	Trials   uint64 // trials of an ended open circuit this replica was elected to send
	Trips    uint64 // open circuits this replica opened for the fleet, its failure making the fleet's count reach the threshold
}

// Option configures a Fleet.
type Option func(*Fleet)

// WithPrefix sets the prefix of the fleet's keys and channel in Redis, so
// that several services (or environments) share one Redis. Default:
// DefaultPrefix ("memerr:").
func WithPrefix(p string) Option { return func(f *Fleet) { f.prefix = p } }

// WithRefresh sets how often the fleet reads every hold from Redis, which
// repairs a missed message. Default: DefaultRefresh (1 s); zero or less
// keeps the default.
func WithRefresh(d time.Duration) Option {
	return func(f *Fleet) {
		if d > 0 {
			f.refresh = d
		}
	}
}

// WithTimeout bounds each Redis operation the fleet makes (on its own
// goroutines). go-redis applies it to the socket only when the client's
// ContextTimeoutEnabled is set; otherwise its ReadTimeout and WriteTimeout
// bound the operation. Default: DefaultTimeout (500 ms); zero or less
// keeps the default.
func WithTimeout(d time.Duration) Option {
	return func(f *Fleet) {
		if d > 0 {
			f.timeout = d
		}
	}
}

// WithLease sets how long the replica elected to send the trial request of
// an ended open circuit holds the lease: if it dies (or its trial takes
// longer), another replica sends the trial once the lease has expired.
// Give every replica the same lease, longer than the attempt timeout.
// Default: DefaultLease (5 s); zero or less keeps the default.
func WithLease(d time.Duration) Option {
	return func(f *Fleet) {
		if d > 0 {
			f.lease = d
		}
	}
}

// WithLogger logs the degraded mode (Warn when Redis stops answering, Info
// when it answers again) and ignored values (Debug). Default: silent.
func WithLogger(l *slog.Logger) Option { return func(f *Fleet) { f.logger = l } }

// WithHooks sets callbacks for the degraded mode. Default: none.
func WithHooks(h Hooks) Option { return func(f *Fleet) { f.hooks = h } }

// New returns a Fleet sharing holds through client, the caller's own
// configured client (auth, TLS, cluster or sentinel are its concern; Close
// does not close it). It starts four goroutines: one writes holds to
// Redis, one receives the other replicas' holds, one refreshes every hold
// from Redis, one adjusts the shared quotas' rates (see Take). New does not wait for Redis: a fleet whose Redis is down
// works on local state and catches up when Redis answers.
func New(client redis.UniversalClient, opts ...Option) *Fleet {
	f := &Fleet{
		client:  client,
		prefix:  DefaultPrefix,
		refresh: DefaultRefresh,
		timeout: DefaultTimeout,
		lease:   DefaultLease,
		now:     time.Now,
		holds:   map[string]memerr.FleetHold{},
		probes:  map[string]probe{},
		closes:  map[string]time.Time{},
		counts:  map[string]count{},
		queue:   make(chan write, queueSize),
		poke:    make(chan struct{}, 1),
		again:   make(chan struct{}, 1),
		quota:   newQuotas(),
	}
	for _, o := range opts {
		if o != nil {
			o(f)
		}
	}
	f.channel = f.prefix + "holds"
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.wg.Add(4)
	go f.writeLoop()
	go f.subscribeLoop()
	go f.refreshLoop()
	go f.quotaLoop()
	return f
}

// Close stops the fleet's goroutines and waits for them. Holds not yet
// written are dropped. The Redis client stays open. After Close, the
// degraded mode is no longer entered: a request still running through a
// Transport may find the client closed by the shutdown.
func (f *Fleet) Close() error {
	f.closed.Do(func() {
		f.cancel()
		f.wg.Wait()
	})
	return nil
}

// Stats returns the fleet's counters.
func (f *Fleet) Stats() Stats {
	return Stats{Degraded: f.isDegraded(), Applied: f.applied.Load(), Ignored: f.ignored.Load(), Dropped: f.dropped.Load(),
		Trials: f.trials.Load(), Trips: f.trips.Load()}
}

// Active is the number of holds this replica knows that have not ended,
// its own and the other replicas' (for memerrotel's WithFleetHolds).
func (f *Fleet) Active() int {
	now := f.now()
	n := 0
	f.mu.RLock()
	for _, h := range f.holds {
		if h.Until.After(now) {
			n++
		}
	}
	f.mu.RUnlock()
	return n
}

// Hold records h for scope locally at once, keeping the later of two
// holds, and queues it for Redis; it never blocks (a full queue drops
// it, counted in Stats.Dropped).
func (f *Fleet) Hold(scope string, h memerr.FleetHold) {
	if !f.keep(scope, h, false) {
		return
	}
	select {
	case f.queue <- write{scope: scope, hold: h}:
	default:
		f.dropped.Add(1)
	}
}

// Held is the hold known locally for scope; no I/O. An open circuit that
// has ended stays known until a trial closes it (see Probe), for at most
// ten minutes.
func (f *Fleet) Held(scope string) (memerr.FleetHold, bool) {
	f.mu.RLock()
	h, ok := f.holds[scope]
	f.mu.RUnlock()
	return h, ok
}

// keep stores h for scope unless the local copy ends as late or later,
// or h comes from Redis (remote) for a new scope when maxHolds are kept,
// or h is an open circuit from Redis that a trial has closed (a refresh or
// a message that left Redis before the verdict, and arrives after it).
// Another replica's lease of the scope's trial, if known, is forgotten: a
// later hold ends that trial.
func (f *Fleet) keep(scope string, h memerr.FleetHold, remote bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.holds[scope]
	if ok && !h.Until.After(cur.Until) || !ok && remote && len(f.holds) >= maxHolds {
		return false
	}
	if remote && isCircuit(h) && !h.Until.After(f.closes[scope]) {
		return false
	}
	f.holds[scope] = h
	if p, ok := f.probes[scope]; ok && p.token == "" {
		delete(f.probes, scope)
	}
	return true
}

// isCircuit reports whether h is a replica's open circuit.
func isCircuit(h memerr.FleetHold) bool {
	return h.Kind == memerr.KindUnavailable && h.Code == circuitOpen
}

// live reports whether h is still worth keeping at now: it has not ended,
// or it is an open circuit that ended less than circuitGrace ago.
func live(h memerr.FleetHold, now time.Time) bool {
	if isCircuit(h) {
		return h.Until.Add(circuitGrace).After(now)
	}
	return h.Until.After(now)
}

// stringOf is the Lua of the scripts' reading of a key: its value when it
// is a string, false when it is absent or of another type (another
// program's key under the prefix, or a hostile writer's), which the
// script then writes over as it does an unreadable value: a GET of it
// would fail the script, and with it the fleet's Redis, for one key.
const stringOf = `
local function str(k)
  if redis.call('TYPE', k)['ok'] == 'string' then return redis.call('GET', k) end
  return false
end
`

// holdScript keeps the later of two holds: the stored one stays when it
// ends as late or later, unless it is unreadable (or not a string) or ends
// past the bound (ARGV[5]), which a real hold cannot. Otherwise the new
// one is stored to expire when it ends, and published.
var holdScript = redis.NewScript(stringOf + `
local cur = str(KEYS[1])
if cur then
  local u = string.match(cur, '^v%d|(%d+)|')
  u = u and tonumber(u)
  if u and u >= tonumber(ARGV[1]) and u <= tonumber(ARGV[5]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[6], ARGV[4])
return 1
`)

// writeLoop writes queued holds to Redis, one at a time, and all the
// local holds again when Redis returns.
func (f *Fleet) writeLoop() {
	defer f.wg.Done()
	for {
		select {
		case <-f.ctx.Done():
			return
		case w := <-f.queue:
			seen := f.outages()
			switch {
			case w.end != nil:
				f.result(seen, f.endTrial(w.scope, w.end))
			case w.fail != nil:
				f.result(seen, f.countFailure(w.scope, w.fail))
			default:
				if err := f.write(w); err != errNotLive {
					f.result(seen, err)
				}
			}
		case <-f.again:
			f.rewrite()
		}
	}
}

// errNotLive is write's answer for a hold that ended while it waited: no
// Redis operation, so no news of Redis either.
var errNotLive = errors.New("hold no longer live")

// write stores one hold, keeping the later of two, and publishes it.
func (f *Fleet) write(w write) error {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	keys, args, ok := f.scriptArgs(w, f.now())
	if !ok {
		return errNotLive
	}
	return holdScript.Run(ctx, f.client, keys, args...).Err()
}

// scriptArgs are holdScript's keys and arguments for w; ok is false when
// the hold is no longer live. The key expires when the hold ends, or for
// an open circuit circuitGrace later.
func (f *Fleet) scriptArgs(w write, now time.Time) (keys []string, args []any, ok bool) {
	end := w.hold.Until
	if isCircuit(w.hold) {
		end = end.Add(circuitGrace)
	}
	ttl := end.Sub(now).Milliseconds()
	if ttl <= 0 {
		return nil, nil, false
	}
	v := encode(w.hold)
	return []string{f.key(w.scope)},
		[]any{w.hold.Until.UnixMilli(), v, ttl, v + "|" + w.scope, now.Add(memerr.MaxHint + skewSlack).UnixMilli(), f.channel}, true
}

// key is scope's hold key, <prefix>hold:{<scope>}. The braces are a hash
// tag: on a Redis Cluster, the hold and the lease of a scope (one script
// touches both) are in one slot. A prefix with a hash tag of its own
// ("{myservice}:") puts every key in that tag's slot, which works too.
func (f *Fleet) key(scope string) string { return f.prefix + "hold:{" + scope + "}" }

// leaseKey is the key of scope's trial lease, <prefix>lease:{<scope>}, in
// the slot of its hold key.
func (f *Fleet) leaseKey(scope string) string { return f.prefix + "lease:{" + scope + "}" }

// keyScope is the scope of a hold key read by the refresh: the part in
// braces, or, for a key without them (written by a replica of a previous
// release), the whole rest.
func (f *Fleet) keyScope(key string) string {
	rest := strings.TrimPrefix(key, f.prefix+"hold:")
	if len(rest) >= 2 && rest[0] == '{' && rest[len(rest)-1] == '}' {
		return rest[1 : len(rest)-1]
	}
	return rest
}

// maxResubscribe bounds the pause between two subscriptions while Redis
// does not answer. It is also how soon after Redis returns this replica
// notices (the subscription is what usually notices first), writes its
// own holds back and reads the others': well within a second.
const maxResubscribe = 250 * time.Millisecond

// subscribeLoop applies the holds the other replicas publish, and
// subscribes again whenever the connection fails.
func (f *Fleet) subscribeLoop() {
	defer f.wg.Done()
	pause := 50 * time.Millisecond
	for f.ctx.Err() == nil {
		seen := f.outages()
		ps := f.client.Subscribe(f.ctx, f.channel)
		if err := f.confirm(ps); err != nil {
			ps.Close()
			f.fail(err)
			select {
			case <-f.ctx.Done():
			case <-time.After(pause):
			}
			pause = min(2*pause, maxResubscribe)
			continue
		}
		pause = 50 * time.Millisecond
		f.result(seen, nil)
		// Read what was published while unsubscribed; Close ends a
		// receive in progress.
		f.askRefresh()
		stop := context.AfterFunc(f.ctx, func() { ps.Close() })
		f.receive(ps)
		stop()
		ps.Close()
	}
}

// confirm waits for the subscription's confirmation.
func (f *Fleet) confirm(ps *redis.PubSub) error {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	_, err := ps.ReceiveTimeout(ctx, f.timeout)
	return err
}

// receive applies messages until the connection fails or the fleet closes.
// A quiet connection is pinged every refresh period; when the ping's
// answer (or anything else) does not come within a refresh period or the
// timeout, whichever is longer, the connection has gone silent (its peer
// vanished without closing it, which the kernel reports only after many
// minutes) and receive returns, so that the subscription is made again.
func (f *Fleet) receive(ps *redis.PubSub) {
	wait, pinged := f.refresh, false
	for {
		msg, err := ps.ReceiveTimeout(f.ctx, wait)
		if f.ctx.Err() != nil {
			return
		}
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			if pinged {
				return // no pong: a silent connection; subscribe again
			}
			ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
			err = ps.Ping(ctx)
			cancel()
			if err != nil {
				f.fail(err)
				return
			}
			wait, pinged = max(f.refresh, f.timeout), true
			continue
		case err != nil:
			f.fail(err)
			return
		}
		wait, pinged = f.refresh, false
		if m, ok := msg.(*redis.Message); ok {
			f.applyMessage(m.Payload)
		}
	}
}

// applyMessage applies a published "value|scope", a trial's success,
// "closed|<Unix ms>|scope", or the fleet's count of a scope's failures in
// a row, "fails|<n>|scope".
func (f *Fleet) applyMessage(p string) {
	if len(p) > maxValue {
		f.ignore("message too long")
		return
	}
	if rest, ok := strings.CutPrefix(p, "fails|"); ok {
		f.applyCount(rest)
		return
	}
	if rest, ok := strings.CutPrefix(p, "closed|"); ok {
		at, scope, _ := strings.Cut(rest, "|")
		ms, err := strconv.ParseInt(at, 10, 64)
		if err != nil || scope == "" {
			f.ignore("malformed message")
			return
		}
		f.circuitClosed(scope, time.UnixMilli(ms))
		return
	}
	// The value has five fields (six in v2); the scope is the rest (it
	// may hold '|').
	n := 5
	if strings.HasPrefix(p, "v2|") {
		n = 6
	}
	parts := strings.SplitN(p, "|", n+1)
	if len(parts) != n+1 || parts[n] == "" {
		f.ignore("malformed message")
		return
	}
	f.apply(parts[n], strings.Join(parts[:n], "|"))
}

// apply keeps the hold value v for scope if it reads well, is live and is
// newer.
func (f *Fleet) apply(scope, v string) {
	now := f.now()
	h, ok := decode(v, now)
	if !ok {
		f.ignore("corrupt or out-of-range hold")
		return
	}
	if live(h, now) && f.keep(scope, h, true) {
		f.applied.Add(1)
	}
}

func (f *Fleet) ignore(why string) {
	f.ignored.Add(1)
	if f.logger != nil {
		f.logger.LogAttrs(context.Background(), slog.LevelDebug, "memerr fleet: ignored a value from redis", slog.String("reason", why))
	}
}

func (f *Fleet) askRefresh() {
	select {
	case f.poke <- struct{}{}:
	default:
	}
}

// refreshLoop reads every hold from Redis each refresh period (or when
// asked), and forgets the local holds that have ended.
func (f *Fleet) refreshLoop() {
	defer f.wg.Done()
	tick := time.NewTicker(f.refresh)
	defer tick.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-tick.C:
		case <-f.poke:
		}
		seen := f.outages()
		f.prune()
		if f.result(seen, f.readAll()) {
			f.quota.local.Store(false) // quota requests go to Redis again
		}
	}
}

// readAll reads the holds under the prefix, in batches: SCAN on the
// client, or on every master of a Redis Cluster (a SCAN reaches one node
// only), then one pipeline of GETs per batch, which a cluster client sends
// to each key's node (an MGET of keys in several slots would fail).
func (f *Fleet) readAll() error {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	var read atomic.Int64 // keys read, over all the nodes
	if c, ok := f.client.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return f.readNode(ctx, node, &read)
		})
	}
	return f.readNode(ctx, f.client, &read)
}

// readNode reads the holds whose keys node's SCAN finds, until scanLimit
// keys are read in all. It may run on several nodes at once.
func (f *Fleet) readNode(ctx context.Context, node redis.Cmdable, read *atomic.Int64) error {
	pattern := escapeGlob(f.prefix+"hold:") + "*"
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, pattern, 200).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			cmds := make([]*redis.StringCmd, len(keys))
			// Pipelined's error is the first command's; each one's is read below.
			f.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.Get(ctx, k)
				}
				return nil
			})
			for i, k := range keys {
				s, err := cmds[i].Result()
				switch {
				case errors.Is(err, redis.Nil):
					continue // expired between SCAN and GET
				case redis.HasErrorPrefix(err, "WRONGTYPE"):
					f.ignore("not a string")
					continue
				case err != nil:
					return err
				}
				if len(s) > maxValue {
					f.ignore("value too long")
					continue
				}
				f.apply(f.keyScope(k), s)
			}
		}
		if cursor = next; cursor == 0 || read.Add(int64(len(keys))) >= scanLimit {
			return nil
		}
	}
}

// prune forgets the holds that are no longer live, the leases that have
// expired and the counts of failures learned more than circuitGrace ago.
func (f *Fleet) prune() {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for s, h := range f.holds {
		if !live(h, now) {
			delete(f.holds, s)
		}
	}
	for s, p := range f.probes {
		if !p.until.After(now) {
			delete(f.probes, s)
		}
	}
	for s, at := range f.closes {
		if now.Sub(at) > circuitGrace {
			delete(f.closes, s) // Redis no longer holds a circuit that old
		}
	}
	for s, c := range f.counts {
		if now.Sub(c.at) > circuitGrace {
			delete(f.counts, s) // long expired in Redis
		}
	}
}

// isDegraded reports whether the fleet is in the degraded mode: Redis is
// not answering.
func (f *Fleet) isDegraded() bool { return f.degraded.Load()&1 != 0 }

// outages is the number of times the degraded mode was entered. A Redis
// operation reads it when it starts and hands it to result with its
// outcome.
func (f *Fleet) outages() uint64 { return f.degraded.Load() >> 1 }

// result notes the outcome of a Redis operation that started when
// outages() was seen. A failure enters the degraded mode (fail). A success
// leaves it, and writes the local holds again, unless the degraded mode
// was entered after the operation started: Redis answered it before the
// failure reported since, and its goroutine, held up in between, reports
// it only now; that is old news, not Redis answering again. result reports
// whether a success counted.
func (f *Fleet) result(seen uint64, err error) bool {
	if err != nil {
		f.fail(err)
		return false
	}
	if d := f.degraded.Load(); d>>1 != seen || d&1 == 0 {
		return d>>1 == seen // false: the degraded mode was entered after the operation started
	}
	f.change.Lock()
	defer f.change.Unlock()
	d := f.degraded.Load()
	if d>>1 != seen || d&1 == 0 {
		return d>>1 == seen // another operation left the degraded mode first, or a new outage began
	}
	f.degraded.Store(d &^ 1)
	if f.logger != nil {
		f.logger.LogAttrs(context.Background(), slog.LevelInfo, "memerr fleet: redis answers again; holds are shared")
	}
	if h := f.hooks.OnRecovered; h != nil {
		h()
	}
	select {
	case f.again <- struct{}{}:
	default:
	}
	return true
}

// fail notes a failed Redis operation: the first failure enters the
// degraded mode (one more outage) and runs OnDegraded.
func (f *Fleet) fail(err error) {
	if errors.Is(err, context.Canceled) && f.ctx.Err() != nil {
		return // closing
	}
	if f.isDegraded() {
		return // degraded already
	}
	f.change.Lock()
	defer f.change.Unlock()
	d := f.degraded.Load()
	if d&1 != 0 {
		return
	}
	f.degraded.Store((d>>1+1)<<1 | 1)
	if f.logger != nil {
		f.logger.LogAttrs(context.Background(), slog.LevelWarn, "memerr fleet: redis is not answering; holds are local only",
			slog.String("error", err.Error()))
	}
	if h := f.hooks.OnDegraded; h != nil {
		h(err)
	}
}

// rewrite writes the local holds still live, so that those learned or
// missed while Redis was away reach it: in pipelines of rewriteBatch, each
// under the timeout; it stops at the first failure.
func (f *Fleet) rewrite() {
	seen := f.outages()
	now := f.now()
	f.mu.RLock()
	ws := make([]write, 0, len(f.holds))
	for s, h := range f.holds {
		if live(h, now) {
			ws = append(ws, write{scope: s, hold: h})
		}
	}
	f.mu.RUnlock()
	if len(ws) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	err := holdScript.Load(ctx, f.client).Err()
	cancel()
	for len(ws) > 0 && err == nil {
		n := min(len(ws), rewriteBatch)
		ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
		_, err = f.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, w := range ws[:n] {
				if keys, args, ok := f.scriptArgs(w, now); ok {
					holdScript.EvalSha(ctx, p, keys, args...)
				}
			}
			return nil
		})
		cancel()
		ws = ws[n:]
	}
	f.result(seen, err)
}

// encode writes a hold as "v1|until-ms|kind|vendor|code", or, when it
// has a Period (an open circuit's), "v2|until-ms|kind|vendor|code|period-ms".
// Replicas of the previous release read v1 only: they share the other holds
// with this one.
func encode(h memerr.FleetHold) string {
	v := "|" + strconv.FormatInt(h.Until.UnixMilli(), 10) + "|" + strconv.Itoa(int(h.Kind)) + "|" +
		clean(string(h.Vendor), 32) + "|" + clean(h.Code, 64)
	if p := min(h.Period, memerr.MaxHint).Milliseconds(); p > 0 {
		return "v2" + v + "|" + strconv.FormatInt(p, 10)
	}
	return "v1" + v
}

// decode reads a hold written by encode. Anything else, a kind other than
// a rate limit, a quota failure or an open circuit (KindUnavailable with
// the code "circuit_open"), an end past now + memerr.MaxHint (and a
// minute of clock skew), or a period past memerr.MaxHint is refused.
func decode(v string, now time.Time) (memerr.FleetHold, bool) {
	parts := strings.Split(v, "|")
	var period time.Duration
	switch {
	case len(parts) == 5 && parts[0] == "v1":
	case len(parts) == 6 && parts[0] == "v2":
		ms, err := strconv.ParseInt(parts[5], 10, 64)
		if err != nil || ms < 0 || ms > memerr.MaxHint.Milliseconds() {
			return memerr.FleetHold{}, false
		}
		period = time.Duration(ms) * time.Millisecond
	default:
		return memerr.FleetHold{}, false
	}
	ms, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || ms <= 0 {
		return memerr.FleetHold{}, false
	}
	until := time.UnixMilli(ms)
	if until.After(now.Add(memerr.MaxHint + skewSlack)) {
		return memerr.FleetHold{}, false
	}
	k, err := strconv.Atoi(parts[2])
	vendor, code := parts[3], parts[4]
	switch kind := memerr.Kind(k); {
	case err != nil:
		return memerr.FleetHold{}, false
	case kind == memerr.KindRateLimited, kind == memerr.KindQuotaExceeded:
	case kind == memerr.KindUnavailable && code == circuitOpen: // a replica's open breaker
	default:
		return memerr.FleetHold{}, false
	}
	if len(vendor) > 32 || len(code) > 64 || clean(vendor, 32) != vendor || clean(code, 64) != code {
		return memerr.FleetHold{}, false
	}
	return memerr.FleetHold{Until: until, Kind: memerr.Kind(k), Vendor: memerr.Vendor(vendor), Code: code, Period: period}, true
}

// clean keeps printable ASCII other than '|', up to n bytes.
func clean(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		if c := s[i]; c > ' ' && c < 0x7f && c != '|' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeGlob escapes the characters SCAN's MATCH reads as a pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
