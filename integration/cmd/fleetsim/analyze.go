package main

import (
	"math"
	"slices"
	"time"
)

// The computations behind the figures. They read the vendor's log and the
// replicas' records and nothing else, so they are the same whatever the
// library does; analyze_test.go checks them.

// arrival is one request the vendor received.
type arrival struct {
	At      time.Time // when the vendor read it
	Replica int       // X-Sim-Replica; -1 when absent
	Sent    time.Time // X-Sim-Sent: when the replica's transport sent this attempt; zero when absent
	Status  int       // the status the vendor answered
	Scope   string    // "a", the scope under load, or "b", the recovery check's scope
}

// inWindow counts the arrivals to scope at or after from and before to.
func inWindow(as []arrival, scope string, from, to time.Time) int {
	n := 0
	for _, a := range as {
		if a.Scope == scope && !a.At.Before(from) && a.At.Before(to) {
			n++
		}
	}
	return n
}

// bursts splits the arrivals to scope in [from, to) into bursts: runs in
// which each arrival follows the one before it by less than gap. It
// returns the size of each burst, in order.
//
// During an outage, once the breakers are open, nothing reaches the vendor
// but the half-open probes sent when an open period ends: the first burst
// is the fleet learning that the vendor is down (the breakers tripping),
// each later one is the probes of one open period. gap must be shorter
// than the shortest open period (1 s by default) and longer than the
// spread of one period's probes.
func bursts(as []arrival, scope string, from, to time.Time, gap time.Duration) []int {
	var at []time.Time
	for _, a := range as {
		if a.Scope == scope && !a.At.Before(from) && a.At.Before(to) {
			at = append(at, a.At)
		}
	}
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	var sizes []int
	for i, t := range at {
		if i == 0 || t.Sub(at[i-1]) >= gap {
			sizes = append(sizes, 0)
		}
		sizes[len(sizes)-1]++
	}
	return sizes
}

// percentile is the p-th percentile (0 < p ≤ 100) of xs by the
// nearest-rank method: the smallest value with at least p% of the values
// at or below it. NaN for no values. xs is not modified.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// perSecond is the arrivals to scope per second, in bins of width bin
// from start to end (the last bin may be partial and is scaled the same).
func perSecond(as []arrival, scope string, start, end time.Time, bin time.Duration) []float64 {
	n := int((end.Sub(start) + bin - 1) / bin)
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	for _, a := range as {
		if a.Scope != scope || a.At.Before(start) || !a.At.Before(end) {
			continue
		}
		out[int(a.At.Sub(start)/bin)]++
	}
	for i := range out {
		out[i] /= bin.Seconds()
	}
	return out
}

// holdFigures are the retry-after scenario's figures for one run.
type holdFigures struct {
	First     arrival         // the request that got the first 429
	InFlight  int             // other replicas' requests sent before they knew of the hold, reaching the vendor during it
	Beyond    int             // other replicas' requests sent after they knew of the hold, reaching the vendor during it
	Learned   []time.Duration // per other replica that learned the hold through the fleet: from the first 429 to its local copy holding it
	NotLearnt int             // other replicas whose local copy never held the scope
}

// holdRequests counts the other replicas' requests that reach the vendor
// during the hold that started with first (the first 429) and ends at end.
// A replica knows of the hold from the moment its local copy holds the
// scope (seen, per replica; in fleet mode only) or, when it never does,
// from first: a request whose attempt it sent before it knew was already
// in flight; one sent after should not have been. replicas is the number
// of replicas in the run.
//
// seen comes from polling each millisecond, so it may lag the real moment
// by up to a millisecond: a request sent in that lag passed the
// transport's check before the hold arrived, and is rightly in flight.
func holdRequests(as []arrival, first arrival, end time.Time, seen map[int]time.Time, replicas int) holdFigures {
	f := holdFigures{First: first}
	for _, a := range as {
		if a.Scope != first.Scope || a.Replica == first.Replica || !a.At.After(first.At) || !a.At.Before(end) {
			continue
		}
		knew, ok := seen[a.Replica]
		if !ok {
			knew = first.At
		}
		if !a.Sent.IsZero() && a.Sent.Before(knew) {
			f.InFlight++
		} else {
			f.Beyond++
		}
	}
	for r := 0; r < replicas; r++ {
		if r == first.Replica {
			continue
		}
		t, ok := seen[r]
		if !ok {
			f.NotLearnt++
			continue
		}
		f.Learned = append(f.Learned, t.Sub(first.At))
	}
	return f
}

// firstWith is the earliest arrival to scope answered with status at or
// after from; ok is false when there is none.
func firstWith(as []arrival, scope string, status int, from time.Time) (arrival, bool) {
	var best arrival
	ok := false
	for _, a := range as {
		if a.Scope == scope && a.Status == status && !a.At.Before(from) && (!ok || a.At.Before(best.At)) {
			best, ok = a, true
		}
	}
	return best, ok
}

// millis converts durations to float milliseconds.
func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / 1e6
	}
	return out
}
