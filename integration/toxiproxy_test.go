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
}

// TestToxiproxy sends GETs and POSTs through Toxiproxy with one toxic at a
// time. Every GET succeeds or fails with a *memerr.Error within its
// deadline; no POST is applied twice by the upstream.
func TestToxiproxy(t *testing.T) {
	const (
		workers = 6
		perKind = 30                     // GETs and POSTs per toxic
		slack   = 500 * time.Millisecond // scheduling on a loaded 2-core machine
	)
	cases := []struct {
		name, toxic string
		allGetsOK   bool // the toxic slows or slices but loses nothing
		allGetsFail bool
		deadline    time.Duration // per request; 0 means 600ms
	}{
		{"latency", `{"name":"lat","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":30,"jitter":10}}`, true, false, 3 * time.Second},
		{"slicer", `{"name":"slice","type":"slicer","stream":"downstream","toxicity":1,"attributes":{"average_size":16,"size_variation":8,"delay":200}}`, true, false, 3 * time.Second},
		{"reset_peer", `{"name":"rst","type":"reset_peer","stream":"downstream","toxicity":0.5,"attributes":{"timeout":0}}`, false, false, 0},
		{"reset_peer_upstream", `{"name":"rstup","type":"reset_peer","stream":"upstream","toxicity":0.5,"attributes":{"timeout":5}}`, false, false, 0},
		{"timeout", `{"name":"hang","type":"timeout","stream":"downstream","toxicity":0.3,"attributes":{"timeout":0}}`, false, false, 0},
		{"timeout_upstream", `{"name":"blackhole","type":"timeout","stream":"upstream","toxicity":0.3,"attributes":{"timeout":0}}`, false, false, 0},
		{"limit_data", `{"name":"cut","type":"limit_data","stream":"downstream","toxicity":1,"attributes":{"bytes":1024}}`, false, true, 0},
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
			c := newClient(t,
				memerr.WithBaseTransport(base),
				memerr.WithHeader("Authorization", "Bearer "+fakeKey),
				memerr.WithMaxRetries(4),
				memerr.WithBackoff(time.Millisecond, 10*time.Millisecond),
				memerr.WithRetryBudget(memerr.NewRetryBudget(100_000, 1)),
				memerr.WithoutBreaker(),
			)
			var res toxicResult
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
						over := time.Since(start) - deadline
						cancel()
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
			line := fmt.Sprintf("toxic %-19s GET ok %2d err %2d | POST ok %2d err %2d | upstream writes %2d, applied twice 0 | worst overrun of the %v deadline %v",
				tc.name, res.getOK.Load(), res.getErr.Load(), res.postOK.Load(), res.postErr.Load(), up.writes(),
				deadline, max(0, time.Duration(res.maxOver.Load())).Round(time.Millisecond))
			t.Log(line)
			summary = append(summary, line)
		})
	}
	for _, l := range summary {
		fmt.Println(l)
	}
}
