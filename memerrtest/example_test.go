package memerrtest_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
)

// A Coze "system busy" error in the body of an HTTP 200, then a success.
func Example() {
	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.Enqueue(
		memerrtest.Error(memerr.CozeSystemBusy),
		memerrtest.Success(memerr.Coze, map[string]string{"id": "m1"}),
	)

	for i := 0; i < 2; i++ {
		resp, err := http.Get(srv.URL + "/v3/chat")
		if err != nil {
			panic(err)
		}
		if err := memerr.Decode(resp); err != nil {
			var e *memerr.Error
			errors.As(err, &e)
			fmt.Println("HTTP", resp.StatusCode, e.Vendor, e.Code, e.Kind, "retryable:", e.Retryable(), "logid sent:", e.RequestID != "")
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println("HTTP", resp.StatusCode, string(body))
	}
	// Output:
	// HTTP 200 coze 4009 unavailable retryable: true logid sent: true
	// HTTP 200 {"code":0,"msg":"","data":{"id":"m1"}}
}

// Rate limits carry the vendor's wait hints.
func ExampleResponse_WithRetryAfter() {
	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.Enqueue(memerrtest.Error(memerr.TensorheartRateLimitExceeded).WithRetryAfter(2 * time.Second))

	resp, err := srv.Client().Get(srv.URL + "/v1/query")
	if err != nil {
		panic(err)
	}
	fmt.Println("Retry-After:", resp.Header.Get("Retry-After"))
	var e *memerr.Error
	if errors.As(memerr.Decode(resp), &e) {
		fmt.Println(e.StatusCode, e.Vendor, e.Code, e.Kind, e.RetryAfter)
	}
	// Output:
	// Retry-After: 2
	// 429 tensorheart RATE_LIMIT_EXCEEDED rate limited 2s
}

// Per-path scripts come first, then the default queue, then the fallback.
func ExampleServer_EnqueuePath() {
	srv := memerrtest.NewServer(memerrtest.WithVendor(memerr.MemOS))
	defer srv.Close()
	srv.EnqueuePath("/search", memerrtest.Error(memerr.MemOSSearchServiceUnavailable))
	srv.Enqueue(memerrtest.Error(memerr.MemOSRateLimitExceeded))

	for _, path := range []string{"/add", "/search", "/search"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		err = memerr.Decode(resp)
		resp.Body.Close()
		fmt.Printf("%-8s %v\n", path, err)
	}
	fmt.Println("pending:", srv.Pending())
	// Output:
	// /add     memerr: memos 40300 rate limited: too many requests in a short time
	// /search  memerr: memos 50005 unavailable: the memory search service is down for now
	// /search  <nil>
	// pending: 0
}

// A proxy's HTML page decodes by its HTTP status.
func ExampleHTMLBadGateway() {
	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.Enqueue(memerrtest.HTMLBadGateway())

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		panic(err)
	}
	err = memerr.Decode(resp)
	fmt.Println(err)
	fmt.Println(errors.Is(err, memerr.ErrUnavailable))
	// Output:
	// memerr: http 502 unavailable: 502 Bad Gateway
	// true
}

// The server records what it received.
func ExampleServer_Requests() {
	srv := memerrtest.NewServer()
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/memories?user=u1", strings.NewReader(`{"content":"hi"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	for _, r := range srv.Requests() {
		fmt.Println(r.Method, r.Path, r.Query.Get("user"), r.Header.Get("Content-Type"), string(r.Body))
	}
	// Output:
	// POST /v1/memories u1 application/json {"content":"hi"}
}

// A dropped connection is a network error: no response at all.
func ExampleDropConnection() {
	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.Enqueue(memerrtest.DropConnection())

	resp, err := srv.Client().Post(srv.URL+"/v1/memories", "application/json", strings.NewReader(`{}`))
	fmt.Println(resp == nil, err != nil)
	// Output:
	// true true
}
