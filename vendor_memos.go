package memerr

import (
	"net/http"
	"strconv"
	"strings"
)

// MemOS (MemTensor), cloud and self-hosted.
//
// The hosted API answers {"code":40300,"message":"...","data":null}, usually
// with HTTP 200, and {"code":0|200,"message":"ok","data":{...}} for a
// success. The open-source server's exception handlers send the HTTP status
// as the code ({"code":422,"message":"...","detail":[...],"data":null}); its
// rate limiter answers 429 with {"detail":"Too many requests...",
// "retry_after":60}, Retry-After, and X-RateLimit-Limit/Remaining/Reset
// (Unix seconds) on every response. Chat streams report failures as
// {"type":"error","content":"..."} frames, whose content is the server's
// Python traceback, or {"type":"error","data":"..."}; the scheduler stream
// as {"status":"error","detail":"stream_failed",...}.
// MemOS sends no request id back; it reads g-trace-id or x-trace-id from
// requests. Clients authenticate with "Authorization: Token <key>".

// MemOS is MemOS cloud and self-hosted (MemTensor).
const MemOS Vendor = "memos"

// MemOS codes (MemTensor cloud and self-hosted). MemOS pairs no HTTP status
// with them: they usually arrive in the body of an HTTP 200.
var (
	// Parameter errors.

	MemOSInvalidParameters     = Code{MemOS, "40000"}
	MemOSDataNotFound          = Code{MemOS, "40001"}
	MemOSRequiredFieldEmpty    = Code{MemOS, "40002"}
	MemOSFieldEmpty            = Code{MemOS, "40003"}
	MemOSUnsupportedType       = Code{MemOS, "40006"}
	MemOSUnsupportedFileType   = Code{MemOS, "40007"}
	MemOSInvalidBase64Content  = Code{MemOS, "40008"}
	MemOSInvalidBase64Format   = Code{MemOS, "40009"}
	MemOSUserIDTooLong         = Code{MemOS, "40010"}
	MemOSConversationIDTooLong = Code{MemOS, "40011"}
	MemOSInvalidProjectID      = Code{MemOS, "40020"}

	// Authentication and permission errors.

	MemOSAPIKeyRequired = Code{MemOS, "40100"}
	MemOSUserNotFound   = Code{MemOS, "40103"}
	MemOSAuthRequired   = Code{MemOS, "40130"}
	MemOSAPIKeyInvalid  = Code{MemOS, "40132"}

	// Quota and rate-limit errors.

	MemOSRateLimitExceeded            = Code{MemOS, "40300"}
	MemOSChatInputTokenQuotaExceeded  = Code{MemOS, "40301"}
	MemOSChatOutputTokenQuotaExceeded = Code{MemOS, "40302"}
	MemOSChatLengthExceeded           = Code{MemOS, "40303"}
	MemOSCallQuotaExceeded            = Code{MemOS, "40304"}
	MemOSInputTokenLimitExceeded      = Code{MemOS, "40305"}
	MemOSDeletePermissionDenied       = Code{MemOS, "40306"}
	MemOSDeleteMemoryNotFound         = Code{MemOS, "40307"}
	MemOSDeleteUserNotFound           = Code{MemOS, "40308"}

	// System and service errors.

	MemOSInternalError            = Code{MemOS, "50000"}
	MemOSOperationFailed          = Code{MemOS, "50002"}
	MemOSMemoryServiceUnavailable = Code{MemOS, "50004"}
	MemOSSearchServiceUnavailable = Code{MemOS, "50005"}

	// Knowledge base and operations.

	MemOSTooManyFiles           = Code{MemOS, "50103"}
	MemOSFileTooLarge           = Code{MemOS, "50104"}
	MemOSTotalFileSizeExceeded  = Code{MemOS, "50105"}
	MemOSInvalidFileFormat      = Code{MemOS, "50107"}
	MemOSKnowledgeBaseNotFound  = Code{MemOS, "50120"}
	MemOSKnowledgeBaseNotLinked = Code{MemOS, "50123"}
	MemOSTaskNotFound           = Code{MemOS, "50131"}
	MemOSAddMemoryFailed        = Code{MemOS, "50143"}
	MemOSAddMessageFailed       = Code{MemOS, "50144"}
	MemOSSaveFeedbackFailed     = Code{MemOS, "50145"}
)

var memosProfile = Profile{
	Vendor:      MemOS,
	Names:       []string{"MemOS", "MemTensor", "MemOS Cloud"},
	ErrorsIn2xx: true,
	Envelopes: []Envelope{
		{Code: "code", Message: []string{"message"}, Details: "detail", Null: "data"},
		{When: "type", Is: []string{"error"}, Message: []string{"data", "content"}},
		{When: "status", Is: []string{"error"}, Code: "detail", Message: []string{"exception"}},
		{When: "retry_after", StatusOnly: true, Message: []string{"detail"}, RetryAfter: "retry_after"},
	},
	SuccessCodes: []string{"0", "200"},
	Scope:        memosScope,
	Authority:    "code",
	// Self-hosted keys are krlk_ or mk_ and 64 hex digits; hosted ones
	// start with mpg-.
	KeyPrefixes: []string{"krlk_", "mk_", "mpg-"},
	Classify:    memosKind,
	Detect: Detection{
		Members:    []string{"retry_after"},
		CodeRanges: [][2]int64{{10000, 99999}, {400, 599}},
	},
	Codes: []CodeInfo{
		// Parameter errors.
		{Code: MemOSInvalidParameters, Kind: KindInvalidRequest, Status: 0, Meaning: "request parameters are invalid", Resolution: "check parameter names, types and formats"},
		{Code: MemOSDataNotFound, Kind: KindNotFound, Status: 0, Meaning: "the requested data does not exist", Resolution: "check the resource id (such as memory_id)"},
		{Code: MemOSRequiredFieldEmpty, Kind: KindInvalidRequest, Status: 0, Meaning: "a required field is missing or empty", Resolution: "send every required field"},
		{Code: MemOSFieldEmpty, Kind: KindInvalidRequest, Status: 0, Meaning: "a list or object field is empty", Resolution: "send at least one element in the list or object"},
		{Code: MemOSUnsupportedType, Kind: KindInvalidRequest, Status: 0, Meaning: "the type field has an unsupported value", Resolution: "use one of the documented values of 'type'"},
		{Code: MemOSUnsupportedFileType, Kind: KindInvalidRequest, Status: 0, Meaning: "the file format is not accepted", Resolution: "upload .pdf, .docx, .doc or .txt files"},
		{Code: MemOSInvalidBase64Content, Kind: KindInvalidRequest, Status: 0, Meaning: "base64 content has characters outside the alphabet", Resolution: "encode the content again with standard base64"},
		{Code: MemOSInvalidBase64Format, Kind: KindInvalidRequest, Status: 0, Meaning: "base64 encoding is malformed", Resolution: "check padding and encoding of the base64 string"},
		{Code: MemOSUserIDTooLong, Kind: KindInvalidRequest, Status: 0, Meaning: "user_id is longer than 100 characters", Resolution: "shorten user_id to 100 characters or fewer"},
		{Code: MemOSConversationIDTooLong, Kind: KindInvalidRequest, Status: 0, Meaning: "conversation_id is longer than 100 characters", Resolution: "shorten conversation_id to 100 characters or fewer"},
		{Code: MemOSInvalidProjectID, Kind: KindInvalidRequest, Status: 0, Meaning: "the project id is malformed", Resolution: "check the project id"},
		// Authentication and permission errors.
		{Code: MemOSAPIKeyRequired, Kind: KindUnauthenticated, Status: 0, Meaning: "no API key was sent", Resolution: "send the API key in the request header"},
		{Code: MemOSUserNotFound, Kind: KindNotFound, Status: 0, Meaning: "the user does not exist", Resolution: "check user_id"},
		{Code: MemOSAuthRequired, Kind: KindUnauthenticated, Status: 0, Meaning: "API key authentication is required", Resolution: "send the API key in the request header"},
		{Code: MemOSAPIKeyInvalid, Kind: KindUnauthenticated, Status: 0, Meaning: "the API key is invalid or expired", Resolution: checkKey},
		// Quota and rate-limit errors.
		{Code: MemOSRateLimitExceeded, Kind: KindRateLimited, Status: 0, Meaning: "too many requests in a short time", Resolution: "slow down and retry after a wait; ask for a higher limit if it persists"},
		{Code: MemOSChatInputTokenQuotaExceeded, Kind: KindQuotaExceeded, Status: 0, Meaning: "the chat request token quota is used up", Resolution: "send less input or buy more quota"},
		{Code: MemOSChatOutputTokenQuotaExceeded, Kind: KindQuotaExceeded, Status: 0, Meaning: "the chat response token quota is used up", Resolution: "ask for shorter output or buy more quota"},
		{Code: MemOSChatLengthExceeded, Kind: KindInvalidRequest, Status: 0, Meaning: "the chat is longer than the model accepts", Resolution: "shorten the input or the expected output"},
		{Code: MemOSCallQuotaExceeded, Kind: KindQuotaExceeded, Status: 0, Meaning: "the total API call quota is used up", Resolution: "buy more quota; waiting does not help"},
		{Code: MemOSInputTokenLimitExceeded, Kind: KindInvalidRequest, Status: 0, Meaning: "the input has more tokens than allowed", Resolution: "send less input"},
		{Code: MemOSDeletePermissionDenied, Kind: KindPermissionDenied, Status: 0, Meaning: "the key may not delete this memory", Resolution: "use a key that owns the memory"},
		{Code: MemOSDeleteMemoryNotFound, Kind: KindNotFound, Status: 0, Meaning: "the memory to delete does not exist", Resolution: "check memory_id; it may be deleted already"},
		{Code: MemOSDeleteUserNotFound, Kind: KindNotFound, Status: 0, Meaning: "the user to delete does not exist", Resolution: "check user_id"},
		// System and service errors.
		{Code: MemOSInternalError, Kind: KindInternal, Status: 0, Meaning: "the server failed", Resolution: "retry later; contact support with the time of the call if it persists"},
		{Code: MemOSOperationFailed, Kind: KindInternal, Status: 0, Meaning: "the operation failed on the server", Resolution: "check the operation and retry later"},
		{Code: MemOSMemoryServiceUnavailable, Kind: KindUnavailable, Status: 0, Meaning: "the memory read/write service is down for now", Resolution: "retry the memory operation later"},
		{Code: MemOSSearchServiceUnavailable, Kind: KindUnavailable, Status: 0, Meaning: "the memory search service is down for now", Resolution: "retry the search later"},
		// Knowledge base and operations.
		{Code: MemOSTooManyFiles, Kind: KindInvalidRequest, Status: 0, Meaning: "too many files in one upload", Resolution: "upload at most 20 files at a time"},
		{Code: MemOSFileTooLarge, Kind: KindInvalidRequest, Status: 0, Meaning: "one file is too large", Resolution: "keep each file under 100 MB"},
		{Code: MemOSTotalFileSizeExceeded, Kind: KindInvalidRequest, Status: 0, Meaning: "the upload is too large in total", Resolution: "keep one upload under 300 MB"},
		{Code: MemOSInvalidFileFormat, Kind: KindInvalidRequest, Status: 0, Meaning: "the file format is invalid", Resolution: "convert the file to a supported format"},
		{Code: MemOSKnowledgeBaseNotFound, Kind: KindNotFound, Status: 0, Meaning: "the knowledge base does not exist", Resolution: "check knowledgebase_id"},
		{Code: MemOSKnowledgeBaseNotLinked, Kind: KindPermissionDenied, Status: 0, Meaning: "the knowledge base is not authorised for this project", Resolution: "link the knowledge base to the project first"},
		{Code: MemOSTaskNotFound, Kind: KindNotFound, Status: 0, Meaning: "the task does not exist", Resolution: "check task_id"},
		{Code: MemOSAddMemoryFailed, Kind: KindInternal, Status: 0, Meaning: "the memory could not be added", Resolution: "retry later; the extraction service failed"},
		{Code: MemOSAddMessageFailed, Kind: KindInternal, Status: 0, Meaning: "the chat message could not be saved", Resolution: "retry later"},
		{Code: MemOSSaveFeedbackFailed, Kind: KindInternal, Status: 0, Meaning: "feedback could not be saved into memory", Resolution: "retry later"},
	},
}

// memosScope gives memory search its own breaker: MemOS reports its search
// service down (50005) apart from the memory read/write service (50004), so
// a search outage need not stop reads and writes.
func memosScope(r *http.Request) string {
	if strings.Contains(r.URL.Path, "/search") {
		return "/search"
	}
	return ""
}

// memosKind classifies undocumented MemOS codes inside a 2xx by their family: 400xx
// parameters, 401xx authentication, 403xx quota and rate limits (quota
// unless the table says otherwise), 500xx service, 501xx knowledge base
// operations; the self-hosted server's codes are HTTP statuses. A stream's
// error frame has no code: its traceback is read by tracebackKind.
func memosKind(code, msg string, status int, known Kind) Kind {
	if known != KindUnknown || status >= 400 {
		return known
	}
	if code == "" && isTraceback(msg) {
		return tracebackKind(msg)
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		return KindUnknown
	}
	switch {
	case n >= 40000 && n < 40100:
		return KindInvalidRequest
	case n >= 40100 && n < 40200:
		return KindUnauthenticated
	case n >= 40300 && n < 40400:
		return KindQuotaExceeded
	case n >= 10000 && n < 100000:
		return KindForStatus(n / 100)
	}
	return KindForStatus(n)
}

// tracebackKind classifies a Python traceback, which a chat stream's error
// frame carries whole, by its exception lines alone: the frames' lines
// (indented: "  File ...", the source line quoted under it) name files
// and code, not the failure ("concurrent/futures/_base.py" is no rate
// limit). An exception that names no kind of failure is still one the
// server did not handle: an internal error.
func tracebackKind(tb string) Kind {
	var b strings.Builder
	for _, line := range strings.Split(tb, "\n") {
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	if k := kindByWords(b.String()); k != KindUnknown {
		return k
	}
	return KindInternal
}
