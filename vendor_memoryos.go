package memerr

// Memory OS (mymemoryos.com).
//
// Errors: {"error":{"code":"RATE_LIMITED","message":"...","details":{}},
// "meta":{"request_id":"req_abc123"}} with the HTTP status the code pairs
// with. Success: {"data":...,"meta":{...}}. Rate limits carry
// X-RateLimit-Reset (Unix time).

// MemoryOS is Memory OS (mymemoryos.com).
const MemoryOS Vendor = "memoryos"

// Memory OS codes; the HTTP status mirrors each code.
var (
	MemoryOSUnauthorized    = Code{MemoryOS, "UNAUTHORIZED"}
	MemoryOSForbidden       = Code{MemoryOS, "FORBIDDEN"}
	MemoryOSNotFound        = Code{MemoryOS, "NOT_FOUND"}
	MemoryOSValidationError = Code{MemoryOS, "VALIDATION_ERROR"}
	MemoryOSRateLimited     = Code{MemoryOS, "RATE_LIMITED"}
	MemoryOSInternalError   = Code{MemoryOS, "INTERNAL_ERROR"}
)

var memoryOSProfile = Profile{
	Vendor: MemoryOS,
	Names:  []string{"Memory OS", "memory-os", "mymemoryos", "MOS"},
	Envelopes: []Envelope{
		{Code: "error.code", Message: []string{"error.message"}, Details: "error.details", RequestID: []string{"meta.request_id", "request_id"}},
	},
	KeyPrefixes: []string{"mos_"}, // mos_live_..., mos_test_...
	Detect:      Detection{Members: []string{"meta.request_id"}},
	Codes: []CodeInfo{
		{Code: MemoryOSUnauthorized, Kind: KindUnauthenticated, Status: 401, Meaning: "the API key is missing, malformed, revoked or expired", Resolution: "send 'Authorization: Bearer mos_live_...' with an active key"},
		{Code: MemoryOSForbidden, Kind: KindPermissionDenied, Status: 403, Meaning: "the key lacks a required scope", Resolution: "create a key with the scope the endpoint needs"},
		{Code: MemoryOSNotFound, Kind: KindNotFound, Status: 404, Meaning: "the resource does not exist or belongs to another tenant", Resolution: "check the resource id"},
		{Code: MemoryOSValidationError, Kind: KindInvalidRequest, Status: 400, Meaning: "the request failed validation", Resolution: "see the details for the failing field and rule"},
		{Code: MemoryOSRateLimited, Kind: KindRateLimited, Status: 429, Meaning: "the rate limit is exceeded", Resolution: "wait until X-RateLimit-Reset, then retry"},
		{Code: MemoryOSInternalError, Kind: KindInternal, Status: 500, Meaning: "the server failed", Resolution: "retry with backoff; keep the request id for support"},
	},
}
