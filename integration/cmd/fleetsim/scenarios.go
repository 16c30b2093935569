package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/memerr/memerr"
	memerrfleet "github.com/memerr/memerr/fleet"
	"github.com/redis/go-redis/v9"
)

const (
	modeOne   = "one replica"
	modeIndep = "independent"
	modeFleet = "fleet"
	chartBin  = 500 * time.Millisecond
	// redisTimeout is each request's deadline in the Redis and cost
	// scenarios, where the vendor is healthy.
	redisTimeout = 10 * time.Second
)

// outage: the vendor answers 503 from lead for the outage's length.
func (c *coordinator) outage(ctx context.Context) ([]figure, *panel, error) {
	o := c.o
	sc := func(start time.Time) script {
		return script{OutageFrom: start.Add(o.lead), OutageTo: start.Add(o.lead + o.outage)}
	}
	dur := o.lead + o.outage + o.tail
	var runs []*run
	for _, p := range []plan{
		{mode: modeOne, n: 1},
		{mode: modeIndep, n: o.n},
		{mode: modeFleet, n: o.n, fleet: true},
	} {
		p.rate, p.duration, p.script = o.rate, dur, sc
		r, err := c.execute(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, r)
	}
	sent := make([]float64, len(runs))
	probes := make([]float64, len(runs))
	notes := make([]string, len(runs))
	for i, r := range runs {
		from, to := r.Start.Add(o.lead), r.Start.Add(o.lead+o.outage)
		sent[i] = float64(inWindow(r.Arrivals, "a", from, to))
		bs := bursts(r.Arrivals, "a", from, to, o.gap)
		probes[i] = math.NaN()
		if len(bs) > 1 {
			probes[i] = float64(slices.Max(bs[1:]))
		}
		notes[i] = fmt.Sprintf("bursts %v", bs)
		fmt.Printf("fleetsim: outage, %s (N = %d): %0.f requests during the outage; bursts (the first is the trip, each later one an open period's probes): %v\n",
			r.Mode, r.N, sent[i], bs)
	}
	one := sent[0]
	figs := []figure{
		{Scenario: "outage", Name: "outage", Unit: "requests during the outage, × one replica alone",
			Independent: sent[1] / one, Fleet: sent[2] / one, Goal: 2, GoalText: "≤ 2",
			Margin: marginOutage,
			Note:   fmt.Sprintf("one replica %.0f, independent %.0f, fleet %.0f requests", sent[0], sent[1], sent[2])},
		{Scenario: "outage", Name: "probes", Unit: "largest burst of half-open probes in one open period",
			Independent: probes[1], Fleet: probes[2], Goal: 1, GoalText: "exactly 1", Margin: marginProbes,
			Note: notes[2] + ", one replica alone: " + notes[0]},
	}
	for i := range figs {
		figs[i].judge()
	}
	p := c.panel("outage: vendor answers 503 (shaded)", runs, o.lead, o.lead+o.outage)
	return figs, p, nil
}

// retryAfter: the first request after lead gets 429 with Retry-After:
// hold, and the scope answers 429 to everyone until the hold ends.
func (c *coordinator) retryAfter(ctx context.Context) ([]figure, *panel, error) {
	o := c.o
	sc := func(start time.Time) script { return script{LimitAt: start.Add(o.lead), Hold: o.hold} }
	dur := o.lead + o.hold + o.lead
	var runs []*run
	var hfs []holdFigures
	for _, p := range []plan{
		{mode: modeIndep, n: o.n},
		{mode: modeFleet, n: o.n, fleet: true, watch: []string{"a"}},
	} {
		p.rate, p.duration, p.script = o.rate, dur, sc
		r, err := c.execute(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		first, ok := firstWith(r.Arrivals, "a", http.StatusTooManyRequests, r.Start.Add(o.lead))
		if !ok {
			return nil, nil, fmt.Errorf("%s: the vendor sent no 429", r.Mode)
		}
		seen := r.Seen["a"]
		hf := holdRequests(r.Arrivals, first, first.At.Add(o.hold), seen, r.N)
		fmt.Printf("fleetsim: retryafter, %s: first 429 to replica %d; other replicas' requests during the hold: %d in flight, %d sent after they knew; learned by %d replicas, never by %d\n",
			r.Mode, first.Replica, hf.InFlight, hf.Beyond, len(hf.Learned), hf.NotLearnt)
		runs = append(runs, r)
		hfs = append(hfs, hf)
	}
	fl := hfs[1]
	prop := math.NaN()
	note := "no replica learned it"
	if ms := millis(fl.Learned); len(ms) > 0 {
		prop = slices.Max(ms)
		note = fmt.Sprintf("p50 %.2f ms over %d replicas", percentile(ms, 50), len(ms))
	}
	if fl.NotLearnt > 0 {
		prop = math.Inf(1)
		note += fmt.Sprintf("; %d never learned it", fl.NotLearnt)
	}
	figs := []figure{
		{Scenario: "retryafter", Name: "beyond-in-flight", Unit: "other replicas' requests during the hold, sent after they knew of it",
			Independent: float64(hfs[0].Beyond), Fleet: float64(fl.Beyond), Goal: 0, GoalText: "0",
			Margin: marginBeyond,
			Note:   fmt.Sprintf("in flight: independent %d, fleet %d", hfs[0].InFlight, fl.InFlight)},
		{Scenario: "retryafter", Name: "propagation", Unit: "ms from the first 429 to the slowest replica's local copy",
			Independent: math.NaN(), Fleet: prop, Goal: 50, Strict: true, GoalText: "< 50 ms", Margin: marginPropagationMS, Note: note},
	}
	for i := range figs {
		figs[i].judge()
	}
	at := fl.First.At.Sub(runs[1].Start)
	p := c.panel(fmt.Sprintf("retry-after: one 429 with Retry-After: %.0f (shaded, fleet run)", o.hold.Seconds()), runs, at, at+o.hold)
	return figs, p, nil
}

// quota: the vendor enforces a quota shared by the whole fleet, which
// offers twice as much. In fleet mode each replica configures the quota
// (memerr.WithQuota, kept by the fleet in Redis); independent replicas
// know nothing of it. Outside the short run a third run configures the
// offered rate instead of the vendor's, so that only the vendor's 429s
// (AIMD) can bring the fleet down to the real limit.
func (c *coordinator) quota(ctx context.Context) ([]figure, *panel, error) {
	o := c.o
	sc := func(time.Time) script { return script{QuotaPerMin: o.quota} }
	plans := []plan{
		{mode: modeIndep, n: o.n},
		{mode: modeFleet, n: o.n, fleet: true, quota: int(o.quota)},
	}
	if !o.short {
		plans = append(plans, plan{mode: fmt.Sprintf("fleet, quota set to %.0f/min", o.offered), n: o.n, fleet: true, quota: int(o.offered)})
	}
	var runs []*run
	share := make([]float64, len(plans))
	notes := make([]string, len(plans))
	for i, p := range plans {
		p.rate, p.duration, p.script = o.offered/60/float64(o.n), o.quotaFor, sc
		r, err := c.execute(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		var sent, limited, ok int
		last := r.End // requests that waited their turn may arrive after the load's end
		for _, a := range r.Arrivals {
			if a.Scope != "a" {
				continue
			}
			if a.At.After(last) {
				last = a.At
			}
			sent++
			switch a.Status {
			case http.StatusTooManyRequests:
				limited++
			case http.StatusOK:
				ok++
			}
		}
		outs := outcomes(r.Reqs, "a")
		share[i] = 100 * float64(limited) / float64(max(sent, 1))
		notes[i] = fmt.Sprintf("%d sent, %d answered 429 (%.1f %%), %.0f successes/min; callers saw %v", sent, limited, share[i],
			float64(ok)/last.Sub(r.Start).Minutes(), outs)
		fmt.Printf("fleetsim: quota, %s: %s\n", r.Mode, notes[i])
		runs = append(runs, r)
	}
	note := "fleet: " + notes[1]
	if len(notes) > 2 {
		note += "; " + plans[2].mode + ": " + notes[2]
	}
	figs := []figure{{Scenario: "quota", Name: "quota-429", Unit: "% of requests sent answered 429",
		Independent: share[0], Fleet: share[1], Goal: 1, Strict: true, GoalText: "< 1 %", Margin: marginQuota429,
		Note: note}}
	figs[0].judge()
	p := c.panel(fmt.Sprintf("quota: %.0f/min shared, %.0f/min offered", o.quota, o.offered), runs, 0, 0)
	return figs, p, nil
}

// outcomes counts the requests to scope by outcome.
func outcomes(reqs []record, scope string) map[string]int {
	m := map[string]int{}
	for _, r := range reqs {
		if r.S == scope {
			m[r.O]++
		}
	}
	return m
}

// redis: redis-server is killed after lead + redisDown and started again
// after redisDown; meanwhile replica 0 learns a hold (a 429 with
// Retry-After: 30 from scope b), which the others learn once Redis is
// back. The latency while Redis is down is compared with the latency of
// the same length of time just before the kill.
func (c *coordinator) redis(ctx context.Context) ([]figure, *panel, error) {
	o := c.o
	lead := o.lead + o.redisDown
	after := max(o.lead, 2*time.Second)
	dur := lead + o.redisDown + after
	var killed, restart, up time.Time
	during := func(ctx context.Context, start time.Time) {
		sleepUntil(ctx, start.Add(lead))
		killed = time.Now()
		c.rs.kill()
		sleepUntil(ctx, killed.Add(o.redisDown))
		restart = time.Now()
		if err := c.rs.start(); err != nil {
			fmt.Println("fleetsim: redis-server did not start again:", err)
		}
		up = time.Now()
	}
	// The vendor is healthy: a request fails only when something breaks,
	// and a deadline longer than -timeout keeps a stall of the machine
	// (other processes on its two cores) from reading as a failure.
	ind, err := c.execute(ctx, plan{mode: modeIndep, n: o.n, rate: o.rate, duration: dur, timeout: redisTimeout})
	if err != nil {
		return nil, nil, err
	}
	fl, err := c.execute(ctx, plan{mode: modeFleet, n: o.n, fleet: true, rate: o.rate, duration: dur, timeout: redisTimeout, watch: []string{"b"},
		sendB: func(start time.Time) time.Time { return start.Add(lead + o.redisDown/2) }, during: during})
	if err != nil {
		return nil, nil, err
	}
	down := up.Sub(killed)
	kill := killed.Sub(fl.Start) // the same offsets in the independent run
	failed := func(r *run) float64 {
		n := 0
		for _, q := range r.Reqs {
			if q.S == "a" && q.O != outOK {
				n++
			}
		}
		return float64(n)
	}
	p99 := func(r *run, from, to time.Duration) float64 {
		var ls []float64
		for _, q := range r.Reqs {
			at := time.Unix(0, q.T).Sub(r.Start)
			if q.S == "a" && at >= from && at < to {
				ls = append(ls, float64(q.L)/1e6)
			}
		}
		return percentile(ls, 99)
	}
	added := func(r *run) (float64, float64, float64) {
		before, while := p99(r, kill-down, kill), p99(r, kill, kill+down)
		return while - before, before, while
	}
	addInd, _, _ := added(ind)
	addFl, beforeFl, whileFl := added(fl)
	var callP99, callMax int64
	for _, f := range fl.Fleet {
		callP99, callMax = max(callP99, f.L), max(callMax, f.Max)
	}
	recovery := math.NaN()
	var learned []float64
	for id := 1; id < fl.N; id++ {
		t, ok := fl.Seen["b"][id]
		if !ok {
			recovery = math.Inf(1)
			continue
		}
		learned = append(learned, t.Sub(restart).Seconds())
	}
	if !math.IsInf(recovery, 1) && len(learned) > 0 {
		recovery = slices.Max(learned)
	}
	sort.Float64s(learned)
	// When each replica's fleet left its degraded mode (its first Redis
	// success after the restart).
	back := map[int]time.Duration{}
	for _, e := range fl.Events {
		at := time.Unix(0, e.T)
		if _, ok := back[e.R]; e.K == "recovered" && !at.Before(restart) && !ok {
			back[e.R] = at.Sub(restart)
		}
	}
	var lastBack time.Duration
	for _, d := range back {
		lastBack = max(lastBack, d)
	}
	fmt.Printf("fleetsim: redis, fleet: killed for %v (started again in %v); p99 latency %.2f ms before, %.2f ms while down; each fleet call p99 %v, slowest %v; hold learned after the restart by %d replicas: %.3v s\n",
		down.Round(time.Millisecond), up.Sub(restart).Round(time.Millisecond), beforeFl, whileFl,
		time.Duration(callP99), time.Duration(callMax), len(learned), learned)
	figs := []figure{
		{Scenario: "redis", Name: "redis-failures", Unit: "requests failed (the vendor is healthy)",
			Independent: failed(ind), Fleet: failed(fl), Goal: 0, GoalText: "0", Margin: marginRedisFailures,
			Note: fmt.Sprintf("of %d requests", len(fl.Reqs))},
		{Scenario: "redis", Name: "added-latency", Unit: "ms, p99 while Redis is down less p99 just before",
			Independent: addInd, Fleet: addFl, Goal: 1, Strict: true, GoalText: "< 1 ms", Margin: marginAddedMS,
			Note: fmt.Sprintf("p99 %.2f → %.2f ms; a fleet call p99 %v, slowest %v", beforeFl, whileFl,
				time.Duration(callP99), time.Duration(callMax))},
		{Scenario: "redis", Name: "recovery", Unit: "s from the restart until every replica holds what one learned while Redis was down",
			Independent: math.NaN(), Fleet: recovery, Goal: 1, GoalText: "≤ 1 s", Margin: marginRecoveryS,
			Note: fmt.Sprintf("redis-server answered %v after its start; %d fleets out of degraded mode by %v",
				up.Sub(restart).Round(time.Millisecond), len(back), lastBack.Round(time.Millisecond))},
	}
	for i := range figs {
		figs[i].judge()
	}
	p := c.panel("redis-server killed and started again (shaded, fleet run)", []*run{ind, fl}, kill, kill+down)
	return figs, p, nil
}

func sleepUntil(ctx context.Context, t time.Time) {
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// cost: successful GETs through a Transport with fleet mode on (a
// memerrfleet.Fleet on the real redis-server, no quota) and without
// (twice: "off" is the baseline, "off-again" the control), in one process.
// Each of 4 goroutines sends through the contenders in turn, one request
// each, in a new random order each turn (a fixed order puts one contender
// always after another, which showed as a 25 % difference between "off"
// and its control), so that whatever the machine does falls on all of
// them alike; the figure is the median latency of on's requests over
// off's. A fourth
// contender, "round trip", is fleet mode on plus one Redis PING per
// request: what any design with a Redis round trip on the success path
// would pay at the least, to show that the measurement would see one.
func (c *coordinator) cost(ctx context.Context) ([]figure, *panel, error) {
	o := c.o
	c.v.reset(script{NoLog: true})
	rdb := redis.NewClient(&redis.Options{Addr: c.rs.addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	f := memerrfleet.New(rdb, memerrfleet.WithPrefix("fleetsim:cost:"))
	defer f.Close()

	type contender struct {
		name string
		do   func() error
	}
	mk := func(name string, ping bool, opts ...memerr.Option) contender {
		base := http.DefaultTransport.(*http.Transport).Clone()
		base.MaxIdleConnsPerHost = memerr.DefaultMaxIdleConnsPerHost
		t := memerr.NewTransport(base, append([]memerr.Option{memerr.WithVendor(memerr.Coze)}, opts...)...)
		return contender{name, func() error {
			if ping {
				if err := rdb.Ping(context.Background()).Err(); err != nil {
					return err
				}
			}
			if out := request(t, c.v.urlA, redisTimeout); out != outOK {
				return fmt.Errorf("a request of the cost measurement ended %q", out)
			}
			return nil
		}}
	}
	cs := []contender{mk("off", false), mk("off-again", false), mk("on", false, memerr.WithFleet(f)),
		mk("round trip", true, memerr.WithFleet(f))}
	const workers, warm = 4, 50
	lat := make([][][]float64, workers) // worker → contender → µs
	errs := make([]error, workers)
	end := time.Now().Add(o.costFor)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lat[w] = make([][]float64, len(cs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var order []int
			for i := 0; ctx.Err() == nil && (i < warm+100*len(cs) || time.Now().Before(end)); i++ {
				if i%len(cs) == 0 {
					order = rand.Perm(len(cs))
				}
				k := order[i%len(cs)]
				start := time.Now()
				if err := cs[k].do(); err != nil {
					errs[w] = err
					return
				}
				if i >= warm {
					lat[w][k] = append(lat[w][k], float64(time.Since(start))/1e3)
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	med := map[string]float64{}
	n := 0
	for k, ct := range cs {
		var all []float64
		for w := range lat {
			all = append(all, lat[w][k]...)
		}
		med[ct.name] = percentile(all, 50)
		n = len(all)
	}
	ratio, control, rtt := med["on"]/med["off"], med["off-again"]/med["off"], med["round trip"]/med["off"]
	fmt.Printf("fleetsim: cost: on/off %.3f, control off-again/off %.3f, a round trip per request %.3f (median latencies over about %d requests each: off %.1f µs, on %.1f µs, round trip %.1f µs)\n",
		ratio, control, rtt, n, med["off"], med["on"], med["round trip"])
	figs := []figure{{Scenario: "cost", Name: "success-cost", Unit: "median request latency, fleet on / off",
		Independent: math.NaN(), Fleet: ratio, Goal: 1.02, GoalText: "≤ 1.02", Margin: marginCost,
		Note: fmt.Sprintf("control off-again/off %.3f; a Redis round trip per request would be %.3f; about %d requests each", control, rtt, n)}}
	figs[0].judge()
	return figs, nil, nil
}

// panel is the chart's panel of runs: vendor requests per second.
func (c *coordinator) panel(title string, runs []*run, shadeFrom, shadeTo time.Duration) *panel {
	p := &panel{Title: title, Bin: chartBin, ShadeFrom: shadeFrom.Seconds(), ShadeTo: shadeTo.Seconds()}
	for _, r := range runs {
		name := r.Mode
		if r.Mode != modeOne {
			name = fmt.Sprintf("%s (N = %d)", r.Mode, r.N)
		}
		p.Series = append(p.Series, series{Name: name, PerSecond: perSecond(r.Arrivals, "a", r.Start, r.End, chartBin)})
	}
	return p
}
