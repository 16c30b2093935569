package memerrotel

import (
	"context"
	"errors"
	"strings"

	"github.com/memerr/memerr"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Attribute keys. Those of OpenTelemetry's semantic conventions keep their
// names; memerr's own are under "memerr.".
const (
	attrVendor        = attribute.Key("memerr.vendor")
	attrOutcome       = attribute.Key("memerr.outcome")
	attrKind          = attribute.Key("memerr.kind")
	attrCode          = attribute.Key("memerr.code")
	attrReason        = attribute.Key("memerr.retry.reason")
	attrWait          = attribute.Key("memerr.retry.wait")
	attrHint          = attribute.Key("memerr.retry.hint")
	attrAttempt       = attribute.Key("memerr.attempt")
	attrDuration      = attribute.Key("memerr.attempt.duration")
	attrWaited        = attribute.Key("memerr.attempt.waited")
	attrRequestID     = attribute.Key("memerr.request_id")
	attrCorrelationID = attribute.Key("memerr.correlation_id")
	attrScope         = attribute.Key("memerr.breaker.scope")
	attrState         = attribute.Key("memerr.breaker.state")
	attrFrom          = attribute.Key("memerr.breaker.previous_state")
	attrResendCount   = attribute.Key("http.request.resend_count")
	attrStatus        = attribute.Key("http.response.status_code")
	attrMethod        = attribute.Key("http.request.method")
	attrErrorType     = attribute.Key("error.type")
)

// The values of memerr.outcome.
const (
	outcomeSuccess     = "success"       // a response that is not a failure
	outcomeFailure     = "failure"       // a response the vendor's envelope or the status marks failed
	outcomeNetwork     = "network_error" // no response: connection, TLS, timeout
	outcomeCircuitOpen = "circuit_open"  // refused by an open circuit breaker, never sent
	outcomeHeld        = "held"          // not sent: the server asked for a longer wait (memerr.HoldError)
	outcomeCanceled    = "canceled"      // the caller's context ended first
	outcomeBody        = "body_error"    // the caller's own request body could not be read (memerr.BodyError)
)

// otherCode is memerr.code for a code the registry does not list, so that
// a server inventing codes cannot grow the metrics without bound.
const otherCode = "other"

// attrKey is one combination of metric attributes; an empty field is left
// out.
type attrKey struct {
	vendor, outcome, kind, code, reason string
}

// measureOpts are the options that record a measurement with one attrKey's
// attributes, made once: passing a ready slice to Add and Record costs no
// allocation.
type measureOpts struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

func (i *Instrumentation) opts(k attrKey) *measureOpts {
	if m := i.sets.Load(); m != nil {
		if o, ok := (*m)[k]; ok {
			return o
		}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	old := i.sets.Load()
	if old != nil {
		if o, ok := (*old)[k]; ok {
			return o
		}
	}
	kv := make([]attribute.KeyValue, 0, 5)
	for _, a := range [...]struct {
		key attribute.Key
		val string
	}{{attrVendor, k.vendor}, {attrOutcome, k.outcome}, {attrKind, k.kind}, {attrCode, k.code}, {attrReason, k.reason}} {
		if a.val != "" {
			kv = append(kv, a.key.String(a.val))
		}
	}
	opt := metric.WithAttributeSet(attribute.NewSet(kv...))
	o := &measureOpts{add: []metric.AddOption{opt}, rec: []metric.RecordOption{opt}}
	m := make(map[attrKey]*measureOpts, 1)
	if old != nil {
		for kk, v := range *old {
			m[kk] = v
		}
	}
	m[k] = o
	i.sets.Store(&m)
	return o
}

// outcomeOf classifies an attempt's or a request's error: vendor is the
// one configured for the host, which a decoded failure's own replaces.
func outcomeOf(vendor memerr.Vendor, err error, ctx context.Context) attrKey {
	k := attrKey{vendor: vendor.String(), outcome: outcomeSuccess}
	if err == nil {
		return k
	}
	var e *memerr.Error
	var he *memerr.HoldError
	var te *memerr.AttemptTimeoutError
	switch {
	case errors.As(err, &e):
		k.vendor, k.outcome, k.kind, k.code = e.Vendor.String(), outcomeFailure, kindName(e.Kind), codeName(e.Vendor, e.Code)
	case errors.As(err, &he):
		k.vendor, k.outcome, k.kind, k.code = he.Vendor.String(), outcomeHeld, kindName(he.Kind), codeName(he.Vendor, he.Code)
	case errors.Is(err, memerr.ErrCircuitOpen):
		k.outcome = outcomeCircuitOpen
	case errors.As(err, &te):
		// The attempt's own context has ended, but the caller's has not:
		// the vendor was too slow.
		k.outcome = outcomeNetwork
	case ctx.Err() != nil:
		k.outcome = outcomeCanceled
	case errors.As(err, new(*memerr.BodyError)):
		k.outcome = outcomeBody // the caller's, not the network's
	default:
		k.outcome = outcomeNetwork
	}
	return k
}

// reasonOf is memerr.retry.reason: the failed attempt's Kind, or
// network_error.
func reasonOf(err error) string {
	var e *memerr.Error
	if errors.As(err, &e) {
		return kindName(e.Kind)
	}
	return outcomeNetwork
}

// codeName is the code as sent if the registry lists it, else "other".
func codeName(v memerr.Vendor, code string) string {
	if _, ok := memerr.Lookup(v, code); ok {
		return code
	}
	return otherCode
}

var kindNames = func() map[memerr.Kind]string {
	m := map[memerr.Kind]string{}
	for k := memerr.KindUnknown; k <= memerr.KindInternal; k++ {
		m[k] = strings.ReplaceAll(k.String(), " ", "_")
	}
	return m
}()

// kindName is the Kind in snake case: "rate_limited".
func kindName(k memerr.Kind) string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return kindNames[memerr.KindUnknown]
}

// stateName is the breaker state in snake case: "closed", "half_open", "open".
func stateName(s memerr.CircuitState) string {
	return strings.ReplaceAll(s.String(), "-", "_")
}
