package memerr

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientDoAttempts(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		kind  Kind
		want  int
	}{
		{"not retried", []step{jsonStep(404, `{"success":false,"error":{"code":"MEMORY_NOT_FOUND","message":"no such memory"}}`)}, KindNotFound, 1},
		{"retries exhausted", []step{{status: 503, body: "down"}}, KindUnavailable, 1 + DefaultMaxRetries},
		{"retried then not retryable", []step{{status: 503}, {status: 500}, jsonStep(400, `{"code":40000,"message":"bad param","data":null}`)}, KindInvalidRequest, 3},
		{"in-body error on 200", []step{jsonStep(200, downMemOS)}, KindUnavailable, 1 + DefaultMaxRetries},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScripted(t, tc.steps...)
			c := NewClient(fast(WithoutBreaker())...)
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			resp, err := c.Do(req)
			assert.Nil(t, resp)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.kind, e.Kind)
			assert.Equal(t, srv.Hits(), e.Attempts, "Attempts equals server hits")
			assert.Equal(t, tc.want, e.Attempts)
		})
	}

	t.Run("network error", func(t *testing.T) {
		c := NewClient(fast(WithoutBreaker(), WithMaxRetries(2))...)
		req, _ := http.NewRequest(http.MethodGet, "http://"+closedPort(t)+"/x", nil)
		_, err := c.Do(req)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 3, e.Attempts)
		assert.Equal(t, Generic, e.Vendor)
		assert.Equal(t, KindUnavailable, e.Kind)
		var op interface{ Timeout() bool }
		assert.ErrorAs(t, err, &op, "the network error is the cause")
	})

	t.Run("2xx error not read ahead, after retries", func(t *testing.T) {
		// Tensorheart's 2xx bodies are not read ahead: Client.Do finds the
		// error after the transport's loop, and still counts every attempt.
		srv := newScripted(t, step{status: 503}, step{status: 502},
			jsonStep(200, `{"success":false,"error":{"code":"VALIDATION_ERROR","message":"bad"}}`))
		c := NewClient(fast(WithVendor(Tensorheart), WithoutBreaker())...)
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		_, err := c.Do(req)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 200, e.StatusCode)
		assert.Equal(t, "VALIDATION_ERROR", e.Code)
		assert.Equal(t, 3, srv.Hits())
		assert.Equal(t, 3, e.Attempts)
	})

	t.Run("success", func(t *testing.T) {
		srv := newScripted(t, step{status: 503}, jsonStep(200, okCoze))
		c := NewClient(fast(WithVendor(Coze))...)
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := c.Do(req)
		require.NoError(t, err)
		assert.Equal(t, okCoze, readAll(t, resp), "body unread")
	})

	t.Run("cancelled", func(t *testing.T) {
		srv := newScripted(t, jsonStep(200, okCoze))
		c := NewClient()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		_, err := c.Do(req)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, KindUnknown, e.Kind)
	})
}

func TestClientHTTPClient(t *testing.T) {
	c := NewClient()
	require.NotNil(t, c.HTTPClient())
	assert.Same(t, c.Transport(), c.HTTPClient().Transport)
}

func TestDoJSON(t *testing.T) {
	type item struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	}
	tests := []struct {
		name   string
		vendor Vendor
		body   string
	}{
		{"coze", Coze, `{"code":0,"msg":"","data":{"id":"m1","text":"hi"}}`},
		{"memos code 0", MemOS, `{"code":0,"message":"ok","data":{"id":"m1","text":"hi"}}`},
		{"memos self-hosted code 200", MemOS, `{"code":200,"message":"ok","data":{"id":"m1","text":"hi"}}`},
		{"tensorheart", Tensorheart, `{"success":true,"data":{"id":"m1","text":"hi"},"meta":{"request_id":"req_1"}}`},
		{"memoryos", MemoryOS, `{"data":{"id":"m1","text":"hi"},"meta":{"request_id":"req_2"}}`},
		{"memories.ai code 200", MemoriesAI, `{"code":200,"msg":"success","data":{"id":"m1","text":"hi"}}`},
		{"memories.ai code 0000", MemoriesAI, `{"code":"0000","msg":"success","data":{"id":"m1","text":"hi"},"success":true,"failed":false}`},
		{"auto-detected", Auto, `{"success":true,"data":{"id":"m1","text":"hi"}}`},
		{"no envelope", Auto, `{"id":"m1","text":"hi"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotCT, gotAccept, gotAuth, gotBody string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotCT, gotAccept, gotAuth = r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("Authorization")
				b := new(strings.Builder)
				_, _ = ioCopy(b, r)
				gotBody = b.String()
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := NewClient(WithVendor(tc.vendor), WithHeader("Authorization", "Bearer sk-test-0123456789"))
			var out item
			err := c.DoJSON(context.Background(), http.MethodPost, srv.URL+"/v1/add", map[string]string{"text": "hi"}, &out)
			require.NoError(t, err)
			assert.Equal(t, item{ID: "m1", Text: "hi"}, out)
			assert.Equal(t, "application/json", gotCT)
			assert.Equal(t, "application/json", gotAccept)
			assert.Equal(t, "Bearer sk-test-0123456789", gotAuth)
			assert.JSONEq(t, `{"text":"hi"}`, gotBody)
		})
	}
}

func ioCopy(b *strings.Builder, r *http.Request) (int64, error) {
	buf := make([]byte, 512)
	var n int64
	for {
		k, err := r.Body.Read(buf)
		b.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
}

func TestDoJSONFailures(t *testing.T) {
	t.Run("vendor error", func(t *testing.T) {
		srv := newScripted(t, jsonStep(200, `{"code":4011,"msg":"insufficient balance","detail":{"logid":"L1"}}`))
		c := NewClient(WithVendor(Coze))
		var out map[string]any
		err := c.DoJSON(context.Background(), http.MethodPost, srv.URL, map[string]int{"a": 1}, &out)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.ErrorIs(t, err, CozeInsufficientBalance)
		assert.ErrorIs(t, err, ErrInsufficientBalance)
		assert.Equal(t, 1, e.Attempts)
		assert.Equal(t, "L1", e.RequestID)
		assert.Nil(t, out)
	})

	t.Run("failed chat larger than PeekLimit", func(t *testing.T) {
		// The Transport hands on a 2xx body over PeekLimit unread, but
		// DoJSON reads it whole: a chat that failed is an *Error whatever
		// the size of its object, as README and Parse say.
		pad := strings.Repeat("x", PeekLimit)
		chat := `{"code":0,"msg":"","data":{"id":"c1","meta_data":{"note":"` + pad + `"},"status":"failed","last_error":{"code":4000,"msg":"bad chat"}}}`
		require.Error(t, Parse(Coze, 200, nil, []byte(chat)), "Parse reports it")
		for _, v := range []Vendor{Auto, Coze} {
			srv := newScripted(t, step{status: 503}, jsonStep(200, chat))
			c := NewClient(fast(WithVendor(v), WithoutBreaker())...)
			var out struct{ ID string }
			err := c.DoJSON(context.Background(), http.MethodGet, srv.URL, nil, &out)
			var e *Error
			require.ErrorAs(t, err, &e, "vendor %q", v)
			assert.Equal(t, Coze, e.Vendor)
			assert.Equal(t, "4000", e.Code)
			assert.Equal(t, "bad chat", e.Message)
			assert.Equal(t, 2, e.Attempts, "a 503, then the chat")
			assert.Empty(t, out.ID)
		}
		// A vendor whose 2xx bodies the Transport never reads ahead.
		failed := `{"success":false,"error":{"code":"MEMORY_NOT_FOUND","message":"` + pad + `"}}`
		srv := newScripted(t, step{status: 503}, jsonStep(200, failed))
		c := NewClient(fast(WithVendor(Tensorheart), WithoutBreaker())...)
		err := c.DoJSON(context.Background(), http.MethodGet, srv.URL, nil, nil)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "MEMORY_NOT_FOUND", e.Code)
		assert.Equal(t, 2, e.Attempts)
	})

	t.Run("retried then ok", func(t *testing.T) {
		srv := newScripted(t, jsonStep(200, busyCoze), jsonStep(200, `{"code":0,"msg":"","data":[1,2,3]}`))
		c := NewClient(fast(WithVendor(Coze))...)
		var out []int
		require.NoError(t, c.DoJSON(context.Background(), http.MethodGet, srv.URL, nil, &out))
		assert.Equal(t, []int{1, 2, 3}, out)
		assert.Equal(t, 2, srv.Hits())
		reqs := srv.reqs
		assert.Empty(t, reqs[0].Header.Get("Content-Type"), "no body, no Content-Type")
	})

	t.Run("undecodable data", func(t *testing.T) {
		srv := newScripted(t, jsonStep(200, `{"code":0,"msg":"","data":{"id":42}}`))
		c := NewClient(WithVendor(Coze))
		var out struct {
			ID []string `json:"id"`
		}
		err := c.DoJSON(context.Background(), http.MethodGet, srv.URL, nil, &out)
		require.Error(t, err)
		var je *json.UnmarshalTypeError
		assert.ErrorAs(t, err, &je)
		var e *Error
		assert.False(t, errors.As(err, &e))
	})

	t.Run("unmarshalable input", func(t *testing.T) {
		c := NewClient()
		err := c.DoJSON(context.Background(), http.MethodPost, "http://127.0.0.1:1", func() {}, nil)
		require.Error(t, err)
	})

	t.Run("bad URL keeps its secret", func(t *testing.T) {
		c := NewClient()
		err := c.DoJSON(context.Background(), http.MethodGet, "http://h/x?api_key=sekret123\x7f", nil, nil)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "sekret123")
	})

	t.Run("null data and nil out", func(t *testing.T) {
		srv := newScripted(t, jsonStep(200, `{"code":0,"msg":"","data":null}`))
		c := NewClient(WithVendor(Coze))
		var out map[string]any
		require.NoError(t, c.DoJSON(context.Background(), http.MethodDelete, srv.URL, nil, &out))
		assert.Nil(t, out)
		require.NoError(t, c.DoJSON(context.Background(), http.MethodDelete, srv.URL, nil, nil))
	})

	t.Run("deadline", func(t *testing.T) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.Header().Set("Retry-After", "10")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			w.Write([]byte(`{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow down"}}`))
		}))
		defer srv.Close()
		c := NewClient()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := c.DoJSON(ctx, http.MethodGet, srv.URL, nil, nil)
		assert.Less(t, time.Since(start), 500*time.Millisecond)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, Tensorheart, e.Vendor)
		assert.Equal(t, 10*time.Second, e.RetryAfter)
		assert.Equal(t, int32(1), hits.Load())
	})
}

func TestClientFailuresWithoutResponse(t *testing.T) {
	hold := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(hold)

	t.Run("the caller's deadline is not blamed on the server", func(t *testing.T) {
		c := NewClient(WithMaxRetries(0))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", slow.URL+"/x?api_key=sk-live-SECRET123456", nil)
		require.NoError(t, err)
		_, err = c.Do(req)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, KindUnknown, e.Kind)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotContains(t, err.Error(), "SECRET")
		assert.NotContains(t, err.Error(), "api_key")
	})

	t.Run("a refused connection is unavailable", func(t *testing.T) {
		ln := httptest.NewServer(http.NotFoundHandler())
		addr := ln.URL
		ln.Close()
		c := NewClient(WithBackoff(time.Millisecond, 2*time.Millisecond))
		req, err := http.NewRequest("GET", addr, nil)
		require.NoError(t, err)
		_, err = c.Do(req)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, KindUnavailable, e.Kind)
		assert.Equal(t, DefaultMaxRetries+1, e.Attempts)
		assert.Equal(t, 1, strings.Count(err.Error(), "memerr:"), err.Error())
	})

	t.Run("an open breaker names memerr once", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
		defer srv.Close()
		c := NewClient(WithVendor(Coze), WithMaxRetries(0), WithBreaker(BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: time.Minute}))
		req, _ := http.NewRequest("GET", srv.URL, nil)
		_, err := c.Do(req)
		require.Error(t, err)
		_, err = c.Do(req)
		require.ErrorIs(t, err, ErrCircuitOpen)
		assert.Equal(t, 1, strings.Count(err.Error(), "memerr:"), err.Error())
		assert.True(t, strings.HasPrefix(err.Error(), "memerr: coze unavailable: circuit open for http://127.0.0.1:"), err.Error())
	})
}

func TestNewTransportDefaultBase(t *testing.T) {
	tr := NewTransport(nil)
	ht, ok := tr.base.(*http.Transport)
	require.True(t, ok)
	assert.Equal(t, DefaultMaxIdleConnsPerHost, ht.MaxIdleConnsPerHost)
	assert.NotSame(t, http.DefaultTransport, ht, "a clone, never the shared default")
}

func TestWithHeaderOnEveryClientRequest(t *testing.T) {
	srv := newScripted(t, jsonStep(200, okCoze))
	c := NewClient(WithHeader("Authorization", "Bearer sk-test"), WithHeader("X-Team", "memory"))

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := c.Do(req)
	require.NoError(t, err)
	readAll(t, resp)
	assert.Empty(t, req.Header.Get("Authorization"), "the caller's request is not modified")

	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Team", "search")
	resp, err = c.Do(req)
	require.NoError(t, err)
	readAll(t, resp)

	require.NoError(t, c.DoJSON(context.Background(), http.MethodGet, srv.URL, nil, nil))

	srv.mu.Lock()
	defer srv.mu.Unlock()
	require.Len(t, srv.reqs, 3)
	for i, r := range srv.reqs {
		assert.Equal(t, "Bearer sk-test", r.Header.Get("Authorization"), "request %d", i)
	}
	assert.Equal(t, "memory", srv.reqs[0].Header.Get("X-Team"))
	assert.Equal(t, "search", srv.reqs[1].Header.Get("X-Team"), "the request's own header wins")
}

// DoJSON reads the whole body, so it judges bodies Do does not read ahead:
// an error envelope served as text/plain (what a Go server that does not
// set its Content-Type sends) or larger than PeekLimit is a failure, with
// the attempts made, not data decoded into out.
func TestDoJSONJudgesWhatItReads(t *testing.T) {
	plain := map[string]string{"Content-Type": "text/plain; charset=utf-8"}
	pad := strings.Repeat("x", PeekLimit)
	tests := []struct {
		name   string
		vendor Vendor
		steps  []step
		code   string
		kind   Kind
		tries  int
	}{
		{"text/plain, Auto", Auto, []step{{status: 200, header: plain, body: `{"code":4000,"msg":"bad param","detail":{"logid":"L"}}`}}, "4000", KindInvalidRequest, 1},
		{"text/plain, named", Coze, []step{{status: 200, header: plain, body: `{"code":4011,"msg":"no balance"}`}}, "4011", KindInsufficientBalance, 1},
		{"larger than PeekLimit", MemOS, []step{jsonStep(200, `{"code":40000,"message":"bad param","data":{"echo":"`+pad+`"}}`)}, "40000", KindInvalidRequest, 1},
		{"after a retry", Coze, []step{{status: 503}, {status: 200, header: plain, body: `{"code":4000,"msg":"bad param"}`}}, "4000", KindInvalidRequest, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient(fast(WithoutBreaker(), WithVendor(tc.vendor))...)
			for _, out := range []any{&map[string]any{}, nil} {
				srv := newScripted(t, tc.steps...)
				err := c.DoJSON(context.Background(), http.MethodGet, srv.URL, nil, out)
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, tc.code, e.Code)
				assert.Equal(t, tc.kind, e.Kind)
				assert.Equal(t, tc.tries, e.Attempts)
			}
		})
	}

	t.Run("text/plain success", func(t *testing.T) {
		srv := newScripted(t, step{status: 200, header: plain, body: `{"code":0,"msg":"","data":{"id":"m1"}}`})
		var out struct{ ID string }
		require.NoError(t, NewClient(fast()...).DoJSON(context.Background(), http.MethodGet, srv.URL, nil, &out))
		assert.Equal(t, "m1", out.ID)
	})
}

// IdempotentContext marks DoJSON's POST as safe to retry after a 500.
func TestIdempotentContext(t *testing.T) {
	steps := []step{jsonStep(500, `{"code":50000,"message":"boom","data":null}`), jsonStep(200, `{"code":0,"message":"ok","data":{}}`)}
	srv := newScripted(t, steps...)
	c := NewClient(fast(WithoutBreaker())...)
	err := c.DoJSON(context.Background(), http.MethodPost, srv.URL, map[string]string{"text": "x"}, nil)
	require.ErrorIs(t, err, ErrInternal, "a POST is not retried after a 500")
	assert.Equal(t, 1, srv.Hits())

	srv = newScripted(t, steps...)
	require.NoError(t, c.DoJSON(IdempotentContext(context.Background()), http.MethodPost, srv.URL, map[string]string{"text": "x"}, nil))
	assert.Equal(t, 2, srv.Hits())
	assert.Equal(t, [][]byte{[]byte(`{"text":"x"}`), []byte(`{"text":"x"}`)}, srv.Bodies(), "the body sent again whole")
}

// A success body past MaxJSONBody is an error wrapping ErrTooLarge; what
// was read is dropped.
func TestDoJSONBodyTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"code":0,"msg":"","data":"`)
		io.CopyN(w, neverEnding('x'), MaxJSONBody)
	}))
	defer srv.Close()
	err := NewClient().DoJSON(context.Background(), http.MethodGet, srv.URL, nil, new(any))
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "MaxJSONBody")
}
