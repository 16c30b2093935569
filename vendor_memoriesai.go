package memerr

import "strconv"

// memories.ai.
//
// Errors: {"code":429,"msg":"Rate limit exceeded","data":null}, the body
// code equal to the HTTP status. Success: {"code":200,"msg":"success",
// "data":{...}}; an older API sends {"code":"0000","msg":"success","data":{},
// "success":true,"failed":false}. No request id, no wait hints.

// MemoriesAI is memories.ai.
const MemoriesAI Vendor = "memoriesai"

// memories.ai codes: the body code equals the HTTP status.
var (
	MemoriesAIBadRequest           = Code{MemoriesAI, "400"}
	MemoriesAIUnauthorized         = Code{MemoriesAI, "401"}
	MemoriesAIInsufficientBalance  = Code{MemoriesAI, "402"}
	MemoriesAIForbidden            = Code{MemoriesAI, "403"}
	MemoriesAIMethodNotAllowed     = Code{MemoriesAI, "405"}
	MemoriesAIConflict             = Code{MemoriesAI, "409"}
	MemoriesAIUnsupportedMediaType = Code{MemoriesAI, "415"}
	MemoriesAIRateLimited          = Code{MemoriesAI, "429"}
	MemoriesAIInternalError        = Code{MemoriesAI, "500"}
)

var memoriesAIProfile = Profile{
	Vendor: MemoriesAI,
	Names:  []string{"memories.ai", "memories_ai", "memories"},
	Envelopes: []Envelope{
		{Code: "code", Message: []string{"msg"}, Null: "data"},
		{Success: "success", Failed: "failed", Code: "code", Message: []string{"msg"}}, // the older API
	},
	SuccessCodes: []string{"200", "0000"},
	Authority:    "code",
	Classify:     memoriesAIKind,
	Detect: Detection{
		Members:    []string{"failed"},
		CodeRanges: [][2]int64{{100, 599}},
	},
	Codes: []CodeInfo{
		{Code: MemoriesAIBadRequest, Kind: KindInvalidRequest, Status: 400, Meaning: "the request is invalid (also sent for an unknown asset)", Resolution: fixRequest},
		{Code: MemoriesAIUnauthorized, Kind: KindUnauthenticated, Status: 401, Meaning: "the API key is missing, invalid or expired", Resolution: checkKey},
		{Code: MemoriesAIInsufficientBalance, Kind: KindInsufficientBalance, Status: 402, Meaning: "the account balance or credits are used up", Resolution: "top up the account"},
		{Code: MemoriesAIForbidden, Kind: KindPermissionDenied, Status: 403, Meaning: "the account is disabled or the IP is not allowed", Resolution: "check the account status and IP allow list"},
		{Code: MemoriesAIMethodNotAllowed, Kind: KindInvalidRequest, Status: 405, Meaning: "the HTTP method is not allowed here", Resolution: "use the documented method"},
		{Code: MemoriesAIConflict, Kind: KindConflict, Status: 409, Meaning: "the request conflicts or is a duplicate", Resolution: "check whether it was already applied"},
		{Code: MemoriesAIUnsupportedMediaType, Kind: KindInvalidRequest, Status: 415, Meaning: "the file format is not supported", Resolution: "upload a supported format"},
		{Code: MemoriesAIRateLimited, Kind: KindRateLimited, Status: 429, Meaning: "too many requests in a short time", Resolution: "retry with exponential backoff"},
		{Code: MemoriesAIInternalError, Kind: KindInternal, Status: 500, Meaning: "the server failed", Resolution: "retry after a few seconds"},
	},
}

// memoriesAIKind classifies an undocumented memories.ai code as the HTTP
// status it mirrors.
func memoriesAIKind(code, _ string, status int, known Kind) Kind {
	if known != KindUnknown || status >= 400 {
		return known
	}
	if n, err := strconv.Atoi(code); err == nil {
		return KindForStatus(n)
	}
	return KindUnknown
}
