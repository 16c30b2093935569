package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/memerr/memerr"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ledger is an upstream that applies writes: every POST carrying an
// X-Request-Seq header increments that sequence number's count. A count
// above one is a write applied twice. GETs return a ~4 KiB Coze success
// envelope.
type ledger struct {
	srv *httptest.Server

	mu      sync.Mutex
	applied map[string]int
	reads   atomic.Int64
	conns   atomic.Int64
}

var ledgerPayload = `{"code":0,"msg":"","data":{"items":[` + strings.TrimSuffix(strings.Repeat(`{"id":"m_0123456789","text":"likes green tea and long walks"},`, 64), ",") + `]}}`

func newLedger(t testing.TB) *ledger {
	l := &ledger{applied: map[string]int{}}
	l.srv = httptest.NewUnstartedServer(http.HandlerFunc(l.serve))
	l.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			l.conns.Add(1)
		}
	}
	l.srv.Start()
	t.Cleanup(l.srv.Close)
	return l
}

func (l *ledger) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPost {
		seq := r.Header.Get("X-Request-Seq")
		l.mu.Lock()
		l.applied[seq]++
		l.mu.Unlock()
		fmt.Fprintf(w, `{"code":0,"msg":"","data":{"seq":%q}}`, seq)
		return
	}
	l.reads.Add(1)
	w.Header().Set("Content-Length", strconv.Itoa(len(ledgerPayload)))
	_, _ = w.Write([]byte(ledgerPayload))
}

// doubles returns the sequence numbers applied more than once.
func (l *ledger) doubles() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for seq, n := range l.applied {
		if n > 1 {
			out = append(out, fmt.Sprintf("%s x%d", seq, n))
		}
	}
	return out
}

func (l *ledger) writes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.applied {
		n += c
	}
	return n
}

// startToxiproxy runs a Toxiproxy proxy in-process between a loopback
// listener and upstream, with one toxic given as Toxiproxy's JSON. It
// returns the proxy's address; the proxy stops when the test ends.
func startToxiproxy(t *testing.T, upstream, toxicJSON string) string {
	t.Helper()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	proxy := toxiproxy.NewProxy(server, t.Name(), "127.0.0.1:0", upstream)
	require.NoError(t, proxy.Start())
	t.Cleanup(proxy.Stop)
	if toxicJSON != "" {
		_, err := proxy.Toxics.AddToxicJson(strings.NewReader(toxicJSON))
		require.NoError(t, err)
	}
	return proxy.Listen
}

// toxicResult counts the outcomes of one toxic's run.
type toxicResult struct {
	getOK, getErr, postOK, postErr atomic.Int64
	maxOver                        atomic.Int64 // worst time past the deadline, ns

	mu               sync.Mutex
	fastGet, fastOK  time.Duration // the quickest successful GET, and request of either method
	attempts, failed int           // attempts sent through the base transport, and those that failed
}

// succeeded records a successful request's duration.
func (r *toxicResult) succeeded(method string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fastOK == 0 || d < r.fastOK {
		r.fastOK = d
	}
	if method == http.MethodGet && (r.fastGet == 0 || d < r.fastGet) {
		r.fastGet = d
	}
}

// attemptCounter is the base transport under memerr: it counts the
// attempts and those that failed without a response, so the test can tell
// that the toxic was in the path.
type attemptCounter struct {
	base http.RoundTripper
	res  *toxicResult
}

func (a attemptCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(req)
	a.res.mu.Lock()
	a.res.attempts++
	if err != nil {
		a.res.failed++
	}
	a.res.mu.Unlock()
	return resp, err
}

// TestToxiproxy sends GETs and POSTs through Toxiproxy with one toxic at a
// time. Every GET succeeds or fails with a *memerr.Error within its
// deadline; no POST is applied twice by the upstream; and the toxic was in
// the path: the requests took at least the time it adds, or attempts
// failed.
func TestToxiproxy(t *testing.T) {
	const (
		workers = 6
		perKind = 30 // GETs and POSTs per toxic
		// A request that ignored its deadline would hang behind the
		// timeout toxics until the proxy stops; the slack only absorbs
		// scheduling on a loaded 2-core machine (690ms measured under the
		// race detector with busy loops), so it is wide.
		slack = 5 * time.Second
	)
	cases := []struct {
		name, toxic string
		allGetsOK   bool // the toxic slows or slices but loses nothing
		allGetsFail bool
		deadline    time.Duration // per request; 0 means 600ms
		// The toxic's mark, which a run without it would not show: every
		// successful request took at least slowest (GETs: slowestGet), or
		// some attempts failed (faults).
		slowest, slowestGet time.Duration
		faults              bool
	}{
		// 30ms ± 10ms on every answer.
		{name: "latency", toxic: `{"name":"lat","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":30,"jitter":10}}`,
			allGetsOK: true, deadline: 3 * time.Second, slowest: 20 * time.Millisecond},
		// A 4 KiB GET answer in slices of at most 24 bytes, 200µs apart:
		// over 170 slices, 34ms or more.
		{name: "slicer", toxic: `{"name":"slice","type":"slicer","stream":"downstream","toxicity":1,"attributes":{"average_size":16,"size_variation":8,"delay":200}}`,
			allGetsOK: true, deadline: 3 * time.Second, slowestGet: 20 * time.Millisecond},
		{name: "reset_peer", toxic: `{"name":"rst","type":"reset_peer","stream":"downstream","toxicity":0.5,"attributes":{"timeout":0}}`, faults: true},
		{name: "reset_peer_upstream", toxic: `{"name":"rstup","type":"reset_peer","stream":"upstream","toxicity":0.5,"attributes":{"timeout":5}}`, faults: true},
		{name: "timeout", toxic: `{"name":"hang","type":"timeout","stream":"downstream","toxicity":0.3,"attributes":{"timeout":0}}`, faults: true},
		{name: "timeout_upstream", toxic: `{"name":"blackhole","type":"timeout","stream":"upstream","toxicity":0.3,"attributes":{"timeout":0}}`, faults: true},
		{name: "limit_data", toxic: `{"name":"cut","type":"limit_data","stream":"downstream","toxicity":1,"attributes":{"bytes":1024}}`, allGetsFail: true},
	}
	var summary []string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			deadline := tc.deadline
			if deadline == 0 {
				deadline = 600 * time.Millisecond
			}
			up := newLedger(t)
			addr := startToxiproxy(t, hostOf(up.srv.URL), tc.toxic)
			base := newBase(t, workers)
			base.DisableKeepAlives = true // a fresh connection, so a fresh roll of the toxic, per attempt
			var res toxicResult
			c := newClient(t,
				memerr.WithBaseTransport(attemptCounter{base: base, res: &res}),
				memerr.WithHeader("Authorization", "Bearer "+fakeKey),
				memerr.WithMaxRetries(4),
				memerr.WithBackoff(time.Millisecond, 10*time.Millisecond),
				memerr.WithRetryBudget(memerr.NewRetryBudget(100_000, 1)),
				memerr.WithoutBreaker(),
			)
			var seq atomic.Int64
			jobs := make(chan string, 2*perKind)
			for i := 0; i < perKind; i++ {
				jobs <- http.MethodGet
				jobs <- http.MethodPost
			}
			close(jobs)
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for method := range jobs {
						ctx, cancel := context.WithTimeout(context.Background(), deadline)
						start := time.Now()
						var err error
						if method == http.MethodGet {
							var out struct {
								Items []map[string]string `json:"items"`
							}
							err = c.DoJSON(ctx, method, secretURL(t, "http://"+addr, "/v1/memories"), nil, &out)
							if err == nil && len(out.Items) != 64 {
								err = fmt.Errorf("got %d items, want 64", len(out.Items))
							}
						} else {
							n := seq.Add(1)
							req := newRequest(ctx, t, method, "http://"+addr, "/v1/memories", []byte(`{"text":"remember this"}`))
							req.Header.Set("X-Request-Seq", strconv.FormatInt(n, 10))
							_, err = do(c, req)
						}
						took := time.Since(start)
						over := took - deadline
						cancel()
						if err == nil {
							res.succeeded(method, took)
						}
						if over > slack {
							t.Logf("%s outlived its deadline by %v: %v", method, over, err)
						}
						secrets.noteErr(err)
						if over > time.Duration(res.maxOver.Load()) {
							res.maxOver.Store(int64(over))
						}
						if err != nil {
							asError(t, err)
						}
						switch {
						case method == http.MethodGet && err == nil:
							res.getOK.Add(1)
						case method == http.MethodGet:
							res.getErr.Add(1)
						case err == nil:
							res.postOK.Add(1)
						default:
							res.postErr.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			assert.Empty(t, up.doubles(), "writes applied twice")
			assert.LessOrEqual(t, time.Duration(res.maxOver.Load()), slack, "a request outlived its deadline")
			if tc.allGetsOK {
				assert.EqualValues(t, perKind, res.getOK.Load(), "GETs through %s", tc.name)
				assert.EqualValues(t, perKind, res.postOK.Load(), "POSTs through %s", tc.name)
			}
			if tc.allGetsFail {
				assert.EqualValues(t, perKind, res.getErr.Load(), "every GET body is cut")
			}
			res.mu.Lock()
			defer res.mu.Unlock()
			if tc.slowest > 0 {
				assert.GreaterOrEqual(t, res.fastOK, tc.slowest, "the quickest request: is the toxic in the path?")
			}
			if tc.slowestGet > 0 {
				assert.GreaterOrEqual(t, res.fastGet, tc.slowestGet, "the quickest GET: is the toxic in the path?")
			}
			if tc.faults {
				assert.Positive(t, res.failed, "attempts that failed: is the toxic in the path?")
			}
			line := fmt.Sprintf("toxic %-19s GET ok %2d err %2d | POST ok %2d err %2d | attempts %3d failed %2d | quickest success %v | upstream writes %2d, applied twice 0 | worst overrun of the %v deadline %v",
				tc.name, res.getOK.Load(), res.getErr.Load(), res.postOK.Load(), res.postErr.Load(), res.attempts, res.failed,
				res.fastOK.Round(time.Millisecond), up.writes(),
				deadline, max(0, time.Duration(res.maxOver.Load())).Round(time.Millisecond))
			t.Log(line)
			summary = append(summary, line)
		})
	}
	for _, l := range summary {
		fmt.Println(l)
	}
}
