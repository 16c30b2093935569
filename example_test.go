package memerr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
)

// Parse decodes a response that was already read. Coze and MemOS both
// report failures inside an HTTP 200; memerr recognises each envelope
// without being told the vendor.
func ExampleParse() {
	// Coze: the log id comes in a header and in the body.
	h := http.Header{"X-Tt-Logid": {"20250101120000010203040506070809A"}}
	err := memerr.Parse(memerr.Auto, 200, h,
		[]byte(`{"code":4011,"msg":"Insufficient balance","detail":{"logid":"20250101120000010203040506070809A"}}`))
	fmt.Println(err)

	// MemOS: {"code","message","data"}; no request id.
	err = memerr.Parse(memerr.Auto, 200, nil,
		[]byte(`{"code":40300,"message":"Too many requests","data":null}`))
	var e *memerr.Error
	if errors.As(err, &e) {
		fmt.Println(e.Vendor, e.Code, e.Kind, e.Retryable())
	}

	// A success envelope is not an error.
	fmt.Println(memerr.Parse(memerr.Auto, 200, nil, []byte(`{"code":0,"message":"ok","data":{}}`)))
	// Output:
	// memerr: coze 4011 insufficient balance: Insufficient balance (request id 20250101120000010203040506070809A)
	// memos 40300 rate limited true
	// <nil>
}

// Decode works on any *http.Response: on success the body is left for the
// caller to read; on failure it has been read and closed, and the error is
// a *memerr.Error.
func ExampleDecode() {
	ok := &http.Response{
		StatusCode:    200,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(`{"success":true,"data":{"id":"mem_1"}}`)),
		ContentLength: -1,
	}
	if err := memerr.Decode(ok); err == nil {
		body, _ := io.ReadAll(ok.Body)
		fmt.Println("success:", string(body))
	}

	failed := &http.Response{
		StatusCode: 429,
		Header: http.Header{
			"Content-Type": {"application/json"},
			"Retry-After":  {"3"},
			"X-Request-Id": {"req_8c1d"},
		},
		Body: io.NopCloser(strings.NewReader(
			`{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Slow down","details":{"limit":60}}}`)),
		ContentLength: -1,
	}
	err := memerr.Decode(failed)
	var e *memerr.Error
	if errors.As(err, &e) {
		fmt.Println(e.Vendor, e.Code, e.Kind)
		fmt.Println("request id:", e.RequestID, "retry after:", e.RetryAfter, "details:", string(e.Details))
	}
	// Output:
	// success: {"success":true,"data":{"id":"mem_1"}}
	// tensorheart RATE_LIMIT_EXCEEDED rate limited
	// request id: req_8c1d retry after: 3s details: {"limit":60}
}

// errors.Is matches a *memerr.Error against a Kind sentinel, whatever the
// vendor, or against a vendor code: an exported Code, or a template in
// which only the fields set are compared.
func ExampleError_Is() {
	err := memerr.Parse(memerr.Auto, 402, nil, []byte(`{"code":402,"msg":"Insufficient balance","data":null}`))
	err = fmt.Errorf("saving memory: %w", err) // wrapping does not hide it

	fmt.Println(errors.Is(err, memerr.ErrInsufficientBalance))
	fmt.Println(errors.Is(err, memerr.ErrRateLimited))
	fmt.Println(errors.Is(err, memerr.MemoriesAIInsufficientBalance))
	fmt.Println(errors.Is(err, memerr.CozeInsufficientBalance))
	fmt.Println(errors.Is(err, memerr.Code{Vendor: memerr.MemoriesAI, Value: "402"}))
	fmt.Println(errors.Is(err, memerr.Code{Value: "402"})) // any vendor
	// Output:
	// true
	// false
	// true
	// false
	// true
	// true
}

// A Transport fits in any http.Client. Here the server fails once with a
// 503 and the client sees only the retried success.
func ExampleNewTransport() {
	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.Enqueue(memerrtest.Status(http.StatusServiceUnavailable, ""))

	hc := &http.Client{Transport: memerr.NewTransport(nil,
		memerr.WithBackoff(time.Millisecond, 5*time.Millisecond), // short for the example; default 250ms to 8s
	)}
	resp, err := hc.Get(srv.URL + "/v1/memories")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "after", srv.RequestCount(), "requests")
	// Output:
	// 200 after 2 requests
}

// DoJSON unwraps the vendor's success envelope and decodes its data into
// out; a failure is a *memerr.Error.
func ExampleClient_DoJSON() {
	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.Enqueue(
		memerrtest.Success(memerr.Coze, map[string]any{"id": "mem_1", "content": "likes green tea"}),
		memerrtest.Error(memerr.CozeInvalidToken).WithRequestID("20250101120000010203040506070809B"),
	)

	c := memerr.NewClient(memerr.WithVendor(memerr.Coze))
	var m struct {
		ID      string `json:"id"`
		Content string `json:"content"`
	}
	err := c.DoJSON(context.Background(), "POST", srv.URL+"/v1/memories", map[string]string{"content": "likes green tea"}, &m)
	fmt.Println(m.ID, m.Content, err)

	err = c.DoJSON(context.Background(), "POST", srv.URL+"/v1/memories", map[string]string{"content": "again"}, &m)
	fmt.Println(err)
	fmt.Println(errors.Is(err, memerr.ErrUnauthenticated))
	// Output:
	// mem_1 likes green tea <nil>
	// memerr: coze 4100 unauthenticated: the personal access token is wrong (request id 20250101120000010203040506070809B)
	// true
}

// Lookup explains a vendor code: what it means and what to do about it.
func ExampleLookup() {
	info, ok := memerr.Lookup(memerr.Tensorheart, "DAILY_QUOTA_EXCEEDED")
	fmt.Println(ok, info.Code.String(), info.Kind, info.Status, info.Retryable)
	fmt.Println(info.Meaning)
	fmt.Println(info.Resolution)

	_, ok = memerr.Lookup(memerr.Coze, "999999")
	fmt.Println(ok)
	// Output:
	// true tensorheart/DAILY_QUOTA_EXCEEDED quota exceeded 429 false
	// the daily quota is used up
	// wait until the quota resets (X-RateLimit-Reset) or raise the plan
	// false
}

// ParseEvent decodes the data line of an error event in a Coze stream:
// a chat stream's {"code","msg"} or a workflow stream's
// {"error_code","error_message"}.
func ExampleParseEvent() {
	err := memerr.ParseEvent(memerr.Coze, []byte(`data: {"code":4000,"msg":"The requested parameter is invalid"}`))
	fmt.Println(err)

	err = memerr.ParseEvent(memerr.Coze, []byte(`{"error_code":4009,"error_message":"The service is busy"}`))
	var e *memerr.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Kind, e.Retryable())
	}
	// Output:
	// memerr: coze 4000 invalid request: The requested parameter is invalid
	// 4009 unavailable true
}

// An EventReader reads a stream's events and returns the failure a Coze
// chat reports midway as an *Error, with the response's log id.
func ExampleEventReader() {
	stream := "event: conversation.message.delta\ndata: {\"content\":\"You said \"}\n\n" +
		"event: error\ndata: {\"code\":4009,\"msg\":\"The service is busy\"}\n\n"
	resp := &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"text/event-stream"}, "X-Tt-Logid": {"20250101120000010203040506070809A"}},
		Body:       io.NopCloser(strings.NewReader(stream)),
	}
	events := memerr.NewEventReader(memerr.Coze, resp)
	for {
		ev, err := events.Next()
		if err == io.EOF {
			break
		}
		fmt.Printf("%s %s\n", ev.Name, ev.Data)
		var e *memerr.Error
		if errors.As(err, &e) {
			fmt.Println(e.Kind, e.Code, e.RequestID, e.Retryable())
			break
		}
	}
	// Output:
	// conversation.message.delta {"content":"You said "}
	// error {"code":4009,"msg":"The service is busy"}
	// unavailable 4009 20250101120000010203040506070809A true
}
