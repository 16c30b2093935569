package memerrotel

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

type requestIDKey struct{}

// ContextWithRequestID returns a copy of ctx carrying id, the correlation
// id that Wrap sends in the WithRequestIDHeader header for requests made
// with it.
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the id ContextWithRequestID put in ctx.
func RequestIDFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(requestIDKey{}).(string)
	return id, ok && id != ""
}

// correlationID is the id to send: ctx's own, else the trace id of ctx's
// span, else "".
func correlationID(ctx context.Context) string {
	if id, ok := RequestIDFromContext(ctx); ok {
		return id
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}
