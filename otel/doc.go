// Package memerrotel reports what a memerr.Transport does through
// OpenTelemetry: metrics for every attempt, retry, wait and circuit
// breaker, and events on the caller's trace span. It is a module of its
// own, so that importing memerr pulls in no OpenTelemetry.
//
//	inst, err := memerrotel.New(memerrotel.WithMeterProvider(mp))
//	if err != nil { ... }
//	rt := memerr.NewTransport(nil,
//		memerr.WithVendor(memerr.Coze),
//		memerr.WithHooks(inst.Hooks(memerr.Hooks{})), // your own hooks go in the argument
//	)
//	hc := &http.Client{Transport: inst.Wrap(rt)}
//	// under otelhttp: otelhttp.NewTransport(inst.Wrap(rt))
//
// The Hooks see each attempt, retry and breaker change; Wrap sees each
// whole request. Both are needed for the full set of metrics (see the
// module's README for the table of instruments and attributes).
//
// # Attributes and cardinality
//
// Metrics carry memerr.vendor, memerr.outcome (success, failure,
// network_error, circuit_open, held, canceled) and, for failures, memerr.kind
// ("rate_limited") and memerr.code: the vendor's code when memerr's
// registry lists it, else "other", so that a server inventing codes cannot
// grow the number of series. Retries carry memerr.retry.reason (the failed
// attempt's Kind, or network_error). A success is counted under the vendor
// configured for its host (memerr.WithVendor, memerr.WithHostVendor), or
// "auto" when the Transport detects vendors from failures only.
//
// # Spans
//
// On the span of the request's context (otelhttp's, or any recording
// span) each attempt adds an event memerr.attempt, and each wait an event
// memerr.retry.wait with its reason, length and the server's hint. The
// span gets http.request.resend_count when a request was sent more than
// once, memerr.request_id (the vendor's: X-Tt-Logid, meta.request_id ...)
// and, when the request failed, status Error, error.type and an exception
// event with vendor, code and Kind. No URL query, credential or header
// value is ever put in an attribute: texts are memerr's, which scrubs them.
//
// # Correlation
//
// WithRequestIDHeader makes Wrap send an id the vendor can log (MemOS's
// self-hosted server reads X-Trace-Id): the one given with
// ContextWithRequestID, else the trace id of the request's span.
package memerrotel
