// Command sdk shows memerr under an SDK you did not write. Most vendor SDKs
// accept an *http.Client; hand them memerr's, and every call the SDK makes
// gets memerr's retries (including errors hidden in an HTTP 200) and its
// per-host circuit breaker. If the SDK also lets you check its responses
// (a hook, or access to the raw *http.Response), memerr.Decode turns its
// failures into *memerr.Error, so the rest of your code handles this SDK's
// errors exactly like every other vendor's.
//
//	go run ./examples/sdk
//
// The "SDK" here is a few lines standing in for a real one; it talks to
// memerrtest speaking Coze's envelopes.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sdk:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------------------
// A stand-in for a vendor's SDK. Like many real ones it takes an optional
// *http.Client and lets the caller replace the function that checks each
// response.

// vendorSDK is the SDK's client.
type vendorSDK struct {
	baseURL string
	hc      *http.Client

	// checkResponse turns a response into an error, or nil when it is a
	// success. The SDK's default, checkCozeResponse, reports the HTTP
	// status or the envelope's code in its own error type.
	checkResponse func(*http.Response) error
}

// sdkOption configures the SDK.
type sdkOption func(*vendorSDK)

// withHTTPClient makes the SDK send its requests through hc.
func withHTTPClient(hc *http.Client) sdkOption { return func(s *vendorSDK) { s.hc = hc } }

// withResponseCheck replaces the SDK's response check.
func withResponseCheck(f func(*http.Response) error) sdkOption {
	return func(s *vendorSDK) { s.checkResponse = f }
}

func newVendorSDK(baseURL string, opts ...sdkOption) *vendorSDK {
	s := &vendorSDK{baseURL: baseURL, hc: http.DefaultClient, checkResponse: checkCozeResponse}
	for _, o := range opts {
		o(s)
	}
	return s
}

// sdkError is the SDK's own error type: a code and a message, nothing else.
type sdkError struct {
	Status int
	Code   int
	Msg    string
}

func (e *sdkError) Error() string {
	return fmt.Sprintf("vendorsdk: status %d, code %d: %s", e.Status, e.Code, e.Msg)
}

// checkCozeResponse is the SDK's default check. Like memerr.Decode, it
// leaves a successful response's body readable.
func checkCozeResponse(resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var env struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}
	_ = json.Unmarshal(body, &env)
	if resp.StatusCode >= 400 || env.Code != 0 {
		return &sdkError{Status: resp.StatusCode, Code: env.Code, Msg: env.Msg}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// memory is what the SDK's AddMemory returns.
type memory struct {
	ID      string `json:"id"`
	Content string `json:"content"`
}

// AddMemory stores a memory: one POST, the response checked, the data
// payload decoded.
func (s *vendorSDK) AddMemory(ctx context.Context, content string) (*memory, error) {
	body, _ := json.Marshal(map[string]string{"content": content})
	req, err := http.NewRequestWithContext(ctx, "POST", s.baseURL+"/v1/memories", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if err := s.checkResponse(resp); err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var env struct {
		Data memory `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return nil, fmt.Errorf("vendorsdk: decoding response: %w", err)
	}
	return &env.Data, nil
}

// ---------------------------------------------------------------------------
// The service's code.

func run(w io.Writer) error {
	srv := memerrtest.NewServer(memerrtest.WithVendor(memerr.Coze))
	defer srv.Close()
	ctx := context.Background()

	// Coze reports "system busy" (4009) inside an HTTP 200. Retrying a
	// moment later usually works, but nothing in the status code says so.
	busy := memerrtest.Error(memerr.CozeSystemBusy).WithRequestID("202501011200000102030405060708091")
	saved := memerrtest.Success(memerr.Coze, memory{ID: "mem_7", Content: "prefers window seats"}).
		WithRequestID("202501011200000102030405060708092")
	broke := memerrtest.Error(memerr.CozeInsufficientBalance).WithRequestID("202501011200000102030405060708093")

	// 1. The SDK as it comes: the first "system busy" fails the call, and
	// the error is the SDK's own type, unlike any other vendor's.
	fmt.Fprintln(w, "== The SDK on its own ==")
	plain := newVendorSDK(srv.URL, withHTTPClient(srv.Client()))
	srv.Enqueue(busy, saved)
	_, err := plain.AddMemory(ctx, "prefers window seats")
	var se *sdkError
	if !errors.As(err, &se) || se.Code != 4009 {
		return fmt.Errorf("plain SDK: want its 4009 error, got %v", err)
	}
	fmt.Fprintf(w, "AddMemory: %v\n", err)
	fmt.Fprintf(w, "  the server saw %d request; errors.Is(err, memerr.ErrUnavailable) = %t\n\n",
		srv.RequestCount(), errors.Is(err, memerr.ErrUnavailable))
	srv.Reset()

	// 2. The same SDK with memerr. Its *http.Client carries memerr's
	// Transport; memerr.Decode replaces the SDK's check. (Without a
	// memerr.Client, &http.Client{Transport: memerr.NewTransport(nil, ...)}
	// does the same.)
	fmt.Fprintln(w, "== The SDK with memerr's *http.Client and memerr.Decode ==")
	var retries int
	mc := memerr.NewClient(
		memerr.WithVendor(memerr.Coze),
		memerr.WithBackoff(10*time.Millisecond, 50*time.Millisecond), // short waits for the demo
		memerr.WithHooks(memerr.Hooks{OnRetry: func(ev memerr.RetryEvent) {
			retries++
			fmt.Fprintf(w, "  (retrying after attempt %d: %v)\n", ev.Attempt, ev.Err)
		}}),
	)
	sdk := newVendorSDK(srv.URL,
		withHTTPClient(mc.HTTPClient()),
		withResponseCheck(memerr.Decode),
	)

	// The 4009 is retried inside the Transport, on the SDK's behalf. The
	// POST is safe to resend: a rate limit means the server did nothing.
	srv.Enqueue(busy, saved)
	m, err := sdk.AddMemory(ctx, "prefers window seats")
	if err != nil {
		return fmt.Errorf("SDK with memerr: want success after a retry, got %v", err)
	}
	fmt.Fprintf(w, "AddMemory: saved %s (%q) after %d retry; the server saw %d requests\n\n",
		m.ID, m.Content, retries, srv.RequestCount())
	if retries != 1 || srv.RequestCount() != 2 {
		return fmt.Errorf("want 1 retry and 2 requests, got %d and %d", retries, srv.RequestCount())
	}

	// A failure that retrying cannot fix comes back at once, as a
	// *memerr.Error: the same checks work for this SDK as for any vendor.
	srv.Enqueue(broke)
	_, err = sdk.AddMemory(ctx, "prefers aisle seats")
	var e *memerr.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("SDK with memerr: want a *memerr.Error, got %v", err)
	}
	fmt.Fprintf(w, "AddMemory: %v\n", err)
	fmt.Fprintf(w, "  *memerr.Error: vendor %s, code %s, kind %s, attempts %d, request id %s\n",
		e.Vendor, e.Code, e.Kind, e.Attempts, e.RequestID)
	byKind := errors.Is(err, memerr.ErrInsufficientBalance)
	byCode := errors.Is(err, memerr.CozeInsufficientBalance)
	fmt.Fprintf(w, "  errors.Is(err, memerr.ErrInsufficientBalance) = %t\n", byKind)
	fmt.Fprintf(w, "  errors.Is(err, memerr.CozeInsufficientBalance) = %t\n", byCode)
	if !byKind || !byCode || e.Attempts != 1 {
		return fmt.Errorf("unexpected error %v (attempts %d)", err, e.Attempts)
	}
	return nil
}
