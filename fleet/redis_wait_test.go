package memerrfleet

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A hold that fits MaxRetryWait is waited out by the other replica: its
// request reaches the vendor only once the hold has ended (a lower bound,
// which load cannot break).
func TestRealRedisWaitedOut(t *testing.T) {
	r := startRedis(t)
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		first := len(arrivals) == 1
		mu.Unlock()
		if first {
			w.Header().Set("retry-after-ms", "300")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":4008,"msg":"too many requests"}`))
			return
		}
		w.Write([]byte(`{"code":0,"msg":"","data":{}}`))
	}))
	defer srv.Close()
	fa, fb := newFleet(t, r.addr()), newFleet(t, r.addr())
	a := memerr.NewClient(memerr.WithFleet(fa), memerr.WithMaxRetries(0))
	b := memerr.NewClient(memerr.WithFleet(fb), memerr.WithMaxRetries(0))
	ctx := context.Background()

	require.ErrorIs(t, a.DoJSON(ctx, http.MethodGet, srv.URL+"/v3/chat", nil, nil), memerr.ErrRateLimited)
	h := func() memerr.FleetHold {
		var h memerr.FleetHold
		require.Eventually(t, func() bool { var ok bool; h, ok = fb.Held("http://" + srv.Listener.Addr().String()); return ok }, 3*time.Second, 100*time.Microsecond)
		return h
	}()
	require.NoError(t, b.DoJSON(ctx, http.MethodGet, srv.URL+"/v3/chat", nil, nil), "waited out, then sent")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, arrivals, 2)
	assert.False(t, arrivals[1].Before(h.Until.Truncate(time.Millisecond)), "B sent only after the hold ended")
}
