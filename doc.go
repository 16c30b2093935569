// Package memerr gives Go services that call memory APIs — MemOS,
// Tensorheart, Memory OS, memories.ai and Coze — one way to handle failure.
//
// Each vendor reports errors in its own envelope, with its own codes, and
// sometimes inside an HTTP 200. memerr decodes all of them into one *Error
// that works with errors.Is and errors.As, and ships an http.RoundTripper
// that retries and breaks circuits per host (or a narrower scope),
// honouring Retry-After,
// retry-after-ms and X-RateLimit-Reset.
//
// # Use
//
// Send requests through a Client and handle failures by Kind:
//
//	c := memerr.NewClient(memerr.WithVendor(memerr.Coze))
//	var reply ChatReply
//	err := c.DoJSON(ctx, "POST", "https://api.coze.cn/v3/chat", req, &reply)
//	switch {
//	case errors.Is(err, memerr.ErrRateLimited):
//		// retried already; the server still refuses: back off upstream
//	case errors.Is(err, memerr.CozeInsufficientBalance):
//		// one code of one vendor
//	}
//	var e *memerr.Error
//	if errors.As(err, &e) {
//		log.Printf("%s %s: %s (request id %s)", e.Vendor, e.Code, e.Kind, e.RequestID)
//	}
//
// Or put the Transport under any http.Client or SDK and decode responses
// yourself:
//
//	hc := &http.Client{Transport: memerr.NewTransport(nil)}
//	resp, err := hc.Do(req)
//	if err == nil {
//		err = memerr.Decode(resp) // nil on success, *memerr.Error otherwise
//	}
//
// # Decoding
//
// Everything memerr knows about a vendor is its Profile: the shapes of its
// error bodies (Envelope), its success codes, its code table, where its
// request id lives, its stream error events. The five built-in profiles
// live in one file each (vendor_*.go); Register adds a vendor of your own,
// which then goes through the same decoder, Transport and memerrtest.
//
// The decoder takes a hint (Parse's Vendor argument, Decoder.Vendor, or
// WithVendor for a Transport) or detects the vendor from its signals
// (Detection). The body is read once into the
// members the profiles name and then judged, so the order of its members
// never changes the verdict. Every code documented by the vendors is in
// the registry (Lookup, Codes) with its Kind, chosen by meaning: quota
// codes are KindQuotaExceeded, not KindRateLimited, because waiting seconds
// does not cure them. Bodies that are not JSON (a proxy's HTML page, an
// empty 503) become Generic errors classified by HTTP status.
// EventReader reads the events of a server-sent event stream and returns
// a failure reported inside it as an *Error; ParseStreamEvent decodes one
// event.
//
// # Retries and circuit breaking
//
// The Transport retries network errors and failures of KindRateLimited,
// KindUnavailable and KindInternal, including those inside an HTTP 200, on
// go-retryablehttp's loop; every attempt passes the circuit breaker of its
// scope (the host, or what WithBreakerScope says), built on gobreaker, whose
// open period starts at a second and grows while the scope keeps failing.
// It waits for the server's hint plus a small jitter, or
// an exponential backoff with full jitter, but never past the context's
// deadline or MaxRetryWait: a longer hint returns the last response at once,
// its *Error carrying RetryAfter, and the scope is held: later requests to
// it wait the hint out or fail at once (HoldError) without touching the
// network. With WithFleet, the replicas of a service share these holds and
// their open circuits, and send one trial request per fleet when an open
// circuit ends (the nested module github.com/memerr/memerr/fleet does it on
// Redis).
// WithQuota keeps a scope under a rate of its own (a Quota, in memory or,
// with a fleet, shared through Redis): a request over it waits its turn or
// fails at once as a hold does.
// POST and PATCH are retried only when the server certainly did not act. A retry budget stops retry storms. Options
// and their defaults are documented on each With... function.
//
// Nothing memerr logs or puts in an error contains an API key, an
// Authorization header, a URL's credentials or its query.
package memerr
