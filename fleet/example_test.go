package memerrfleet_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/memerr/memerr"
	memerrfleet "github.com/memerr/memerr/fleet"
	"github.com/redis/go-redis/v9"
)

// One replica's client in fleet mode. Its request fails with the rate limit
// either way: sent and refused with Retry-After: 30, or, once another
// replica was refused, not sent at all (see the tests for the count).
func Example() {
	m := miniredis.NewMiniRedis() // stands in for your Redis
	if err := m.Start(); err != nil {
		panic(err)
	}
	defer m.Close()
	addr := m.Addr()
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"code":4008,"msg":"too many requests"}`))
	}))
	defer vendor.Close()
	ctx, url := context.Background(), vendor.URL+"/v3/chat"

	// README:begin fleet
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true}) // your Redis
	fleet := memerrfleet.New(rdb, memerrfleet.WithPrefix("myservice:memerr:"))
	defer fleet.Close()
	client := memerr.NewClient(memerr.WithFleet(fleet), memerr.WithMaxRetryWait(10*time.Second))

	// Once any replica was told "Retry-After: 30", this request is not sent:
	err := client.DoJSON(ctx, http.MethodGet, url, nil, nil)
	var e *memerr.Error
	if errors.As(err, &e) && e.Kind == memerr.KindRateLimited {
		fmt.Println("rate limited, retry after", e.RetryAfter.Round(10*time.Second))
	}
	// README:end

	// Output: rate limited, retry after 30s
}
