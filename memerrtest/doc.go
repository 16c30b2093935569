// Package memerrtest is a fake memory-API server for tests, in the manner
// of net/http/httptest: it answers with each vendor's real error and
// success envelopes and headers, built from memerr's code registry, and
// with the faults a client meets in production.
//
//	srv := memerrtest.NewServer()
//	defer srv.Close()
//
//	srv.Enqueue(
//		// HTTP 200, {"code":4009,"msg":"...","detail":{"logid":"..."}}, X-Tt-Logid
//		memerrtest.Error(memerr.CozeSystemBusy),
//		// HTTP 429, Tensorheart's envelope, X-Request-ID, Retry-After: 1
//		memerrtest.Error(memerr.TensorheartRateLimitExceeded).WithRetryAfter(time.Second),
//		// HTTP 200, {"code":0,"msg":"","data":{"id":"m1"}}
//		memerrtest.Success(memerr.Coze, map[string]any{"id": "m1"}),
//	)
//	resp, err := srv.Client().Get(srv.URL + "/v1/memories")
//	// ... memerr.Decode(resp) gives *memerr.Error{Vendor: Coze, Code: "4009", Kind: KindUnavailable}
//
//	srv.RequestCount() // 1
//	srv.Conns()        // TCP connections opened: proves keep-alive reuse across retries
//
// # Responses
//
// Error(code) sends what the code's vendor sends: MemOS and Coze errors in
// the body of an HTTP 200 (Coze 700012006 with 401), Tensorheart, Memory
// OS and memories.ai errors with the HTTP status the registry pairs with
// the code, each in its own envelope, with its own request id (fresh for
// every response served). Success(vendor, data) wraps a payload in the
// vendor's success envelope. Status and JSON send raw bodies;
// HTMLBadGateway sends a reverse proxy's HTML 502 page.
//
// The With methods return modified copies: WithRetryAfter,
// WithRetryAfterMS and WithRateLimitReset add wait hints; WithStatus,
// WithMessage, WithDetails, WithRequestID, WithHeader and WithBody change
// what is sent.
//
// # Faults
//
// DropConnection closes the connection without a response;
// ResetConnection aborts it with a TCP reset (ECONNRESET). WithDelay holds
// a response back before its headers; WithSlowBody trickles its body;
// WithTruncatedBody declares the full Content-Length, sends part of the
// body and closes the connection. Close ends every request in flight at once.
//
// # Scripts
//
// Each request is served the next Response queued for its exact URL path
// (EnqueuePath), else the next of the default queue (Enqueue), else the
// fallback (SetFallback; by default a success envelope of the server's
// vendor, Coze unless WithVendor says otherwise). Repeat(r, n) makes n
// copies for Enqueue. Requests returns a copy of every request received
// (method, path, query, headers, body, remote address, time, and whether
// the fallback served it: a script too short shows there), Pending the
// number of queued Responses not yet served (a script too long), and Reset
// starts over.
//
// A Server is safe for concurrent use, and Close leaves no goroutine
// behind.
package memerrtest
