package memerr

import "strconv"

// The registry of vendor codes: each vendor's table lives in its profile
// (vendor_*.go), one entry per code; these functions read every registered
// profile.

// Lookup returns the registry entry for a vendor's code as sent ("40300",
// "RATE_LIMIT_EXCEEDED"). Generic looks up an HTTP status ("503").
func Lookup(v Vendor, code string) (CodeInfo, bool) {
	p := lookupProfile(v)
	if p == nil {
		return CodeInfo{}, false
	}
	i, ok := p.codes[code]
	if !ok {
		return CodeInfo{}, false
	}
	return p.Codes[i], true
}

// Codes returns the registry entries of one vendor in its table's order;
// Auto returns every entry of every registered vendor, Generic's last. The
// slice is a copy.
func Codes(v Vendor) []CodeInfo {
	var out []CodeInfo
	var generic []CodeInfo
	for _, p := range profiles.Load().list {
		switch {
		case v == Auto && p.Vendor == Generic:
			generic = p.Codes
		case v == Auto || p.Vendor == v:
			out = append(out, p.Codes...)
		}
	}
	return append(out, generic...)
}

// KindForStatus returns the Kind memerr gives an HTTP status when the body
// names no known code: 429 is KindRateLimited, 502-504 KindUnavailable, other
// 5xx KindInternal, other 4xx KindInvalidRequest unless listed in the Generic
// codes; statuses below 400 are KindUnknown.
func KindForStatus(status int) Kind {
	if status < 400 || status > 599 {
		return KindUnknown
	}
	return statusKinds[status-400]
}

var statusKinds = func() (t [200]Kind) {
	for s := range t {
		t[s] = KindInvalidRequest
		if s >= 100 {
			t[s] = KindInternal
		}
	}
	for _, c := range genericProfile.Codes {
		if n, err := strconv.Atoi(c.Code.Value); err == nil && n >= 400 && n < 600 {
			t[n-400] = c.Kind
		}
	}
	return t
}()

// Resolutions shared by several vendors' tables.
const (
	fixRequest = "fix the request as the message says; retrying it unchanged fails again"
	checkKey   = "send a valid, active API key; create a new one if it was revoked or expired"
)
