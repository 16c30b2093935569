package main

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// vendor is the fake vendor on loopback: two listeners, scope "a" under
// load and scope "b" for the Redis scenario's recovery check. It answers
// as a script says, in Coze's envelopes, and logs every request.
type vendor struct {
	srvA, srvB *http.Server
	urlA, urlB string

	mu     sync.Mutex
	script script
	log    []arrival
	// the scripted 429's hold, once the first request after limitAt came
	limitedUntil time.Time
	// the shared quota's token bucket
	tokens float64
	last   time.Time
}

// script is what the vendor does during one run.
type script struct {
	OutageFrom, OutageTo time.Time     // scope a answers 503 in [OutageFrom, OutageTo)
	LimitAt              time.Time     // the first request to scope a at or after it opens a hold of Hold
	Hold                 time.Duration // during which scope a answers 429 with Retry-After (the seconds left, rounded up)
	QuotaPerMin          float64       // a quota shared by all callers of scope a; 0: none
	NoLog                bool          // log nothing (the success-cost measurement)
}

// Response bodies, in Coze's envelopes.
var (
	okBody      = []byte(`{"code":0,"msg":"","data":{"id":"m1"}}`)
	limitedBody = []byte(`{"code":4020,"msg":"rpm exceeded"}`)
	downBody    = []byte("service unavailable\n")
)

// startVendor listens on two loopback ports and serves until close.
func startVendor() (*vendor, error) {
	v := &vendor{}
	la, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lb, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		la.Close()
		return nil, err
	}
	v.urlA, v.urlB = "http://"+la.Addr().String(), "http://"+lb.Addr().String()
	v.srvA = &http.Server{Handler: v.handler("a"), ReadHeaderTimeout: 10 * time.Second}
	v.srvB = &http.Server{Handler: v.handler("b"), ReadHeaderTimeout: 10 * time.Second}
	go v.srvA.Serve(la)
	go v.srvB.Serve(lb)
	return v, nil
}

func (v *vendor) close() {
	v.srvA.Close()
	v.srvB.Close()
}

// reset starts a run: a new script, an empty log, a full bucket.
func (v *vendor) reset(s script) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.script = s
	v.log = v.log[:0]
	v.limitedUntil = time.Time{}
	v.tokens = bucketSize(s.QuotaPerMin)
	v.last = time.Now()
}

// arrivals is a copy of the log.
func (v *vendor) arrivals() []arrival {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]arrival(nil), v.log...)
}

// bucketSize is the quota's burst: one second of it, at least one request.
func bucketSize(perMin float64) float64 { return max(1, perMin/60) }

func (v *vendor) handler(scope string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		a := arrival{At: now, Replica: -1, Scope: scope}
		if id, err := strconv.Atoi(r.Header.Get("X-Sim-Replica")); err == nil {
			a.Replica = id
		}
		if ns, err := strconv.ParseInt(r.Header.Get("X-Sim-Sent"), 10, 64); err == nil {
			a.Sent = time.Unix(0, ns)
		}
		status, wait := v.decide(scope, now)
		a.Status = status
		v.mu.Lock()
		if !v.script.NoLog {
			v.log = append(v.log, a)
		}
		v.mu.Unlock()
		switch status {
		case http.StatusOK:
			w.Header().Set("Content-Type", "application/json")
			w.Write(okBody)
		case http.StatusTooManyRequests:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			w.WriteHeader(status)
			w.Write(limitedBody)
		default:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(status)
			w.Write(downBody)
		}
	})
}

// decide is the answer to a request to scope at now: the status and, for
// a 429, the wait it asks for.
func (v *vendor) decide(scope string, now time.Time) (int, time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := &v.script
	if scope == "b" {
		return http.StatusTooManyRequests, 30 * time.Second
	}
	if !now.Before(s.OutageFrom) && now.Before(s.OutageTo) {
		return http.StatusServiceUnavailable, 0
	}
	if !s.LimitAt.IsZero() && !now.Before(s.LimitAt) {
		if v.limitedUntil.IsZero() {
			v.limitedUntil = now.Add(s.Hold)
		}
		if now.Before(v.limitedUntil) {
			return http.StatusTooManyRequests, v.limitedUntil.Sub(now)
		}
	}
	if s.QuotaPerMin > 0 {
		rate := s.QuotaPerMin / 60 // tokens per second
		v.tokens = min(bucketSize(s.QuotaPerMin), v.tokens+now.Sub(v.last).Seconds()*rate)
		v.last = now
		if v.tokens < 1 {
			return http.StatusTooManyRequests, time.Duration((1 - v.tokens) / rate * float64(time.Second))
		}
		v.tokens--
	}
	return http.StatusOK, 0
}
