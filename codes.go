package memerr

import "strconv"

// The code registry: one exported Code per code documented by each vendor,
// grouped by vendor and by the vendor's own sections. Values are never
// renamed or removed. Meanings and resolutions are memerr's own words.

// MemOS codes (MemTensor cloud and self-hosted). MemOS pairs no HTTP status
// with them: they usually arrive in the body of an HTTP 200.
var (
	// Parameter errors.

	MemOSInvalidParameters     = Code{MemOS, "40000"} // request parameters are invalid
	MemOSDataNotFound          = Code{MemOS, "40001"} // the requested data does not exist
	MemOSRequiredFieldEmpty    = Code{MemOS, "40002"} // a required field is missing
	MemOSFieldEmpty            = Code{MemOS, "40003"} // a list or object field is empty
	MemOSUnsupportedType       = Code{MemOS, "40006"} // the 'type' field has an unsupported value
	MemOSUnsupportedFileType   = Code{MemOS, "40007"} // the uploaded file format is not allowed
	MemOSInvalidBase64Content  = Code{MemOS, "40008"} // Base64 content has illegal characters
	MemOSInvalidBase64Format   = Code{MemOS, "40009"} // Base64 encoding is malformed
	MemOSUserIDTooLong         = Code{MemOS, "40010"} // user_id is over 100 characters
	MemOSConversationIDTooLong = Code{MemOS, "40011"} // conversation_id is over 100 characters
	MemOSInvalidProjectID      = Code{MemOS, "40020"} // the project id is malformed

	// Authentication and permission errors.

	MemOSAPIKeyRequired = Code{MemOS, "40100"} // no API key was sent
	MemOSUserNotFound   = Code{MemOS, "40103"} // the user_id does not exist
	MemOSAuthRequired   = Code{MemOS, "40130"} // API key authentication is required
	MemOSAPIKeyInvalid  = Code{MemOS, "40132"} // the API key is invalid or expired

	// Quota and rate-limit errors.

	MemOSRateLimitExceeded            = Code{MemOS, "40300"} // too many requests
	MemOSChatInputTokenQuotaExceeded  = Code{MemOS, "40301"} // chat request token quota used up
	MemOSChatOutputTokenQuotaExceeded = Code{MemOS, "40302"} // chat response token quota used up
	MemOSChatLengthExceeded           = Code{MemOS, "40303"} // chat longer than the model allows
	MemOSCallQuotaExceeded            = Code{MemOS, "40304"} // total API call quota used up
	MemOSInputTokenLimitExceeded      = Code{MemOS, "40305"} // input longer than the token limit
	MemOSDeletePermissionDenied       = Code{MemOS, "40306"} // not allowed to delete this memory
	MemOSDeleteMemoryNotFound         = Code{MemOS, "40307"} // the memory to delete does not exist
	MemOSDeleteUserNotFound           = Code{MemOS, "40308"} // the user to delete does not exist

	// System and service errors.

	MemOSInternalError            = Code{MemOS, "50000"} // server fault
	MemOSOperationFailed          = Code{MemOS, "50002"} // the operation failed on the server
	MemOSMemoryServiceUnavailable = Code{MemOS, "50004"} // memory read/write service is down for now
	MemOSSearchServiceUnavailable = Code{MemOS, "50005"} // memory search service is down for now

	// Knowledge base and operations.

	MemOSTooManyFiles           = Code{MemOS, "50103"} // more than 20 files in one upload
	MemOSFileTooLarge           = Code{MemOS, "50104"} // one file is over 100 MB
	MemOSTotalFileSizeExceeded  = Code{MemOS, "50105"} // the upload is over 300 MB in total
	MemOSInvalidFileFormat      = Code{MemOS, "50107"} // the file format is invalid
	MemOSKnowledgeBaseNotFound  = Code{MemOS, "50120"} // the knowledge base does not exist
	MemOSKnowledgeBaseNotLinked = Code{MemOS, "50123"} // the knowledge base is not authorised for the project
	MemOSTaskNotFound           = Code{MemOS, "50131"} // the task does not exist
	MemOSAddMemoryFailed        = Code{MemOS, "50143"} // the memory could not be added
	MemOSAddMessageFailed       = Code{MemOS, "50144"} // the chat message could not be saved
	MemOSSaveFeedbackFailed     = Code{MemOS, "50145"} // feedback could not be saved into memory
)

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

// Memory OS codes; the HTTP status mirrors each code.
var (
	MemoryOSUnauthorized    = Code{MemoryOS, "UNAUTHORIZED"}     // 401
	MemoryOSForbidden       = Code{MemoryOS, "FORBIDDEN"}        // 403
	MemoryOSNotFound        = Code{MemoryOS, "NOT_FOUND"}        // 404
	MemoryOSValidationError = Code{MemoryOS, "VALIDATION_ERROR"} // 400
	MemoryOSRateLimited     = Code{MemoryOS, "RATE_LIMITED"}     // 429
	MemoryOSInternalError   = Code{MemoryOS, "INTERNAL_ERROR"}   // 500
)

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

// Coze open API codes. They usually arrive in the body of an HTTP 200.
var (
	// Request and conversation errors.

	CozeInvalidParameter           = Code{Coze, "4000"}
	CozeInvalidChat                = Code{Coze, "4001"}
	CozeInvalidConversation        = Code{Coze, "4002"}
	CozeMetaDataTooLarge           = Code{Coze, "4003"}
	CozeAdditionalMessagesTooLarge = Code{Coze, "4004"}
	CozeInvalidMessage             = Code{Coze, "4005"}
	CozeInvalidBot                 = Code{Coze, "4006"}
	CozeStreamRequiresAutoSave     = Code{Coze, "4007"}
	CozeUserRateLimited            = Code{Coze, "4008"}
	CozeSystemBusy                 = Code{Coze, "4009"}
	CozePromptTooLong              = Code{Coze, "4010"}
	CozeInsufficientBalance        = Code{Coze, "4011"}
	CozeInvalidModel               = Code{Coze, "4012"}
	CozeModelError                 = Code{Coze, "4013"}
	CozeUnanswerable               = Code{Coze, "4014"}
	CozeBotNotPublished            = Code{Coze, "4015"}
	CozeChatInProgress             = Code{Coze, "4016"}
	CozeVolcanoBalanceExhausted    = Code{Coze, "4019"}
	CozeVolcanoRPMExceeded         = Code{Coze, "4020"}
	CozeWorkflowNotConfigured      = Code{Coze, "4021"}
	CozeModelInArrears             = Code{Coze, "4022"}
	CozeCreditsExhausted           = Code{Coze, "4028"}

	// Authentication and permission errors.

	CozeInvalidToken          = Code{Coze, "4100"}
	CozeTokenPermissionDenied = Code{Coze, "4101"}
	CozeRiskControl           = Code{Coze, "4102"}
	CozeChatNotCancelable     = Code{Coze, "4104"}
	CozeSensitiveContent      = Code{Coze, "4105"}

	// Resource errors.

	CozeResourceNotFound = Code{Coze, "4200"}
	CozeMemberExists     = Code{Coze, "4201"}

	// File and workflow errors.

	CozeEmptyFile           = Code{Coze, "4300"}
	CozeMultipleFiles       = Code{Coze, "4301"}
	CozeFileTooLarge        = Code{Coze, "4302"}
	CozeUnsupportedFileType = Code{Coze, "4303"}
	CozeInvalidFile         = Code{Coze, "4304"}
	CozeExecutionNotFound   = Code{Coze, "4314"}
	CozeExecutionFinished   = Code{Coze, "4315"}

	// Server errors.

	CozeInternalError = Code{Coze, "5000"}

	// Sent with HTTP 401 by the authentication layer.

	CozeAccessTokenInvalid = Code{Coze, "700012006"}
)

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

func entry(c Code, k Kind, status int, meaning, resolution string) CodeInfo {
	return CodeInfo{Code: c, Kind: k, Status: status, Meaning: meaning, Resolution: resolution, Retryable: k.Retryable()}
}

const (
	fixRequest = "fix the request as the message says; retrying it unchanged fails again"
	checkKey   = "send a valid, active API key; create a new one if it was revoked or expired"
)

var registry = []CodeInfo{
	entry(MemOSInvalidParameters, KindInvalidRequest, 0, "request parameters are invalid", "check parameter names, types and formats"),
	entry(MemOSDataNotFound, KindNotFound, 0, "the requested data does not exist", "check the resource id (such as memory_id)"),
	entry(MemOSRequiredFieldEmpty, KindInvalidRequest, 0, "a required field is missing or empty", "send every required field"),
	entry(MemOSFieldEmpty, KindInvalidRequest, 0, "a list or object field is empty", "send at least one element in the list or object"),
	entry(MemOSUnsupportedType, KindInvalidRequest, 0, "the type field has an unsupported value", "use one of the documented values of 'type'"),
	entry(MemOSUnsupportedFileType, KindInvalidRequest, 0, "the file format is not accepted", "upload .pdf, .docx, .doc or .txt files"),
	entry(MemOSInvalidBase64Content, KindInvalidRequest, 0, "base64 content has characters outside the alphabet", "encode the content again with standard base64"),
	entry(MemOSInvalidBase64Format, KindInvalidRequest, 0, "base64 encoding is malformed", "check padding and encoding of the base64 string"),
	entry(MemOSUserIDTooLong, KindInvalidRequest, 0, "user_id is longer than 100 characters", "shorten user_id to 100 characters or fewer"),
	entry(MemOSConversationIDTooLong, KindInvalidRequest, 0, "conversation_id is longer than 100 characters", "shorten conversation_id to 100 characters or fewer"),
	entry(MemOSInvalidProjectID, KindInvalidRequest, 0, "the project id is malformed", "check the project id"),
	entry(MemOSAPIKeyRequired, KindUnauthenticated, 0, "no API key was sent", "send the API key in the request header"),
	entry(MemOSUserNotFound, KindNotFound, 0, "the user does not exist", "check user_id"),
	entry(MemOSAuthRequired, KindUnauthenticated, 0, "API key authentication is required", "send the API key in the request header"),
	entry(MemOSAPIKeyInvalid, KindUnauthenticated, 0, "the API key is invalid or expired", checkKey),
	entry(MemOSRateLimitExceeded, KindRateLimited, 0, "too many requests in a short time", "slow down and retry after a wait; ask for a higher limit if it persists"),
	entry(MemOSChatInputTokenQuotaExceeded, KindQuotaExceeded, 0, "the chat request token quota is used up", "send less input or buy more quota"),
	entry(MemOSChatOutputTokenQuotaExceeded, KindQuotaExceeded, 0, "the chat response token quota is used up", "ask for shorter output or buy more quota"),
	entry(MemOSChatLengthExceeded, KindInvalidRequest, 0, "the chat is longer than the model accepts", "shorten the input or the expected output"),
	entry(MemOSCallQuotaExceeded, KindQuotaExceeded, 0, "the total API call quota is used up", "buy more quota; waiting does not help"),
	entry(MemOSInputTokenLimitExceeded, KindInvalidRequest, 0, "the input has more tokens than allowed", "send less input"),
	entry(MemOSDeletePermissionDenied, KindPermissionDenied, 0, "the key may not delete this memory", "use a key that owns the memory"),
	entry(MemOSDeleteMemoryNotFound, KindNotFound, 0, "the memory to delete does not exist", "check memory_id; it may be deleted already"),
	entry(MemOSDeleteUserNotFound, KindNotFound, 0, "the user to delete does not exist", "check user_id"),
	entry(MemOSInternalError, KindInternal, 0, "the server failed", "retry later; contact support with the time of the call if it persists"),
	entry(MemOSOperationFailed, KindInternal, 0, "the operation failed on the server", "check the operation and retry later"),
	entry(MemOSMemoryServiceUnavailable, KindUnavailable, 0, "the memory read/write service is down for now", "retry the memory operation later"),
	entry(MemOSSearchServiceUnavailable, KindUnavailable, 0, "the memory search service is down for now", "retry the search later"),
	entry(MemOSTooManyFiles, KindInvalidRequest, 0, "too many files in one upload", "upload at most 20 files at a time"),
	entry(MemOSFileTooLarge, KindInvalidRequest, 0, "one file is too large", "keep each file under 100 MB"),
	entry(MemOSTotalFileSizeExceeded, KindInvalidRequest, 0, "the upload is too large in total", "keep one upload under 300 MB"),
	entry(MemOSInvalidFileFormat, KindInvalidRequest, 0, "the file format is invalid", "convert the file to a supported format"),
	entry(MemOSKnowledgeBaseNotFound, KindNotFound, 0, "the knowledge base does not exist", "check knowledgebase_id"),
	entry(MemOSKnowledgeBaseNotLinked, KindPermissionDenied, 0, "the knowledge base is not authorised for this project", "link the knowledge base to the project first"),
	entry(MemOSTaskNotFound, KindNotFound, 0, "the task does not exist", "check task_id"),
	entry(MemOSAddMemoryFailed, KindInternal, 0, "the memory could not be added", "retry later; the extraction service failed"),
	entry(MemOSAddMessageFailed, KindInternal, 0, "the chat message could not be saved", "retry later"),
	entry(MemOSSaveFeedbackFailed, KindInternal, 0, "feedback could not be saved into memory", "retry later"),

	entry(TensorheartMissingAPIKey, KindUnauthenticated, 401, "no API key was sent", "send the API key with the request"),
	entry(TensorheartInvalidAPIKey, KindUnauthenticated, 401, "the API key is not valid", checkKey),
	entry(TensorheartInvalidAPIKeyFormat, KindUnauthenticated, 401, "the API key has the wrong format", "copy the key again; it was cut or altered"),
	entry(TensorheartAPIKeyExpired, KindUnauthenticated, 401, "the API key has expired", "create a new API key"),
	entry(TensorheartAPIKeyDisabled, KindUnauthenticated, 401, "the API key was revoked", "create a new API key"),
	entry(TensorheartInsufficientPermissions, KindPermissionDenied, 403, "the key lacks a required scope", "use a key with the scope the endpoint needs"),
	entry(TensorheartOrganizationDisabled, KindPermissionDenied, 403, "the organization is inactive", "reactivate the organization"),
	entry(TensorheartRateLimitExceeded, KindRateLimited, 429, "too many requests per minute", "wait for Retry-After, then retry"),
	entry(TensorheartDailyQuotaExceeded, KindQuotaExceeded, 429, "the daily quota is used up", "wait until the quota resets (X-RateLimit-Reset) or raise the plan"),
	entry(TensorheartConcurrentLimitExceeded, KindRateLimited, 429, "too many requests at the same time", "send fewer requests in parallel and retry"),
	entry(TensorheartMemoryNotFound, KindNotFound, 404, "the memory does not exist", "check the memory id"),
	entry(TensorheartMemoryIDExists, KindConflict, 409, "the custom memory id is taken", "choose another id or update the existing memory"),
	entry(TensorheartAPIKeyNotFound, KindNotFound, 404, "the API key id does not exist", "check the key id"),
	entry(TensorheartOrganizationNotFound, KindNotFound, 404, "the organization does not exist", "check the organization id"),
	entry(TensorheartValidationError, KindInvalidRequest, 400, "the request body failed validation", "see the details for the failing fields"),
	entry(TensorheartConfirmationRequired, KindInvalidRequest, 400, "a destructive action needs confirm=true", "send confirm=true when the deletion is intended"),
	entry(TensorheartInternalError, KindInternal, 500, "the server failed", "retry with backoff"),
	entry(TensorheartExtractionFailed, KindInternal, 500, "memory extraction failed", "retry with backoff"),

	entry(MemoryOSUnauthorized, KindUnauthenticated, 401, "the API key is missing, malformed, revoked or expired", "send 'Authorization: Bearer mos_live_...' with an active key"),
	entry(MemoryOSForbidden, KindPermissionDenied, 403, "the key lacks a required scope", "create a key with the scope the endpoint needs"),
	entry(MemoryOSNotFound, KindNotFound, 404, "the resource does not exist or belongs to another tenant", "check the resource id"),
	entry(MemoryOSValidationError, KindInvalidRequest, 400, "the request failed validation", "see the details for the failing field and rule"),
	entry(MemoryOSRateLimited, KindRateLimited, 429, "the rate limit is exceeded", "wait until X-RateLimit-Reset, then retry"),
	entry(MemoryOSInternalError, KindInternal, 500, "the server failed", "retry with backoff; keep the request id for support"),

	entry(MemoriesAIBadRequest, KindInvalidRequest, 400, "the request is invalid (also sent for an unknown asset)", fixRequest),
	entry(MemoriesAIUnauthorized, KindUnauthenticated, 401, "the API key is missing, invalid or expired", checkKey),
	entry(MemoriesAIInsufficientBalance, KindInsufficientBalance, 402, "the account balance or credits are used up", "top up the account"),
	entry(MemoriesAIForbidden, KindPermissionDenied, 403, "the account is disabled or the IP is not allowed", "check the account status and IP allow list"),
	entry(MemoriesAIMethodNotAllowed, KindInvalidRequest, 405, "the HTTP method is not allowed here", "use the documented method"),
	entry(MemoriesAIConflict, KindConflict, 409, "the request conflicts or is a duplicate", "check whether it was already applied"),
	entry(MemoriesAIUnsupportedMediaType, KindInvalidRequest, 415, "the file format is not supported", "upload a supported format"),
	entry(MemoriesAIRateLimited, KindRateLimited, 429, "too many requests in a short time", "retry with exponential backoff"),
	entry(MemoriesAIInternalError, KindInternal, 500, "the server failed", "retry after a few seconds"),

	entry(CozeInvalidParameter, KindInvalidRequest, 0, "request parameters are wrong or missing", fixRequest),
	entry(CozeInvalidChat, KindNotFound, 0, "the chat does not exist or is not yours", "check chat_id"),
	entry(CozeInvalidConversation, KindNotFound, 0, "the conversation does not exist or is not yours", "check conversation_id"),
	entry(CozeMetaDataTooLarge, KindInvalidRequest, 0, "meta_data is over its limit", "send less meta_data"),
	entry(CozeAdditionalMessagesTooLarge, KindInvalidRequest, 0, "additional_messages is over its limit", "send fewer or shorter additional messages"),
	entry(CozeInvalidMessage, KindInvalidRequest, 0, "the message id or content is invalid", "check message_id and the content"),
	entry(CozeInvalidBot, KindNotFound, 0, "the bot does not exist or is not yours", "check bot_id"),
	entry(CozeStreamRequiresAutoSave, KindInvalidRequest, 0, "stream=false needs auto_save_history=true", "set auto_save_history to true or stream the reply"),
	entry(CozeUserRateLimited, KindRateLimited, 0, "the caller's request rate or daily bot usage is over its limit", "retry later; if the daily limit is reached, retry tomorrow"),
	entry(CozeSystemBusy, KindRateLimited, 0, "the platform is at its request ceiling", "retry after a short wait"),
	entry(CozePromptTooLong, KindInvalidRequest, 0, "the prompt has more tokens than the model accepts", "shorten the question"),
	entry(CozeInsufficientBalance, KindInsufficientBalance, 0, "the Coze token balance is too low", "top up the account"),
	entry(CozeInvalidModel, KindInvalidRequest, 0, "the bot's model is invalid or withdrawn", "switch the bot to another model"),
	entry(CozeModelError, KindUnavailable, 0, "the model service failed", "retry later"),
	entry(CozeUnanswerable, KindInvalidRequest, 0, "the bot cannot answer this question", "ask a different question"),
	entry(CozeBotNotPublished, KindPermissionDenied, 0, "the bot is not published as an API service", "publish the bot to the API channel"),
	entry(CozeChatInProgress, KindConflict, 0, "a chat is already running in this conversation", "wait for it to finish or use another conversation"),
	entry(CozeVolcanoBalanceExhausted, KindInsufficientBalance, 0, "the pay-as-you-go balance is in arrears", "top up the account"),
	entry(CozeVolcanoRPMExceeded, KindRateLimited, 0, "requests per minute are over the purchased peak", "slow down, or buy a higher RPM"),
	entry(CozeWorkflowNotConfigured, KindInvalidRequest, 0, "no workflow is configured", "configure the workflow before calling it"),
	entry(CozeModelInArrears, KindInsufficientBalance, 0, "the model service account is in arrears", "settle the balance to restore the account"),
	entry(CozeCreditsExhausted, KindInsufficientBalance, 0, "the subscription's credits are used up", "buy credits, upgrade, or wait for the credit refresh"),
	entry(CozeInvalidToken, KindUnauthenticated, 0, "the personal access token is wrong", "check the token"),
	entry(CozeTokenPermissionDenied, KindPermissionDenied, 0, "the token may not access this resource", "grant the token the needed permission"),
	entry(CozeRiskControl, KindPermissionDenied, 0, "risk control blocked the call", "retry much later; report the log id if it persists"),
	entry(CozeChatNotCancelable, KindConflict, 0, "the chat is finished or waiting for action and cannot be cancelled", "check the chat id and status"),
	entry(CozeSensitiveContent, KindInvalidRequest, 0, "the content contains sensitive information", "remove the sensitive words and submit again"),
	entry(CozeResourceNotFound, KindNotFound, 0, "the resource does not exist or is not yours", "check the resource id"),
	entry(CozeMemberExists, KindConflict, 0, "the member is already in the team or organization", "do not add the member again"),
	entry(CozeEmptyFile, KindInvalidRequest, 0, "the uploaded file is empty", "send the file as multipart/form-data with content"),
	entry(CozeMultipleFiles, KindInvalidRequest, 0, "more than one file in one upload", "upload one file per call"),
	entry(CozeFileTooLarge, KindInvalidRequest, 0, "the file is over the size limit", "upload a smaller file"),
	entry(CozeUnsupportedFileType, KindInvalidRequest, 0, "the file type is not supported", "upload a supported type"),
	entry(CozeInvalidFile, KindInvalidRequest, 0, "the file is damaged or invalid", "upload another file"),
	entry(CozeExecutionNotFound, KindNotFound, 0, "the workflow execution record does not exist", "check execute_id and workflow_id"),
	entry(CozeExecutionFinished, KindConflict, 0, "the workflow execution has ended and cannot resume", "start a new execution"),
	entry(CozeInternalError, KindInternal, 0, "the server failed", "retry later; report the log id if it persists"),
	entry(CozeAccessTokenInvalid, KindUnauthenticated, 401, "the access token is invalid", "obtain a new access token"),

	entry(GenericBadRequest, KindInvalidRequest, 400, "bad request", fixRequest),
	entry(GenericUnauthorized, KindUnauthenticated, 401, "authentication failed", "send valid credentials"),
	entry(GenericPaymentRequired, KindInsufficientBalance, 402, "payment required", "top up the account"),
	entry(GenericForbidden, KindPermissionDenied, 403, "forbidden", "check permissions"),
	entry(GenericNotFound, KindNotFound, 404, "not found", "check the URL and resource id"),
	entry(GenericMethodNotAllowed, KindInvalidRequest, 405, "method not allowed", "use the documented method"),
	entry(GenericRequestTimeout, KindUnavailable, 408, "the server timed out waiting for the request", "retry"),
	entry(GenericConflict, KindConflict, 409, "conflict", "check the resource's current state"),
	entry(GenericGone, KindNotFound, 410, "gone", "the resource was removed"),
	entry(GenericPayloadTooLarge, KindInvalidRequest, 413, "the request body is too large", "send a smaller body"),
	entry(GenericUnsupportedMediaType, KindInvalidRequest, 415, "unsupported media type", "send a supported content type"),
	entry(GenericUnprocessableEntity, KindInvalidRequest, 422, "the request failed validation", fixRequest),
	entry(GenericTooEarly, KindUnavailable, 425, "too early", "retry"),
	entry(GenericTooManyRequests, KindRateLimited, 429, "too many requests", "wait and retry"),
	entry(GenericInternalServerError, KindInternal, 500, "internal server error", "retry with backoff"),
	entry(GenericNotImplemented, KindInvalidRequest, 501, "not implemented", "the server does not support this request"),
	entry(GenericBadGateway, KindUnavailable, 502, "bad gateway", "retry with backoff"),
	entry(GenericServiceUnavailable, KindUnavailable, 503, "service unavailable", "retry after the server's hint"),
	entry(GenericGatewayTimeout, KindUnavailable, 504, "gateway timeout", "retry with backoff"),
}

var registryIndex = func() map[Code]int {
	m := make(map[Code]int, len(registry))
	for i, c := range registry {
		m[c.Code] = i
	}
	return m
}()

// Lookup returns the registry entry for a vendor's code as sent ("40300",
// "RATE_LIMIT_EXCEEDED"). Generic looks up an HTTP status ("503").
func Lookup(v Vendor, code string) (CodeInfo, bool) {
	i, ok := registryIndex[Code{v, code}]
	if !ok {
		return CodeInfo{}, false
	}
	return registry[i], true
}

// lookupKind is Lookup's Kind without copying the entry.
func lookupKind(v Vendor, code string) (Kind, bool) {
	i, ok := registryIndex[Code{v, code}]
	if !ok {
		return KindUnknown, false
	}
	return registry[i].Kind, true
}

// Codes returns the registry entries of one vendor in registry order; Auto
// returns every entry of every vendor. The slice is a copy.
func Codes(v Vendor) []CodeInfo {
	var out []CodeInfo
	for _, c := range registry {
		if v == Auto || c.Code.Vendor == v {
			out = append(out, c)
		}
	}
	return out
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
		if k, ok := lookupKind(Generic, strconv.Itoa(s+400)); ok {
			t[s] = k
		}
	}
	return t
}()
