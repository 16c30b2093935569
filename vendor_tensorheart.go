package memerr

// Tensorheart Memory API.
//
// Errors: {"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED",
// "message":"...","details":{...}}} with the HTTP status the code pairs with;
// some deployments send FastAPI's {"detail":{"code":"...","message":"..."}}.
// Success: {"success":true,"data":{...},"meta":{"request_id":"req_..."}}.
// The request id is also in X-Request-ID; rate limits carry Retry-After
// (seconds) and X-RateLimit-Reset (Unix time).

// Tensorheart is the Tensorheart Memory API.
const Tensorheart Vendor = "tensorheart"

// Tensorheart Memory API codes; the HTTP status mirrors each code.
var (
	// Authentication errors (401).

	TensorheartMissingAPIKey       = Code{Tensorheart, "MISSING_API_KEY"}
	TensorheartInvalidAPIKey       = Code{Tensorheart, "INVALID_API_KEY"}
	TensorheartInvalidAPIKeyFormat = Code{Tensorheart, "INVALID_API_KEY_FORMAT"}
	TensorheartAPIKeyExpired       = Code{Tensorheart, "API_KEY_EXPIRED"}
	TensorheartAPIKeyDisabled      = Code{Tensorheart, "API_KEY_DISABLED"}

	// Authorization errors (403).

	TensorheartInsufficientPermissions = Code{Tensorheart, "INSUFFICIENT_PERMISSIONS"}
	TensorheartOrganizationDisabled    = Code{Tensorheart, "ORGANIZATION_DISABLED"}

	// Rate-limit errors (429).

	TensorheartRateLimitExceeded       = Code{Tensorheart, "RATE_LIMIT_EXCEEDED"}
	TensorheartDailyQuotaExceeded      = Code{Tensorheart, "DAILY_QUOTA_EXCEEDED"}
	TensorheartConcurrentLimitExceeded = Code{Tensorheart, "CONCURRENT_LIMIT_EXCEEDED"}

	// Resource errors (404, 409).

	TensorheartMemoryNotFound       = Code{Tensorheart, "MEMORY_NOT_FOUND"}
	TensorheartMemoryIDExists       = Code{Tensorheart, "MEMORY_ID_EXISTS"}
	TensorheartAPIKeyNotFound       = Code{Tensorheart, "API_KEY_NOT_FOUND"}
	TensorheartOrganizationNotFound = Code{Tensorheart, "ORGANIZATION_NOT_FOUND"}

	// Validation errors (400).

	TensorheartValidationError      = Code{Tensorheart, "VALIDATION_ERROR"}
	TensorheartConfirmationRequired = Code{Tensorheart, "CONFIRMATION_REQUIRED"}

	// Server errors (500).

	TensorheartInternalError    = Code{Tensorheart, "INTERNAL_ERROR"}
	TensorheartExtractionFailed = Code{Tensorheart, "EXTRACTION_FAILED"}
)

var tensorheartProfile = Profile{
	Vendor: Tensorheart,
	Names:  []string{"Tensorheart", "TH"},
	Envelopes: []Envelope{
		{Success: "success", Code: "error.code", Message: []string{"error.message"}, Details: "error.details", RequestID: []string{"meta.request_id", "request_id"}},
		{Code: "detail.code", Message: []string{"detail.message"}, Details: "detail.details"},
	},
	Authority:        "success",
	RequestIDHeaders: []string{"X-Request-Id"},
	Detect:           Detection{Members: []string{"success"}},
	Codes: []CodeInfo{
		// Authentication errors (401).
		{Code: TensorheartMissingAPIKey, Kind: KindUnauthenticated, Status: 401, Meaning: "no API key was sent", Resolution: "send the API key with the request"},
		{Code: TensorheartInvalidAPIKey, Kind: KindUnauthenticated, Status: 401, Meaning: "the API key is not valid", Resolution: checkKey},
		{Code: TensorheartInvalidAPIKeyFormat, Kind: KindUnauthenticated, Status: 401, Meaning: "the API key has the wrong format", Resolution: "copy the key again; it was cut or altered"},
		{Code: TensorheartAPIKeyExpired, Kind: KindUnauthenticated, Status: 401, Meaning: "the API key has expired", Resolution: "create a new API key"},
		{Code: TensorheartAPIKeyDisabled, Kind: KindUnauthenticated, Status: 401, Meaning: "the API key was revoked", Resolution: "create a new API key"},
		// Authorization errors (403).
		{Code: TensorheartInsufficientPermissions, Kind: KindPermissionDenied, Status: 403, Meaning: "the key lacks a required scope", Resolution: "use a key with the scope the endpoint needs"},
		{Code: TensorheartOrganizationDisabled, Kind: KindPermissionDenied, Status: 403, Meaning: "the organization is inactive", Resolution: "reactivate the organization"},
		// Rate-limit errors (429).
		{Code: TensorheartRateLimitExceeded, Kind: KindRateLimited, Status: 429, Meaning: "too many requests per minute", Resolution: "wait for Retry-After, then retry"},
		{Code: TensorheartDailyQuotaExceeded, Kind: KindQuotaExceeded, Status: 429, Meaning: "the daily quota is used up", Resolution: "wait until the quota resets (X-RateLimit-Reset) or raise the plan"},
		{Code: TensorheartConcurrentLimitExceeded, Kind: KindRateLimited, Status: 429, Meaning: "too many requests at the same time", Resolution: "send fewer requests in parallel and retry"},
		// Resource errors (404, 409).
		{Code: TensorheartMemoryNotFound, Kind: KindNotFound, Status: 404, Meaning: "the memory does not exist", Resolution: "check the memory id"},
		{Code: TensorheartMemoryIDExists, Kind: KindConflict, Status: 409, Meaning: "the custom memory id is taken", Resolution: "choose another id or update the existing memory"},
		{Code: TensorheartAPIKeyNotFound, Kind: KindNotFound, Status: 404, Meaning: "the API key id does not exist", Resolution: "check the key id"},
		{Code: TensorheartOrganizationNotFound, Kind: KindNotFound, Status: 404, Meaning: "the organization does not exist", Resolution: "check the organization id"},
		// Validation errors (400).
		{Code: TensorheartValidationError, Kind: KindInvalidRequest, Status: 400, Meaning: "the request body failed validation", Resolution: "see the details for the failing fields"},
		{Code: TensorheartConfirmationRequired, Kind: KindInvalidRequest, Status: 400, Meaning: "a destructive action needs confirm=true", Resolution: "send confirm=true when the deletion is intended"},
		// Server errors (500).
		{Code: TensorheartInternalError, Kind: KindInternal, Status: 500, Meaning: "the server failed", Resolution: "retry with backoff"},
		{Code: TensorheartExtractionFailed, Kind: KindInternal, Status: 500, Meaning: "memory extraction failed", Resolution: "retry with backoff"},
	},
}
