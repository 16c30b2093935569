package memerr

import "time"

// Fleet shares holds between the replicas of a service: when one replica
// learns that a scope must be left alone until a moment (a rate-limit or
// quota failure with a wait hint), the others learn it too and do not each
// collect their own refusal. The Transport consults it before every
// attempt, so neither method may block: Hold hands any I/O to another
// goroutine, and Held reads memory only.
//
// The nested module github.com/memerr/memerr/fleet implements it on Redis.
// A Fleet may return anything from Held: the Transport never waits longer
// than MaxRetryWait or the request's deadline for a fleet's hold (it fails
// at once with a *HoldError instead), and treats a hold of any other Kind
// than KindQuotaExceeded or KindUnavailable (a replica's open circuit) as a
// rate limit.
type Fleet interface {
	// Hold records that scope is held as h says, keeping the later of
	// two holds, and tells the other replicas. It must not block.
	Hold(scope string, h FleetHold)
	// Held is the hold known locally for scope, if any; ok is false
	// when there is none. It must not block.
	Held(scope string) (h FleetHold, ok bool)
}

// FleetHold is a hold shared through a Fleet: the scope may not be called
// before Until.
type FleetHold struct {
	Until  time.Time // wall-clock time
	Kind   Kind      // KindRateLimited or KindQuotaExceeded; KindUnavailable for a replica's open circuit
	Vendor Vendor    // who asked; empty for an open circuit
	Code   string    // the vendor's code of the failure that asked; "circuit_open" for an open circuit
}

// circuitOpenCode is the Code of the hold a replica shares while its
// breaker for a scope is open.
const circuitOpenCode = "circuit_open"

// WithFleet shares the transport's holds with the other replicas of a
// service through f (see Fleet), and waits out theirs: before each
// attempt, the later of the scope's own hold and the fleet's is waited out
// or fails at once, as a hold of its own would. Scopes are the breaker
// scopes' keys (scheme://host:port by default, see WithBreakerScope).
// Default: none; a Transport without a fleet holds its scopes alone.
func WithFleet(f Fleet) Option { return func(c *config) { c.fleet = f } }

// fleetHold is the later of h, the scope's own hold, and the fleet's hold
// for the scope. A fleet's hold is checked before it is trusted: a Kind
// other than a quota failure or an open circuit reads as a rate limit, and
// a wait is capped at MaxHint.
func (c *call) fleetHold(h *hold) *hold {
	fh, ok := c.t.cfg.fleet.Held(c.scope.key)
	if !ok || (h != nil && !fh.Until.After(h.until)) || (c.held != nil && !fh.Until.After(c.held.until)) {
		return h // the local hold is as late; or the fleet echoes this request's own
	}
	now := timeNow()
	if !fh.Until.After(now) {
		return h
	}
	if fh.Until.Sub(now) > MaxHint {
		fh.Until = now.Add(MaxHint)
	}
	if fh.Kind != KindQuotaExceeded && fh.Kind != KindUnavailable {
		fh.Kind = KindRateLimited
	}
	if fh.Vendor == Auto {
		fh.Vendor = Generic
	}
	return &hold{until: fh.Until, kind: fh.Kind, vendor: fh.Vendor, code: fh.Code}
}
