package memerr

// Generic is what memerr reports when a body carries no known vendor's
// envelope: a proxy's HTML page, an empty 503, plain text, or JSON of an
// unknown shape. Its codes are HTTP statuses. A JSON body still gives its
// message from the usual members ({"error":{"message"}}, {"error":"..."},
// {"message"}, {"detail"}), and {"error":...} reports a failure even inside
// a 2xx. In a stream, an "event: error" is a failure whatever its data.

// Generic codes are HTTP statuses, used when a body carries no known
// envelope (a proxy's HTML page, an empty 503).
var (
	GenericBadRequest           = Code{Generic, "400"}
	GenericUnauthorized         = Code{Generic, "401"}
	GenericPaymentRequired      = Code{Generic, "402"}
	GenericForbidden            = Code{Generic, "403"}
	GenericNotFound             = Code{Generic, "404"}
	GenericMethodNotAllowed     = Code{Generic, "405"}
	GenericRequestTimeout       = Code{Generic, "408"}
	GenericConflict             = Code{Generic, "409"}
	GenericGone                 = Code{Generic, "410"}
	GenericPayloadTooLarge      = Code{Generic, "413"}
	GenericUnsupportedMediaType = Code{Generic, "415"}
	GenericUnprocessableEntity  = Code{Generic, "422"}
	GenericTooEarly             = Code{Generic, "425"}
	GenericTooManyRequests      = Code{Generic, "429"}
	GenericInternalServerError  = Code{Generic, "500"}
	GenericNotImplemented       = Code{Generic, "501"}
	GenericBadGateway           = Code{Generic, "502"}
	GenericServiceUnavailable   = Code{Generic, "503"}
	GenericGatewayTimeout       = Code{Generic, "504"}
)

var genericProfile = Profile{
	Vendor: Generic,
	Names:  []string{"http"},
	// An unknown server is assumed to honour an Idempotency-Key it is sent.
	IdempotencyKeys: true,
	// Key prefixes of common providers, and JWTs.
	KeyPrefixes: []string{"sk-", "sk_", "mem_", "tk_", "th_", "key_", "eyJ"},
	Envelopes: []Envelope{
		{Message: []string{"error.message", "error.msg", "error"}, Details: "error.details"},
		{StatusOnly: true, Message: []string{"message", "msg", "detail", "error_description"}},
	},
	// "error" is the event name server-sent event streams at large give
	// a failure.
	ErrorEvents: []string{"error"},
	Codes: []CodeInfo{
		{Code: GenericBadRequest, Kind: KindInvalidRequest, Status: 400, Meaning: "bad request", Resolution: fixRequest},
		{Code: GenericUnauthorized, Kind: KindUnauthenticated, Status: 401, Meaning: "authentication failed", Resolution: "send valid credentials"},
		{Code: GenericPaymentRequired, Kind: KindInsufficientBalance, Status: 402, Meaning: "payment required", Resolution: "top up the account"},
		{Code: GenericForbidden, Kind: KindPermissionDenied, Status: 403, Meaning: "forbidden", Resolution: "check permissions"},
		{Code: GenericNotFound, Kind: KindNotFound, Status: 404, Meaning: "not found", Resolution: "check the URL and resource id"},
		{Code: GenericMethodNotAllowed, Kind: KindInvalidRequest, Status: 405, Meaning: "method not allowed", Resolution: "use the documented method"},
		{Code: GenericRequestTimeout, Kind: KindUnavailable, Status: 408, Meaning: "the server timed out waiting for the request", Resolution: "retry"},
		{Code: GenericConflict, Kind: KindConflict, Status: 409, Meaning: "conflict", Resolution: "check the resource's current state"},
		{Code: GenericGone, Kind: KindNotFound, Status: 410, Meaning: "gone", Resolution: "the resource was removed"},
		{Code: GenericPayloadTooLarge, Kind: KindInvalidRequest, Status: 413, Meaning: "the request body is too large", Resolution: "send a smaller body"},
		{Code: GenericUnsupportedMediaType, Kind: KindInvalidRequest, Status: 415, Meaning: "unsupported media type", Resolution: "send a supported content type"},
		{Code: GenericUnprocessableEntity, Kind: KindInvalidRequest, Status: 422, Meaning: "the request failed validation", Resolution: fixRequest},
		{Code: GenericTooEarly, Kind: KindUnavailable, Status: 425, Meaning: "too early", Resolution: "retry"},
		{Code: GenericTooManyRequests, Kind: KindRateLimited, Status: 429, Meaning: "too many requests", Resolution: "wait and retry"},
		{Code: GenericInternalServerError, Kind: KindInternal, Status: 500, Meaning: "internal server error", Resolution: "retry with backoff"},
		{Code: GenericNotImplemented, Kind: KindInvalidRequest, Status: 501, Meaning: "not implemented", Resolution: "the server does not support this request"},
		{Code: GenericBadGateway, Kind: KindUnavailable, Status: 502, Meaning: "bad gateway", Resolution: "retry with backoff"},
		{Code: GenericServiceUnavailable, Kind: KindUnavailable, Status: 503, Meaning: "service unavailable", Resolution: "retry after the server's hint"},
		{Code: GenericGatewayTimeout, Kind: KindUnavailable, Status: 504, Meaning: "gateway timeout", Resolution: "retry with backoff"},
	},
}
