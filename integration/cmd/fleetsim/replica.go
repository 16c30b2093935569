package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/memerr/memerr"
	memerrfleet "github.com/memerr/memerr/fleet"
	"github.com/redis/go-redis/v9"
)

// spec is what one replica process is told to do, as JSON in -replica.
type spec struct {
	ID       int
	Fleet    bool          // fleet mode: a memerrfleet.Fleet on Redis
	VendorA  string        // the scope under load
	VendorB  string        // the recovery check's scope
	Redis    string        // host:port
	Prefix   string        // the fleet's key prefix, one per run
	Start    time.Time     // when the load starts
	Duration time.Duration // how long it lasts
	Rate     float64       // requests per second this replica offers
	Timeout  time.Duration // each request's deadline
	Watch    []string      // scopes ("a", "b") whose holds in the local copy are watched: a "seen" record each
	SendB    time.Time     // when to send one request to scope b; zero: never
	Quota    int           // fleet mode: a quota of that many requests per minute on scope a (memerr.WithQuota), kept by the fleet; 0: none
}

// record is one line a replica prints on stdout.
type record struct {
	K   string `json:"k"`           // "req": one request; "seen": the local copy holds a watched scope; "fleet": time in the fleet's methods; "ready"; "degraded", "recovered": the fleet's hooks
	R   int    `json:"r"`           // the replica
	T   int64  `json:"t"`           // Unix ns: the request's start, the moment seen
	L   int64  `json:"l,omitempty"` // ns: the request's latency; for "fleet", the p99 of a call
	Max int64  `json:"m,omitempty"` // ns: for "fleet", the slowest call
	N   int    `json:"n,omitempty"` // for "fleet", the calls
	O   string `json:"o,omitempty"` // the request's outcome (see outcome)
	S   string `json:"s,omitempty"` // scope
}

// Outcomes of one request, as the caller sees it.
const (
	outOK      = "ok"      // a success
	outHeld    = "held"    // not sent: a hold (this replica's or, in fleet mode, another's) asked for a wait it could not make
	outOpen    = "open"    // not sent: a circuit open here or, in fleet mode, on another replica
	outLimited = "limited" // the vendor's 429 reached the caller
	outDown    = "down"    // the vendor's 503 reached the caller
	outTimeout = "timeout" // the request's deadline passed
	outError   = "error"   // anything else
)

// runReplica is one replica: a Transport of its own (and a Fleet of its
// own in fleet mode) offering load at spec.Rate from spec.Start for
// spec.Duration, each request's outcome printed as a JSON line.
func runReplica(raw string) error {
	var s spec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return err
	}
	out := &printer{w: bufio.NewWriterSize(os.Stdout, 64<<10)}
	defer out.flush()

	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = memerr.DefaultMaxIdleConnsPerHost
	opts := []memerr.Option{memerr.WithVendor(memerr.Coze)}
	var timed *timedFleet
	if s.Fleet {
		// go-redis logs each failed dial; the fleet's hooks say the same
		// once, as records.
		redis.SetLogger(quiet{})
		rdb := redis.NewClient(&redis.Options{Addr: s.Redis, ContextTimeoutEnabled: true})
		defer rdb.Close()
		f := memerrfleet.New(rdb, memerrfleet.WithPrefix(s.Prefix), memerrfleet.WithHooks(memerrfleet.Hooks{
			OnDegraded:  func(error) { out.print(record{K: "degraded", R: s.ID, T: time.Now().UnixNano()}) },
			OnRecovered: func() { out.print(record{K: "recovered", R: s.ID, T: time.Now().UnixNano()}) },
		}))
		defer f.Close()
		timed = &timedFleet{f: f}
		opts = append(opts, memerr.WithFleet(timed))
		if s.Quota > 0 {
			opts = append(opts, memerr.WithQuota(s.VendorA, memerr.Quota{Requests: s.Quota, Per: time.Minute}))
		}
	}
	t := memerr.NewTransport(&stamp{id: s.ID, rt: base}, opts...)
	defer t.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	if timed != nil {
		for _, sc := range s.Watch {
			u := s.VendorA
			if sc == "b" {
				u = s.VendorB
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				watch(ctx, timed.f, scopeKey(u), func(at time.Time) { out.print(record{K: "seen", R: s.ID, T: at.UnixNano(), S: sc}) })
			}()
		}
	}
	out.print(record{K: "ready", R: s.ID, T: time.Now().UnixNano()})

	do := func(target, sc string) {
		start := time.Now()
		o := request(t, target, s.Timeout)
		out.print(record{K: "req", R: s.ID, T: start.UnixNano(), L: int64(time.Since(start)), O: o, S: sc})
	}
	if !s.SendB.IsZero() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(s.SendB))
			do(s.VendorB, "b")
		}()
	}

	// Open load: request k starts at Start + phase + k/Rate whatever the
	// earlier ones do; a random phase keeps the replicas out of step.
	var reqs sync.WaitGroup
	if s.Rate > 0 {
		every := time.Duration(float64(time.Second) / s.Rate)
		next := s.Start.Add(time.Duration(rand.Int64N(int64(every))))
		end := s.Start.Add(s.Duration)
		inflight := make(chan struct{}, 1024) // a bound on the goroutines, never reached at the rates used
		for next.Before(end) {
			time.Sleep(time.Until(next))
			select {
			case inflight <- struct{}{}:
				reqs.Add(1)
				go func() {
					defer reqs.Done()
					defer func() { <-inflight }()
					do(s.VendorA, "a")
				}()
			default:
				out.print(record{K: "req", R: s.ID, T: time.Now().UnixNano(), O: outError, S: "a"})
			}
			next = next.Add(every)
		}
	} else {
		time.Sleep(time.Until(s.Start.Add(s.Duration)))
	}
	reqs.Wait()
	cancel()
	wg.Wait()
	if timed != nil {
		p99, maxNS, n := timed.summary()
		out.print(record{K: "fleet", R: s.ID, L: p99, Max: maxNS, N: n})
	}
	return nil
}

// request sends one GET to target through t and names its outcome.
func request(t *memerr.Transport, target string, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+"/v1/memories", nil)
	if err != nil {
		return outError
	}
	resp, err := t.RoundTrip(req)
	if err != nil {
		return outcome(err)
	}
	derr := memerr.Decode(resp)
	if derr == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return outcome(derr)
}

// outcome names the outcome of a request that ended with err.
func outcome(err error) string {
	var he *memerr.HoldError
	var me *memerr.Error
	switch {
	case err == nil:
		return outOK
	case errors.Is(err, memerr.ErrCircuitOpen):
		return outOpen
	case errors.As(err, &he):
		return outHeld
	case errors.Is(err, context.DeadlineExceeded):
		return outTimeout
	case errors.As(err, &me) && me.Kind == memerr.KindRateLimited:
		return outLimited
	case errors.As(err, &me) && me.Kind == memerr.KindUnavailable:
		return outDown
	}
	return outError
}

// scopeKey is the transport's default breaker scope of a URL:
// scheme://host:port.
func scopeKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// watch polls the fleet's local copy each millisecond until ctx ends, and
// calls seen once, at the first moment it holds scope.
func watch(ctx context.Context, f memerr.Fleet, scope string, seen func(time.Time)) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		if h, ok := f.Held(scope); ok && h.Until.After(now) {
			seen(now)
			return
		}
	}
}

// stamp is the replica's base transport: it tells the vendor who sent each
// attempt and when.
type stamp struct {
	id int
	rt http.RoundTripper
}

func (s *stamp) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Sim-Replica", strconv.Itoa(s.id))
	r.Header.Set("X-Sim-Sent", strconv.FormatInt(time.Now().UnixNano(), 10))
	return s.rt.RoundTrip(r)
}

// timedFleet times each call the transport makes into the fleet: the time
// fleet mode adds to a request's own path. The Transport finds the
// fleet's other roles (memerr.FleetProber for one trial per fleet,
// memerr.FleetTripper for tripping together, memerr.Limiter for the
// shared quota) by type assertion, so timedFleet passes each of them on.
type timedFleet struct {
	f  *memerrfleet.Fleet
	mu sync.Mutex
	ns []int64
}

var (
	_ memerr.Fleet        = (*timedFleet)(nil)
	_ memerr.FleetProber  = (*timedFleet)(nil)
	_ memerr.FleetTripper = (*timedFleet)(nil)
	_ memerr.Limiter      = (*timedFleet)(nil)
)

func (t *timedFleet) Failed(scope string, s memerr.BreakerSettings) {
	start := time.Now()
	t.f.Failed(scope, s)
	t.note(time.Since(start))
}

func (t *timedFleet) Succeeded(scope string) {
	start := time.Now()
	t.f.Succeeded(scope)
	t.note(time.Since(start))
}

func (t *timedFleet) Probe(ctx context.Context, scope string) bool {
	start := time.Now()
	ok := t.f.Probe(ctx, scope)
	t.note(time.Since(start))
	return ok
}

func (t *timedFleet) Verdict(scope string, closed bool) {
	start := time.Now()
	t.f.Verdict(scope, closed)
	t.note(time.Since(start))
}

func (t *timedFleet) Take(scope string, q memerr.Quota, maxWait time.Duration) (time.Duration, bool) {
	start := time.Now()
	d, ok := t.f.Take(scope, q, maxWait)
	t.note(time.Since(start))
	return d, ok
}

func (t *timedFleet) Observe(scope string, q memerr.Quota, throttled bool) {
	start := time.Now()
	t.f.Observe(scope, q, throttled)
	t.note(time.Since(start))
}

const maxTimed = 1 << 20

func (t *timedFleet) Hold(scope string, h memerr.FleetHold) {
	start := time.Now()
	t.f.Hold(scope, h)
	t.note(time.Since(start))
}

func (t *timedFleet) Held(scope string) (memerr.FleetHold, bool) {
	start := time.Now()
	h, ok := t.f.Held(scope)
	t.note(time.Since(start))
	return h, ok
}

func (t *timedFleet) note(d time.Duration) {
	t.mu.Lock()
	if len(t.ns) < maxTimed {
		t.ns = append(t.ns, int64(d))
	}
	t.mu.Unlock()
}

// summary is the p99 and the maximum of the calls' times, and their count.
func (t *timedFleet) summary() (p99, maxNS int64, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ns) == 0 {
		return 0, 0, 0
	}
	xs := make([]float64, len(t.ns))
	for i, v := range t.ns {
		xs[i] = float64(v)
	}
	return int64(percentile(xs, 99)), slices.Max(t.ns), len(t.ns)
}

// quiet is go-redis's logger in a replica: silent.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// printer writes records as JSON lines, from any goroutine.
type printer struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (p *printer) print(r record) {
	b, _ := json.Marshal(r)
	p.mu.Lock()
	p.w.Write(b)
	p.w.WriteByte('\n')
	if r.K != "req" {
		p.w.Flush()
	}
	p.mu.Unlock()
}

func (p *printer) flush() {
	p.mu.Lock()
	p.w.Flush()
	p.mu.Unlock()
}
