package paired

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestMedianRatio(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	for _, c := range []struct {
		a, b []time.Duration
		want float64
	}{
		{ms(2, 3, 10), ms(1, 1, 1), 3},          // odd: the middle ratio, not the mean (5)
		{ms(2, 4, 6, 100), ms(2, 2, 2, 2), 2.5}, // even: the mean of the middle two
		{ms(1, 1), ms(0, 2), 0.5},               // a zero baseline round is left out
		{nil, nil, 0},
	} {
		if got := MedianRatio(c.a, c.b); got != c.want {
			t.Errorf("MedianRatio(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestMedianDiff(t *testing.T) {
	ns := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x)
		}
		return d
	}
	for _, c := range []struct {
		a, b []time.Duration
		want float64
	}{
		{ns(12, 30, 13), ns(10, 10, 10), 3},  // odd: the middle difference, not the mean
		{ns(5, 9, 20, 7), ns(5, 5, 5, 5), 3}, // even: the mean of the middle two (2 and 4)
		{ns(4, 4), ns(6, 5), -1.5},           // a contender faster than the baseline
		{ns(4, 4, 4), ns(1, 1), 3},           // rounds beyond b's are left out
		{nil, nil, 0},
	} {
		if got := MedianDiff(c.a, c.b); got != c.want {
			t.Errorf("MedianDiff(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte("hello"))
	}))
	defer srv.Close()
	rt := Base()
	defer rt.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/up", nil)
	if n, err := Get(rt, req); err != nil || n != 5 {
		t.Errorf("Get = %d, %v; want 5, nil", n, err)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/down", nil)
	if _, err := Get(rt, req); err == nil || err.Error() != "status 503" {
		t.Errorf("Get of a 503 = %v, want status 503", err)
	}
}
