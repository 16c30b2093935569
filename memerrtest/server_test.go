package memerrtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
)

// fetch sends one request and returns the response with its body read.
func fetch(t *testing.T, c *http.Client, method, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func asError(t *testing.T, err error) *memerr.Error {
	t.Helper()
	var e *memerr.Error
	require.True(t, errors.As(err, &e), "want *memerr.Error, got %v", err)
	return e
}

// expectedStatus is the HTTP status each vendor pairs with a registry code.
func expectedStatus(info memerr.CodeInfo) int {
	switch v := info.Code.Vendor; {
	case info.Status != 0:
		return info.Status
	case v == memerr.MemOS || v == memerr.Coze:
		return http.StatusOK
	}
	panic("no status for " + info.Code.String())
}

func TestErrorDecodesBackForEveryRegistryCode(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	c := srv.Client()
	vendors := append(memerr.Vendors(), memerr.Generic)
	for _, v := range vendors {
		codes := memerr.Codes(v)
		require.NotEmpty(t, codes, v.String())
		for _, info := range codes {
			t.Run(v.String()+"/"+info.Code.Value, func(t *testing.T) {
				srv.Enqueue(memerrtest.Error(info.Code))
				resp, body := fetch(t, c, http.MethodGet, srv.URL+"/v1/x", "")
				assert.Equal(t, expectedStatus(info), resp.StatusCode)

				e := asError(t, memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, body))
				assert.Equal(t, v, e.Vendor)
				assert.Equal(t, info.Code.Value, e.Code)
				assert.Equal(t, info.Kind, e.Kind)
				assert.Equal(t, resp.StatusCode, e.StatusCode)
				assert.True(t, errors.Is(e, info.Code))
				if v == memerr.Generic {
					assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
					assert.Equal(t, info.Code.Value+" "+info.Meaning, e.Message)
					return
				}
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				assert.Equal(t, info.Meaning, e.Message)
				switch v {
				case memerr.Coze, memerr.Tensorheart, memerr.MemoryOS:
					assert.NotEmpty(t, e.RequestID)
				default:
					assert.Empty(t, e.RequestID)
				}
			})
		}
	}
}

var reqRE = regexp.MustCompile(`^req_[0-9a-f]{16}$`)

// requestID finds the id a response carries, in its header or body.
func requestID(resp *http.Response, body []byte) string {
	if id := resp.Header.Get("X-Tt-Logid"); id != "" {
		return id
	}
	if id := resp.Header.Get("X-Request-ID"); id != "" {
		return id
	}
	var b struct {
		Meta struct {
			RequestID string `json:"request_id"`
		} `json:"meta"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Meta.RequestID
}

func TestEnvelopes(t *testing.T) {
	data := map[string]any{"id": "m1"}
	tests := []struct {
		name     string
		resp     memerrtest.Response
		status   int
		idRE     *regexp.Regexp // nil: no request id
		idHeader string
		body     string // %[1]s is the request id
	}{
		{"coze error", memerrtest.Error(memerr.CozeSystemBusy), 200, reqRE, "X-Tt-Logid",
			`{"code":4009,"msg":"the platform is at its request ceiling","detail":{"logid":"%[1]s"}}`},
		{"coze auth error", memerrtest.Error(memerr.CozeAccessTokenInvalid), 401, reqRE, "X-Tt-Logid",
			`{"code":700012006,"msg":"the access token is invalid","detail":{"logid":"%[1]s"}}`},
		// Coze's token endpoints answer in their own shape, as coze-go's
		// auth_test.go and coze-py's tests/test_auth.py mock them.
		{"coze oauth error", memerrtest.Error(memerr.CozeSlowDown), 400, reqRE, "X-Tt-Logid",
			`{"error_code":"slow_down","error_message":"the token endpoint is polled too often","detail":{"logid":"%[1]s"}}`},
		{"memos error", memerrtest.Error(memerr.MemOSRateLimitExceeded), 200, nil, "",
			`{"code":40300,"message":"too many requests in a short time","data":null}`},
		{"tensorheart error", memerrtest.Error(memerr.TensorheartRateLimitExceeded), 429, reqRE, "X-Request-ID",
			`{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"too many requests per minute"},"meta":{"request_id":"%[1]s"}}`},
		{"memoryos error", memerrtest.Error(memerr.MemoryOSRateLimited), 429, reqRE, "",
			`{"error":{"code":"RATE_LIMITED","message":"the rate limit is exceeded"},"meta":{"request_id":"%[1]s"}}`},
		{"memoriesai error", memerrtest.Error(memerr.MemoriesAIRateLimited), 429, nil, "",
			`{"code":429,"msg":"too many requests in a short time","data":null}`},
		{"coze success", memerrtest.Success(memerr.Coze, data), 200, reqRE, "X-Tt-Logid",
			`{"code":0,"msg":"","data":{"id":"m1"}}`},
		{"memos success", memerrtest.Success(memerr.MemOS, data), 200, nil, "",
			`{"code":0,"message":"","data":{"id":"m1"}}`},
		{"tensorheart success", memerrtest.Success(memerr.Tensorheart, data), 200, reqRE, "X-Request-ID",
			`{"success":true,"data":{"id":"m1"},"meta":{"request_id":"%[1]s"}}`},
		{"memoryos success", memerrtest.Success(memerr.MemoryOS, data), 200, reqRE, "",
			`{"data":{"id":"m1"},"meta":{"request_id":"%[1]s"}}`},
		{"memoriesai success", memerrtest.Success(memerr.MemoriesAI, data), 200, nil, "",
			`{"code":200,"msg":"","data":{"id":"m1"}}`},
		{"generic success", memerrtest.Success(memerr.Generic, data), 200, nil, "", `{"id":"m1"}`},
		{"raw json data", memerrtest.Success(memerr.Coze, json.RawMessage(`[1,2]`)), 200, reqRE, "X-Tt-Logid",
			`{"code":0,"msg":"","data":[1,2]}`},
		{"nil data", memerrtest.Success(memerr.MemOS, nil), 200, nil, "",
			`{"code":0,"message":"","data":null}`},
		{"unregistered coze code", memerrtest.Error(memerr.Code{Vendor: memerr.Coze, Value: "4999"}), 200, reqRE, "X-Tt-Logid",
			`{"code":4999,"msg":"unregistered code","detail":{"logid":"%[1]s"}}`},
		{"unregistered memoryos code", memerrtest.Error(memerr.Code{Vendor: memerr.MemoryOS, Value: "TEAPOT"}), 400, reqRE, "",
			`{"error":{"code":"TEAPOT","message":"unregistered code"},"meta":{"request_id":"%[1]s"}}`},
	}
	srv := memerrtest.NewServer()
	defer srv.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for i := 0; i < 2; i++ { // twice: ids must differ
				srv.Enqueue(tt.resp)
				resp, body := fetch(t, srv.Client(), http.MethodGet, srv.URL, "")
				assert.Equal(t, tt.status, resp.StatusCode)
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				assert.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"))
				id := requestID(resp, body)
				if tt.idRE == nil {
					assert.Empty(t, id)
					assert.JSONEq(t, tt.body, string(body))
					continue
				}
				assert.Regexp(t, tt.idRE, id)
				assert.False(t, seen[id], "request id %q repeated", id)
				seen[id] = true
				if tt.idHeader != "" {
					assert.Equal(t, id, resp.Header.Get(tt.idHeader))
				}
				if strings.Contains(tt.body, "%[1]s") {
					assert.JSONEq(t, fmt.Sprintf(tt.body, id), string(body))
				} else {
					assert.JSONEq(t, tt.body, string(body))
				}
			}
		})
	}
}

func TestSuccessDecodesAsSuccess(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	for _, v := range append(memerr.Vendors(), memerr.Generic) {
		t.Run(v.String(), func(t *testing.T) {
			srv.Enqueue(memerrtest.Success(v, map[string]int{"n": 1}))
			resp, err := srv.Client().Get(srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.NoError(t, memerr.Decode(resp))
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Contains(t, string(b), `{"n":1}`)
		})
	}
}

func TestSuccessPanicsOnUnmarshallableData(t *testing.T) {
	assert.Panics(t, func() { memerrtest.Success(memerr.Coze, make(chan int)) })
	assert.Panics(t, func() { memerrtest.Success(memerr.Coze, json.RawMessage(`{bad`)) })
	assert.Panics(t, func() { memerrtest.JSON(200, func() {}) })
}

func TestModifiers(t *testing.T) {
	reset := time.Unix(1704067200, 0)
	base := memerrtest.Error(memerr.TensorheartRateLimitExceeded)
	tests := []struct {
		name  string
		resp  memerrtest.Response
		check func(t *testing.T, resp *http.Response, body []byte)
	}{
		{"retry after rounds up to seconds", base.WithRetryAfter(1500 * time.Millisecond), func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, "2", resp.Header.Get("Retry-After"))
			e := asError(t, memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, body))
			assert.Equal(t, 2*time.Second, e.RetryAfter)
		}},
		{"retry after ms", base.WithRetryAfterMS(250 * time.Millisecond), func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, "250", resp.Header.Get("Retry-After-Ms"))
			e := asError(t, memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, body))
			assert.Equal(t, 250*time.Millisecond, e.RetryAfter)
		}},
		{"rate limit reset", base.WithRateLimitReset(reset), func(t *testing.T, resp *http.Response, _ []byte) {
			assert.Equal(t, "1704067200", resp.Header.Get("X-RateLimit-Reset"))
			assert.NotEmpty(t, resp.Header.Get("Date"))
		}},
		{"status", memerrtest.Error(memerr.CozeSystemBusy).WithStatus(503), func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 503, resp.StatusCode)
			e := asError(t, memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, body))
			assert.Equal(t, memerr.Coze, e.Vendor)
			assert.Equal(t, "4009", e.Code)
			assert.Equal(t, 503, e.StatusCode)
		}},
		{"message", memerrtest.Error(memerr.CozeSystemBusy).WithMessage("系统繁忙"), func(t *testing.T, resp *http.Response, body []byte) {
			e := asError(t, memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, body))
			assert.Equal(t, "系统繁忙", e.Message)
		}},
		{"success message", memerrtest.Success(memerr.MemOS, 1).WithMessage("done"), func(t *testing.T, _ *http.Response, body []byte) {
			assert.JSONEq(t, `{"code":0,"message":"done","data":1}`, string(body))
		}},
		{"header set and removed", memerrtest.Error(memerr.CozeSystemBusy).WithHeader("X-Tt-Logid", "").WithHeader("X-Extra", "1"), func(t *testing.T, resp *http.Response, _ []byte) {
			_, has := resp.Header["X-Tt-Logid"]
			assert.False(t, has)
			assert.Equal(t, "1", resp.Header.Get("X-Extra"))
		}},
		{"header replaced case-insensitively", base.WithHeader("x-request-id", "mine"), func(t *testing.T, resp *http.Response, _ []byte) {
			assert.Equal(t, []string{"mine"}, resp.Header.Values("X-Request-Id"))
		}},
		{"content length cannot be changed", base.WithHeader("content-length", "1"), func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"))
			assert.Contains(t, string(body), "RATE_LIMIT_EXCEEDED")
		}},
		{"content type overridden", base.WithHeader("Content-Type", "application/problem+json"), func(t *testing.T, resp *http.Response, _ []byte) {
			assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		}},
		{"fixed request id", memerrtest.Error(memerr.CozeSystemBusy).WithRequestID("LOG1"), func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, "LOG1", resp.Header.Get("X-Tt-Logid"))
			assert.Contains(t, string(body), `"logid":"LOG1"`)
		}},
		{"details", memerrtest.Error(memerr.MemoryOSValidationError).WithDetails(map[string]string{"field": "content"}), func(t *testing.T, resp *http.Response, body []byte) {
			e := asError(t, memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, body))
			assert.JSONEq(t, `{"field":"content"}`, string(e.Details))
		}},
		{"body", memerrtest.Error(memerr.CozeSystemBusy).WithBody([]byte(`{"code":4009,`)), func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, `{"code":4009,`, string(body))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		}},
		{"raw status with empty body", memerrtest.Status(503, ""), func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 503, resp.StatusCode)
			assert.Empty(t, body)
			e := asError(t, memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, body))
			assert.Equal(t, memerr.Generic, e.Vendor)
			assert.Equal(t, memerr.KindUnavailable, e.Kind)
		}},
		{"raw json", memerrtest.JSON(429, map[string]any{"detail": "slow down", "retry_after": 3}), func(t *testing.T, resp *http.Response, body []byte) {
			e := asError(t, memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, body))
			assert.Equal(t, memerr.KindRateLimited, e.Kind)
			assert.Equal(t, 3*time.Second, e.RetryAfter)
		}},
		{"no content", memerrtest.Status(204, "ignored"), func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 204, resp.StatusCode)
			assert.Empty(t, body)
		}},
		{"zero response", memerrtest.Response{}, func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 200, resp.StatusCode)
			assert.Empty(t, body)
		}},
	}
	srv := memerrtest.NewServer()
	defer srv.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Enqueue(tt.resp)
			resp, body := fetch(t, srv.Client(), http.MethodGet, srv.URL, "")
			tt.check(t, resp, body)
		})
	}
}

func TestModifiersReturnCopies(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	base := memerrtest.Error(memerr.CozeSystemBusy)
	a := base.WithHeader("A", "1")
	b := a.WithHeader("B", "2")
	c := a.WithHeader("C", "3") // must not overwrite b's header in a shared array
	_ = base.WithStatus(500).WithMessage("changed").WithRetryAfter(time.Second)

	srv.Enqueue(base, b, c)
	resp, body := fetch(t, srv.Client(), http.MethodGet, srv.URL, "")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("A"))
	assert.Empty(t, resp.Header.Get("Retry-After"))
	assert.Contains(t, string(body), "request ceiling")

	resp, _ = fetch(t, srv.Client(), http.MethodGet, srv.URL, "")
	assert.Equal(t, "1", resp.Header.Get("A"))
	assert.Equal(t, "2", resp.Header.Get("B"))
	assert.Empty(t, resp.Header.Get("C"))

	resp, _ = fetch(t, srv.Client(), http.MethodGet, srv.URL, "")
	assert.Equal(t, "1", resp.Header.Get("A"))
	assert.Equal(t, "3", resp.Header.Get("C"))
	assert.Empty(t, resp.Header.Get("B"))

	body0 := []byte(`{"code":4009}`)
	r := memerrtest.Error(memerr.CozeSystemBusy).WithBody(body0)
	body0[2] = 'X' // WithBody keeps a copy
	srv.Enqueue(r)
	_, got := fetch(t, srv.Client(), http.MethodGet, srv.URL, "")
	assert.Equal(t, `{"code":4009}`, string(got))
}

func TestFaults(t *testing.T) {
	t.Run("dropped connection", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.Enqueue(memerrtest.DropConnection())
		resp, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(`{}`))
		if resp != nil {
			resp.Body.Close()
		}
		require.Error(t, err)
		assert.Nil(t, resp)
		assert.Equal(t, 1, srv.RequestCount())
	})

	// DropConnection closes; ResetConnection aborts with a TCP reset, so
	// the client sees ECONNRESET, not EOF, on plain and TLS servers.
	t.Run("reset connection", func(t *testing.T) {
		for _, srv := range []*memerrtest.Server{memerrtest.NewServer(), memerrtest.NewTLSServer()} {
			srv.Enqueue(memerrtest.ResetConnection(), memerrtest.DropConnection())
			resp, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(`{}`))
			assert.Nil(t, resp)
			assert.ErrorIs(t, err, syscall.ECONNRESET)
			_, err = srv.Client().Post(srv.URL, "application/json", strings.NewReader(`{}`))
			require.Error(t, err)
			assert.NotErrorIs(t, err, syscall.ECONNRESET, "a dropped connection is closed, not reset")
			assert.Equal(t, 2, srv.RequestCount())
			srv.Close()
		}
	})

	t.Run("dropped connection after delay", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.Enqueue(memerrtest.DropConnection().WithDelay(20 * time.Millisecond))
		start := time.Now()
		_, err := srv.Client().Post(srv.URL, "text/plain", nil)
		require.Error(t, err)
		assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	})

	t.Run("delay", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.Enqueue(memerrtest.Error(memerr.CozeSystemBusy).WithDelay(30 * time.Millisecond))
		start := time.Now()
		resp, _ := fetch(t, srv.Client(), http.MethodGet, srv.URL, "")
		assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
		assert.Equal(t, 200, resp.StatusCode)
	})

	t.Run("delay longer than the client timeout", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.Enqueue(memerrtest.Success(memerr.Coze, nil).WithDelay(time.Minute))
		c := srv.Client()
		c.Timeout = 20 * time.Millisecond
		_, err := c.Get(srv.URL)
		var ne net.Error
		require.True(t, errors.As(err, &ne), "%v", err)
		assert.True(t, ne.Timeout())
	})

	t.Run("slow body", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		const every = 10 * time.Millisecond
		srv.Enqueue(memerrtest.Error(memerr.MemoriesAIRateLimited).WithSlowBody(16, every))
		start := time.Now()
		resp, err := srv.Client().Get(srv.URL)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		chunks := (len(b) + 15) / 16
		require.Greater(t, chunks, 2)
		// Each chunk came after its pause. (A lower bound only: a busy
		// machine makes it longer, never shorter.)
		assert.GreaterOrEqual(t, time.Since(start), time.Duration(chunks)*every)
		e := asError(t, memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, b))
		assert.Equal(t, "429", e.Code)
	})

	t.Run("slow body sends its headers first", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.Enqueue(memerrtest.Error(memerr.MemoriesAIRateLimited).WithSlowBody(1, time.Hour))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard, not a measure
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err, "the headers came before the body's first byte")
		defer resp.Body.Close()
		assert.Equal(t, 429, resp.StatusCode)
	})

	t.Run("truncated body", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.Enqueue(memerrtest.Success(memerr.Tensorheart, map[string]string{"text": strings.Repeat("x", 100)}).WithTruncatedBody(10))
		resp, err := srv.Client().Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Greater(t, resp.ContentLength, int64(100))
		assert.NotEmpty(t, resp.Header.Get("X-Request-ID"))
		b, err := io.ReadAll(resp.Body)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Len(t, b, 10)
	})

	t.Run("truncated slow body", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.Enqueue(memerrtest.Error(memerr.CozeSystemBusy).WithTruncatedBody(1000).WithSlowBody(8, time.Millisecond))
		resp, err := srv.Client().Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Equal(t, resp.ContentLength-1, int64(len(b)), "n is clamped to one byte short")
	})

	t.Run("html bad gateway", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.Enqueue(memerrtest.HTMLBadGateway())
		resp, err := srv.Client().Get(srv.URL)
		require.NoError(t, err)
		assert.Equal(t, "text/html", resp.Header.Get("Content-Type"))
		e := asError(t, memerr.Decode(resp))
		assert.Equal(t, memerr.Generic, e.Vendor)
		assert.Equal(t, "502", e.Code)
		assert.Equal(t, memerr.KindUnavailable, e.Kind)
		assert.Equal(t, "502 Bad Gateway", e.Message)
	})
}

func TestScripts(t *testing.T) {
	codeOf := func(t *testing.T, srv *memerrtest.Server, path string) string {
		t.Helper()
		resp, body := fetch(t, srv.Client(), http.MethodGet, srv.URL+path, "")
		if err := memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, body); err != nil {
			return asError(t, err).Code
		}
		return "ok " + string(body)
	}

	t.Run("path queue first then default queue then fallback", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.EnqueuePath("/a", memerrtest.Error(memerr.CozeSystemBusy), memerrtest.Error(memerr.CozeInternalError))
		srv.Enqueue(memerrtest.Error(memerr.MemOSRateLimitExceeded))
		srv.SetFallback(memerrtest.Success(memerr.Generic, "fb"))
		assert.Equal(t, 3, srv.Pending())

		assert.Equal(t, "4009", codeOf(t, srv, "/a?q=1"))
		assert.Equal(t, "40300", codeOf(t, srv, "/b"))
		assert.Equal(t, "5000", codeOf(t, srv, "/a"))
		assert.Equal(t, `ok "fb"`, codeOf(t, srv, "/a"))
		assert.Equal(t, `ok "fb"`, codeOf(t, srv, "/b"))
		assert.Equal(t, 0, srv.Pending())
	})

	t.Run("repeat", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.Enqueue(memerrtest.Repeat(memerrtest.Error(memerr.MemoriesAIInternalError), 3)...)
		assert.Empty(t, memerrtest.Repeat(memerrtest.Response{}, -1))
		for i := 0; i < 3; i++ {
			assert.Equal(t, "500", codeOf(t, srv, "/"))
		}
		assert.Equal(t, `ok {"code":0,"msg":"","data":{}}`, codeOf(t, srv, "/"))
	})

	t.Run("default fallback follows the server vendor", func(t *testing.T) {
		srv := memerrtest.NewServer(memerrtest.WithVendor(memerr.MemOS))
		defer srv.Close()
		assert.Equal(t, `ok {"code":0,"message":"","data":{}}`, codeOf(t, srv, "/"))
	})

	t.Run("fallback option", func(t *testing.T) {
		srv := memerrtest.NewServer(memerrtest.WithFallback(memerrtest.HTMLBadGateway()), memerrtest.WithVendor(memerr.MemOS))
		defer srv.Close()
		assert.Equal(t, "502", codeOf(t, srv, "/"))
	})

	t.Run("reset", func(t *testing.T) {
		srv := memerrtest.NewServer()
		defer srv.Close()
		srv.SetFallback(memerrtest.Status(503, "down"))
		srv.Enqueue(memerrtest.Error(memerr.CozeSystemBusy))
		srv.EnqueuePath("/p", memerrtest.Error(memerr.CozeSystemBusy))
		assert.Equal(t, "4009", codeOf(t, srv, "/x"))
		srv.Reset()
		assert.Equal(t, 0, srv.Pending())
		assert.Equal(t, 0, srv.RequestCount())
		assert.Equal(t, 0, srv.Conns())
		assert.Equal(t, "503", codeOf(t, srv, "/p"), "the fallback stays")
		assert.Equal(t, 1, srv.RequestCount())
	})
}

func TestRequestRecord(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/memories?user=u1&tag=a&tag=b", strings.NewReader(`{"content":"hi"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer mos_test")
	req.Header.Set("Idempotency-Key", "k1")
	before := time.Now()
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, _ = fetch(t, srv.Client(), http.MethodGet, srv.URL+"/v1/health", "")

	got := srv.Requests()
	require.Len(t, got, 2)
	assert.Equal(t, 2, srv.RequestCount())
	r := got[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/v1/memories", r.Path)
	assert.Equal(t, []string{"a", "b"}, r.Query["tag"])
	assert.Equal(t, "u1", r.Query.Get("user"))
	assert.Equal(t, `{"content":"hi"}`, string(r.Body))
	assert.Equal(t, "Bearer mos_test", r.Header.Get("Authorization"))
	assert.Equal(t, "k1", r.Header.Get("Idempotency-Key"))
	assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), r.Host)
	assert.NotEmpty(t, r.RemoteAddr)
	assert.False(t, r.Time.Before(before))

	assert.Equal(t, "/v1/health", got[1].Path)
	assert.Equal(t, http.MethodGet, got[1].Method)
	assert.NotNil(t, got[1].Body)
	assert.NotNil(t, got[1].Query)
	assert.Equal(t, r.RemoteAddr, got[1].RemoteAddr, "one keep-alive connection")

	// The record is a copy.
	got[0].Body[0] = 'X'
	got[0].Header.Set("Authorization", "changed")
	got[0].Query.Set("user", "changed")
	again := srv.Requests()[0]
	assert.Equal(t, `{"content":"hi"}`, string(again.Body))
	assert.Equal(t, "Bearer mos_test", again.Header.Get("Authorization"))
	assert.Equal(t, "u1", again.Query.Get("user"))
}

func TestConns(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.Enqueue(memerrtest.Error(memerr.CozeSystemBusy), memerrtest.Error(memerr.TensorheartRateLimitExceeded))
	c := srv.Client()
	for i := 0; i < 3; i++ {
		fetch(t, c, http.MethodGet, srv.URL, "")
	}
	assert.Equal(t, 1, srv.Conns(), "reused keep-alive connection")

	other := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	fetch(t, other, http.MethodGet, srv.URL, "")
	fetch(t, other, http.MethodGet, srv.URL, "")
	assert.Equal(t, 3, srv.Conns())
}

func TestTLSServer(t *testing.T) {
	srv := memerrtest.NewTLSServer(memerrtest.WithVendor(memerr.Tensorheart))
	defer srv.Close()
	require.True(t, strings.HasPrefix(srv.URL, "https://"))
	srv.Enqueue(memerrtest.Error(memerr.TensorheartDailyQuotaExceeded), memerrtest.DropConnection())
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	e := asError(t, memerr.Decode(resp))
	assert.Equal(t, memerr.KindQuotaExceeded, e.Kind)

	c := &http.Client{Transport: srv.Client().Transport.(*http.Transport).Clone()} // a fresh connection
	_, err = c.Post(srv.URL, "text/plain", nil)
	assert.Error(t, err)

	resp, body := fetch(t, srv.Client(), http.MethodGet, srv.URL, "")
	assert.NoError(t, memerr.Parse(memerr.Tensorheart, resp.StatusCode, resp.Header, body))
	assert.Contains(t, string(body), `"success":true`)
}

func TestConcurrentUse(t *testing.T) {
	const n = 64
	srv := memerrtest.NewServer(memerrtest.WithFallback(memerrtest.Status(599, "script exhausted")))
	defer srv.Close()
	c := srv.Client()

	var wg sync.WaitGroup
	for i := 0; i < n; i++ { // enqueue from many goroutines while others read the record
		wg.Add(2)
		go func() {
			defer wg.Done()
			srv.Enqueue(memerrtest.Success(memerr.Generic, i))
		}()
		go func() {
			defer wg.Done()
			_ = srv.Requests()
			_ = srv.Pending()
			_ = srv.Conns()
		}()
	}
	wg.Wait()

	bodies := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(fmt.Sprintf("%s/c/%d", srv.URL, i))
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			assert.NoError(t, err)
			bodies <- string(b)
			_ = srv.RequestCount()
		}()
	}
	wg.Wait()
	close(bodies)

	var got []int
	for b := range bodies {
		v, err := strconv.Atoi(b)
		require.NoError(t, err, "every request got a queued response, not the fallback")
		got = append(got, v)
	}
	sort.Ints(got)
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	assert.Equal(t, want, got, "each queued response served exactly once")
	assert.Equal(t, n, srv.RequestCount())
	assert.Equal(t, 0, srv.Pending())
}

// waitFor polls cond every millisecond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func TestCloseEndsSlowResponsesAndLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()

	srv := memerrtest.NewServer()
	srv.EnqueuePath("/delayed", memerrtest.Success(memerr.Coze, nil).WithDelay(time.Hour))
	srv.EnqueuePath("/trickle", memerrtest.Error(memerr.CozeSystemBusy).WithSlowBody(1, time.Hour))
	srv.EnqueuePath("/truncated", memerrtest.Error(memerr.CozeSystemBusy).WithTruncatedBody(5).WithSlowBody(1, time.Hour))
	srv.EnqueuePath("/drop", memerrtest.DropConnection())
	c := srv.Client()

	// Finished exchanges leave idle keep-alive connections behind.
	fetch(t, c, http.MethodGet, srv.URL+"/ok", "")
	_, _ = c.Post(srv.URL+"/drop", "text/plain", nil)

	errs := make(chan error, 3)
	for _, p := range []string{"/delayed", "/trickle", "/truncated"} {
		go func() {
			resp, err := c.Get(srv.URL + p)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	require.True(t, waitFor(2*time.Second, func() bool { return srv.RequestCount() == 5 }))

	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close blocked on slow responses")
	}
	for i := 0; i < 3; i++ {
		assert.Error(t, <-errs, "a response cut by Close fails")
	}
	srv.Close() // again: no effect

	ok := waitFor(2*time.Second, func() bool { return runtime.NumGoroutine() <= before })
	if !ok {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines: %d before, %d after Close\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
	}
}

func TestRequestStringHidesCredentials(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	req, err := http.NewRequest("POST", srv.URL+"/v1/memories?api_key=sk-live-SECRET123456&q=private", strings.NewReader(`{"text":"secret words"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer sk-live-SECRET123456")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	got := srv.Requests()
	require.Len(t, got, 1)
	for _, s := range []string{got[0].String(), fmt.Sprintf("%v", got[0]), fmt.Sprintf("%+v", got[0]), fmt.Sprint(got)} {
		assert.NotContains(t, s, "SECRET")
		assert.NotContains(t, s, "private")
		assert.NotContains(t, s, "secret words")
		assert.Contains(t, s, "POST /v1/memories?api_key=…&q=…")
		assert.Contains(t, s, "Authorization")
	}
	assert.Equal(t, "Bearer sk-live-SECRET123456", got[0].Header.Get("Authorization"), "the record itself keeps what was sent")
}

// A key in the request's path (APIs that take it there) is not printed
// either.
func TestRequestStringHidesKeyInPath(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/v1/sk-live-SECRET123456/memories")
	require.NoError(t, err)
	resp.Body.Close()
	got := srv.Requests()
	require.Len(t, got, 1)
	for _, s := range []string{got[0].String(), fmt.Sprintf("%v", got[0]), fmt.Sprint(got)} {
		assert.NotContains(t, s, "SECRET")
		assert.Contains(t, s, "GET /v1/[redacted]")
	}
	assert.Equal(t, "/v1/sk-live-SECRET123456/memories", got[0].Path, "the record itself keeps what was sent")
}

// registerSelectorVendor registers, once per test binary, a vendor whose
// error shape applies only when a selector member holds a value (When and
// Is), as MemOS's {"status":"error",...} does, and whose flag says it
// failed.
var registerSelectorVendor = sync.OnceValue(func() error {
	return memerr.Register(memerr.Profile{
		Vendor:      "selector-vendor",
		ErrorsIn2xx: true,
		Envelopes: []memerr.Envelope{
			{When: "result", Is: []string{"error", "failure"}, Failed: "failed", Code: "fault.code", Message: []string{"fault.text"}},
		},
		Codes: []memerr.CodeInfo{
			{Code: memerr.Code{Value: "E_GONE"}, Kind: memerr.KindNotFound, Status: 404, Meaning: "gone"},
			{Code: memerr.Code{Value: "E_BUSY"}, Kind: memerr.KindUnavailable, Status: 200, Meaning: "busy"},
		},
	})
})

// A registered vendor's error is served in its shape, selector included:
// without it the body was not the vendor's error at all (a success at
// HTTP 200, and at 404 a failure without the code).
func TestErrorOfARegisteredVendorWithASelector(t *testing.T) {
	require.NoError(t, registerSelectorVendor())
	srv := memerrtest.NewServer()
	defer srv.Close()
	for _, info := range memerr.Codes("selector-vendor") {
		srv.Enqueue(memerrtest.Error(info.Code))
		resp, body := fetch(t, srv.Client(), http.MethodGet, srv.URL+"/x", "")
		assert.Equal(t, info.Status, resp.StatusCode)
		assert.JSONEq(t, `{"result":"error","failed":true,"fault":{"code":"`+info.Code.Value+`","text":"`+info.Meaning+`"}}`, string(body))
		for _, hint := range []memerr.Vendor{"selector-vendor", memerr.Auto} {
			e := asError(t, memerr.Parse(hint, resp.StatusCode, resp.Header, body))
			assert.Equal(t, info.Code, memerr.Code{Vendor: e.Vendor, Value: e.Code}, "hint %s", hint)
			assert.Equal(t, info.Kind, e.Kind)
		}
	}
}

// MemOS and memories.ai send "data":null in their error bodies, after the
// message; a client that decodes data into a json.RawMessage sees "null"
// from the real server, so the fake must send it too.
func TestErrorBodiesCarryNullData(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	tests := []struct {
		resp   memerrtest.Response
		status int
		body   string
	}{
		{memerrtest.Error(memerr.MemoriesAIRateLimited).WithMessage("Rate limit exceeded"), 429,
			`{"code":429,"msg":"Rate limit exceeded","data":null}`},
		{memerrtest.Error(memerr.MemOSDataNotFound).WithMessage("Requested data not found"), 200,
			`{"code":40001,"message":"Requested data not found","data":null}`},
		{memerrtest.Error(memerr.MemOSInvalidParameters).WithMessage("bad").WithDetails([]string{"x"}), 200,
			`{"code":40000,"message":"bad","detail":["x"],"data":null}`},
	}
	for _, tt := range tests {
		srv.Enqueue(tt.resp)
		resp, body := fetch(t, srv.Client(), http.MethodGet, srv.URL+"/x", "")
		assert.Equal(t, tt.status, resp.StatusCode)
		assert.Equal(t, tt.body, string(body))
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(body, &env))
		assert.Equal(t, "null", string(env.Data))
	}
}

// Close ends requests still in flight whatever they wait for: a request
// body still arriving, or a response body the client does not read. Both
// blocked Close for ever (httptest waits for every active connection).
func TestCloseEndsRequestsInFlight(t *testing.T) {
	closeWithin := func(t *testing.T, srv *memerrtest.Server) {
		t.Helper()
		closed := make(chan struct{})
		go func() { srv.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close blocked on a request in flight")
		}
	}

	t.Run("request body still arriving", func(t *testing.T) {
		srv := memerrtest.NewServer()
		srv.Enqueue(memerrtest.Error(memerr.CozeSystemBusy))
		pr, pw := io.Pipe()
		defer pw.Close()
		// With Expect: 100-continue the client sends the body only once
		// the handler starts reading it.
		tr := &http.Transport{ExpectContinueTimeout: time.Hour}
		defer tr.CloseIdleConnections()
		sent := make(chan error, 1)
		go func() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/files/upload", pr)
			req.Header.Set("Expect", "100-continue")
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err == nil {
				resp.Body.Close()
			}
			sent <- err
		}()
		_, err := pw.Write([]byte(`{"content":`))
		require.NoError(t, err) // the handler is reading the body
		closeWithin(t, srv)
		pw.CloseWithError(errors.New("the test gave up")) // the client waits for its body's end
		assert.Error(t, <-sent, "the request cut by Close fails")
		assert.Equal(t, 0, srv.RequestCount(), "a request that never arrived whole is not recorded")
		assert.Equal(t, 1, srv.Pending(), "nor served")
	})

	t.Run("response body not read", func(t *testing.T) {
		srv := memerrtest.NewServer()
		// Larger than what the loopback socket buffers hold.
		srv.Enqueue(memerrtest.Success(memerr.Coze, strings.Repeat("x", 16<<20)))
		resp, err := srv.Client().Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		closeWithin(t, srv)
	})
}

// A test that enqueued too few Responses can tell which requests the
// fallback answered, and a printed request says so.
func TestRequestsServedByTheFallbackAreMarked(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.EnqueuePath("/a", memerrtest.Error(memerr.CozeSystemBusy))
	srv.Enqueue(memerrtest.Error(memerr.CozeInternalError))
	for _, p := range []string{"/a", "/b", "/a", "/b"} {
		fetch(t, srv.Client(), http.MethodGet, srv.URL+p, "")
	}
	got := srv.Requests()
	require.Len(t, got, 4)
	var fallback []bool
	for _, r := range got {
		fallback = append(fallback, r.Fallback)
	}
	assert.Equal(t, []bool{false, false, true, true}, fallback)
	assert.NotContains(t, got[1].String(), "fallback")
	assert.Equal(t, "GET /a (headers: Accept-Encoding, User-Agent; body 0 bytes; served the fallback)", got[2].String())
}

// The self-hosted MemOS server's exception handlers send the HTTP status
// as the code, with that status ({"code":422,...} with HTTP 422): a code
// that is an HTTP status goes with it, even for a vendor whose own codes
// arrive in an HTTP 200.
func TestErrorCodeThatIsAnHTTPStatusIsSentWithIt(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	for _, code := range []string{"400", "422", "500"} {
		srv.Enqueue(memerrtest.Error(memerr.Code{Vendor: memerr.MemOS, Value: code}).WithMessage("self-hosted"))
		resp, body := fetch(t, srv.Client(), http.MethodPost, srv.URL+"/product/add", "{}")
		assert.Equal(t, code, strconv.Itoa(resp.StatusCode))
		assert.Equal(t, `{"code":`+code+`,"message":"self-hosted","data":null}`, string(body))
		e := asError(t, memerr.Parse(memerr.Auto, resp.StatusCode, resp.Header, body))
		assert.Equal(t, memerr.MemOS, e.Vendor)
		assert.Equal(t, code, e.Code)
	}
}

// A path no request can have is refused at once, not left queued while
// every request gets the fallback.
func TestEnqueuePathRefusesPathsNoRequestHas(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	for _, p := range []string{"v1/memories", "/v1/memories?user=u1", "", "http://127.0.0.1/v1"} {
		assert.PanicsWithValue(t, fmt.Sprintf("memerrtest: EnqueuePath: %q is not a URL path (one starting with /, without a query)", p),
			func() { srv.EnqueuePath(p, memerrtest.Error(memerr.CozeSystemBusy)) }, p)
	}
	assert.Equal(t, 0, srv.Pending())
	assert.NotPanics(t, func() { srv.EnqueuePath("/v1/memories", memerrtest.Error(memerr.CozeSystemBusy)) })
}

// registerTracedVendor registers, once per test binary, a vendor whose
// request id is a member of its error object and also a header.
var registerTracedVendor = sync.OnceValue(func() error {
	return memerr.Register(memerr.Profile{
		Vendor:           "traced-vendor",
		Envelopes:        []memerr.Envelope{{Success: "ok", Code: "fault.code", Message: []string{"fault.text"}, RequestID: []string{"fault.trace"}}},
		RequestIDHeaders: []string{"X-Trace"},
	})
})

// A success carries no part of the error's shape: a request id member in
// the error object stays out of it (the header carries the id), as Coze's
// detail.logid does.
func TestSuccessLeavesOutTheErrorPart(t *testing.T) {
	require.NoError(t, registerTracedVendor())
	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.Enqueue(memerrtest.Success("traced-vendor", 1).WithRequestID("t1"), memerrtest.Error(memerr.Code{Vendor: "traced-vendor", Value: "E1"}).WithRequestID("t2"))
	resp, body := fetch(t, srv.Client(), http.MethodGet, srv.URL, "")
	assert.Equal(t, `{"ok":true,"data":1}`, string(body))
	assert.Equal(t, "t1", resp.Header.Get("X-Trace"))
	resp, body = fetch(t, srv.Client(), http.MethodGet, srv.URL, "")
	assert.Equal(t, `{"ok":false,"fault":{"code":"E1","text":"unregistered code","trace":"t2"}}`, string(body))
	assert.Equal(t, "t2", resp.Header.Get("X-Trace"))
}

// registerUnmarkedVendors registers, once per test binary, vendors whose
// success is not their first envelope's Success flag or Code member: one
// that says {"status":"ok"} (its Authority, which its error shape selects
// by "error"), one whose Authority is a flag no envelope reads, and one
// with nothing that marks a success.
var registerUnmarkedVendors = sync.OnceValue(func() error {
	code := []memerr.CodeInfo{{Code: memerr.Code{Value: "nope"}, Kind: memerr.KindNotFound, Status: 404}}
	shape := memerr.Envelope{When: "status", Is: []string{"error"}, Code: "error_code", Message: []string{"error_message"}}
	return errors.Join(
		memerr.Register(memerr.Profile{Vendor: "status-vendor", Envelopes: []memerr.Envelope{shape}, Authority: "status", SuccessCodes: []string{"ok"}, Codes: code}),
		memerr.Register(memerr.Profile{Vendor: "flag-vendor", Envelopes: []memerr.Envelope{{Code: "err.code", Message: []string{"err.msg"}}}, Authority: "ok", Codes: code}),
		memerr.Register(memerr.Profile{Vendor: "unmarked-vendor", Envelopes: []memerr.Envelope{shape}, Codes: code}),
	)
})

// A registered vendor's success reads back through DoJSON as its data,
// whatever marks the vendor's success. The success of a vendor with a When
// shape used to carry that shape's code member holding a success code
// ({"error_code":"ok","error_message":"","data":...}), which the decoder,
// finding none of the vendor's members, gave to Coze: "coze ok unknown".
// One whose Authority no envelope reads, or with nothing that marks a
// success, was sent as {"data":...}, which DoJSON does not unwrap for a
// body that shows none of the vendor's members: out got the whole body.
func TestSuccessOfARegisteredVendorReadsBack(t *testing.T) {
	require.NoError(t, registerUnmarkedVendors())
	srv := memerrtest.NewServer()
	defer srv.Close()
	for _, v := range []memerr.Vendor{"status-vendor", "flag-vendor", "unmarked-vendor"} {
		t.Run(string(v), func(t *testing.T) {
			srv.Enqueue(memerrtest.Success(v, map[string]int{"n": 1}), memerrtest.Error(memerr.Code{Vendor: v, Value: "nope"}))
			c := memerr.NewClient(memerr.WithVendor(v))
			var out map[string]int
			require.NoError(t, c.DoJSON(context.Background(), http.MethodGet, srv.URL, nil, &out))
			assert.Equal(t, map[string]int{"n": 1}, out)
			err := c.DoJSON(context.Background(), http.MethodGet, srv.URL, nil, &out)
			assert.ErrorIs(t, err, memerr.Code{Vendor: v, Value: "nope"})
		})
	}
}
