package memerr

import (
	"strconv"
	"strings"
)

// Coze open API (coze.com, coze.cn).
//
// Errors: {"code":4000,"msg":"...","detail":{"logid":"..."}}, usually with
// HTTP 200 (authentication failures also with 200: {"code":700012006,...});
// the log id is in the X-Tt-Logid header (X-Log-ID from the open-source
// Coze server), and sometimes in the body as detail.logid, error.logid or
// log_id. Success: {"code":0,"msg":"",
// "data":...}. Workflow streams report {"error_code":4000,
// "error_message":"..."} in "Error" events; the OAuth endpoints answer
// {"error_code":"slow_down","error_message":"...","error":""} (HTTP 400, or
// 200), and a 2xx body holding only {"error_message":"..."} is a failure
// too. A chat that failed is a success envelope around {"status":"failed",
// "last_error":{"code":5000,"msg":"..."}}, in a retrieve and in the
// "conversation.chat.failed" stream event; chat streams also send "error"
// events with {"code":...,"msg":...}, or no details at all.

// Coze is the Coze open API.
const Coze Vendor = "coze"

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

	// Workflow runs refused by the open API (sent at HTTP 200 by the
	// open-source Coze server too): the caller's to fix, though in the
	// 6xxx family.

	CozeWorkflowNotPublished  = Code{Coze, "6031"}
	CozeInterruptNotSupported = Code{Coze, "6039"}

	// Sent by the authentication and risk-control layer, with HTTP 200
	// or 401.

	CozeAccessTokenInvalid = Code{Coze, "700012006"}
	CozeUnusualTraffic     = Code{Coze, "700012014"}
	CozeRegionNotAvailable = Code{Coze, "700012015"}

	// Billing: the account's Coze tokens are used up (for a chat, for a
	// workflow).

	CozeTokenInsufficient         = Code{Coze, "702082020"}
	CozeWorkflowTokenInsufficient = Code{Coze, "702095072"}

	// OAuth errors of the token endpoints, in "error_code".

	CozeAuthorizationPending = Code{Coze, "authorization_pending"}
	CozeSlowDown             = Code{Coze, "slow_down"}
	CozeAccessDenied         = Code{Coze, "access_denied"}
	CozeExpiredToken         = Code{Coze, "expired_token"}
	CozeUnauthorized         = Code{Coze, "unauthorized"}
)

// cozeOAuth is the index of the shape of the OAuth token endpoints'
// errors, {"error_code":"slow_down","error_message":"..."}, in Coze's
// Envelopes.
const cozeOAuth = 1

var cozeProfile = Profile{
	Vendor:      Coze,
	Names:       []string{"Coze", "coze.cn", "coze.com", "扣子"},
	ErrorsIn2xx: true,
	Envelopes: []Envelope{
		{Code: "code", Message: []string{"msg"}, Details: "detail", RequestID: []string{"detail.logid", "error.logid", "log_id"}},
		{Code: "error_code", Message: []string{"error_message"}, RequestID: []string{"detail.logid", "log_id"}}, // cozeOAuth
		// A chat that failed: what the call returned, not a failed call
		// (retrieving it again returns the same chat).
		{When: "data.status", Is: []string{"failed"}, Code: "data.last_error.code", Message: []string{"data.last_error.msg"}, RequestID: []string{"detail.logid", "log_id"}, Resource: true},
		{When: "status", Is: []string{"failed"}, Code: "last_error.code", Message: []string{"last_error.msg"}, Resource: true},
		{Message: []string{"error_message"}, RequestID: []string{"detail.logid", "log_id"}},
	},
	// coze-py reads an empty workflow error_code as 0.
	SuccessCodes: []string{"0", ""},
	// A code of 0 is a successful call whatever else the body holds; the
	// OAuth and workflow shapes, which can fail at 200, carry no "code".
	Authority: "code",
	// The open-source Coze server sends its log id in X-Log-ID.
	RequestIDHeaders: []string{"X-Tt-Logid", "X-Log-Id"},
	KeyPrefixes:      []string{"pat_", "sat_", "czs_"}, // personal and service access tokens
	ErrorEvents:      []string{"error", "Error", "conversation.chat.failed"},
	Classify:         cozeKind,
	Detect: Detection{
		Headers:    []string{"X-Tt-Logid"},
		Members:    []string{"detail.logid", "log_id", "error_code", "last_error.code", "data.last_error.code"},
		CodeRanges: [][2]int64{{4000, 6999}, {700000000, 799999999}},
	},
	Codes: []CodeInfo{
		// Request and conversation errors.
		{Code: CozeInvalidParameter, Kind: KindInvalidRequest, Status: 0, Meaning: "request parameters are wrong or missing", Resolution: fixRequest},
		{Code: CozeInvalidChat, Kind: KindNotFound, Status: 0, Meaning: "the chat does not exist or is not yours", Resolution: "check chat_id"},
		{Code: CozeInvalidConversation, Kind: KindNotFound, Status: 0, Meaning: "the conversation does not exist or is not yours", Resolution: "check conversation_id"},
		{Code: CozeMetaDataTooLarge, Kind: KindInvalidRequest, Status: 0, Meaning: "meta_data is over its limit", Resolution: "send less meta_data"},
		{Code: CozeAdditionalMessagesTooLarge, Kind: KindInvalidRequest, Status: 0, Meaning: "additional_messages is over its limit", Resolution: "send fewer or shorter additional messages"},
		{Code: CozeInvalidMessage, Kind: KindInvalidRequest, Status: 0, Meaning: "the message id or content is invalid", Resolution: "check message_id and the content"},
		{Code: CozeInvalidBot, Kind: KindNotFound, Status: 0, Meaning: "the bot does not exist or is not yours", Resolution: "check bot_id"},
		{Code: CozeStreamRequiresAutoSave, Kind: KindInvalidRequest, Status: 0, Meaning: "stream=false needs auto_save_history=true", Resolution: "set auto_save_history to true or stream the reply"},
		{Code: CozeUserRateLimited, Kind: KindRateLimited, Status: 0, Meaning: "the caller's request rate, or the bot's usage for the day, is over its limit", Resolution: "retry later; if the daily limit is reached, retry tomorrow"},
		{Code: CozeSystemBusy, Kind: KindUnavailable, Status: 0, Meaning: "the platform is at its request ceiling", Resolution: "retry after a short wait"},
		{Code: CozePromptTooLong, Kind: KindInvalidRequest, Status: 0, Meaning: "the prompt has more tokens than the model accepts", Resolution: "shorten the question"},
		{Code: CozeInsufficientBalance, Kind: KindInsufficientBalance, Status: 0, Meaning: "the Coze token balance is too low", Resolution: "top up the account"},
		{Code: CozeInvalidModel, Kind: KindInvalidRequest, Status: 0, Meaning: "the bot's model is invalid or withdrawn", Resolution: "switch the bot to another model"},
		{Code: CozeModelError, Kind: KindUnavailable, Status: 0, Meaning: "the model service failed", Resolution: "retry later"},
		{Code: CozeUnanswerable, Kind: KindInvalidRequest, Status: 0, Meaning: "the bot cannot answer this question", Resolution: "ask a different question"},
		{Code: CozeBotNotPublished, Kind: KindPermissionDenied, Status: 0, Meaning: "the bot is not published as an API service", Resolution: "publish the bot to the API channel"},
		{Code: CozeChatInProgress, Kind: KindConflict, Status: 0, Meaning: "a chat is already running in this conversation", Resolution: "wait for it to finish or use another conversation"},
		{Code: CozeVolcanoBalanceExhausted, Kind: KindInsufficientBalance, Status: 0, Meaning: "the pay-as-you-go balance is in arrears", Resolution: "top up the account"},
		{Code: CozeVolcanoRPMExceeded, Kind: KindRateLimited, Status: 0, Meaning: "requests per minute are over the purchased peak", Resolution: "slow down, or buy a higher RPM"},
		{Code: CozeWorkflowNotConfigured, Kind: KindInvalidRequest, Status: 0, Meaning: "no workflow is configured", Resolution: "configure the workflow before calling it"},
		{Code: CozeModelInArrears, Kind: KindInsufficientBalance, Status: 0, Meaning: "the model service account is in arrears", Resolution: "settle the balance to restore the account"},
		{Code: CozeCreditsExhausted, Kind: KindInsufficientBalance, Status: 0, Meaning: "the subscription's credits are used up", Resolution: "buy credits, upgrade, or wait for the credit refresh"},
		// Authentication and permission errors.
		{Code: CozeInvalidToken, Kind: KindUnauthenticated, Status: 0, Meaning: "the personal access token is wrong", Resolution: "check the token"},
		{Code: CozeTokenPermissionDenied, Kind: KindPermissionDenied, Status: 0, Meaning: "the token may not access this resource", Resolution: "grant the token the needed permission"},
		{Code: CozeRiskControl, Kind: KindPermissionDenied, Status: 0, Meaning: "risk control blocked the call", Resolution: "retry much later; report the log id if it persists"},
		{Code: CozeChatNotCancelable, Kind: KindConflict, Status: 0, Meaning: "the chat is finished or waiting for action and cannot be cancelled", Resolution: "check the chat id and status"},
		{Code: CozeSensitiveContent, Kind: KindInvalidRequest, Status: 0, Meaning: "the content contains sensitive information", Resolution: "remove the sensitive words and submit again"},
		// Resource errors.
		{Code: CozeResourceNotFound, Kind: KindNotFound, Status: 0, Meaning: "the resource does not exist or is not yours", Resolution: "check the resource id"},
		{Code: CozeMemberExists, Kind: KindConflict, Status: 0, Meaning: "the member is already in the team or organization", Resolution: "do not add the member again"},
		// File and workflow errors.
		{Code: CozeEmptyFile, Kind: KindInvalidRequest, Status: 0, Meaning: "the uploaded file is empty", Resolution: "send the file as multipart/form-data with content"},
		{Code: CozeMultipleFiles, Kind: KindInvalidRequest, Status: 0, Meaning: "more than one file in one upload", Resolution: "upload one file per call"},
		{Code: CozeFileTooLarge, Kind: KindInvalidRequest, Status: 0, Meaning: "the file is over the size limit", Resolution: "upload a smaller file"},
		{Code: CozeUnsupportedFileType, Kind: KindInvalidRequest, Status: 0, Meaning: "the file type is not supported", Resolution: "upload a supported type"},
		{Code: CozeInvalidFile, Kind: KindInvalidRequest, Status: 0, Meaning: "the file is damaged or invalid", Resolution: "upload another file"},
		{Code: CozeExecutionNotFound, Kind: KindNotFound, Status: 0, Meaning: "the workflow execution record does not exist", Resolution: "check execute_id and workflow_id"},
		{Code: CozeExecutionFinished, Kind: KindConflict, Status: 0, Meaning: "the workflow execution has ended and cannot resume", Resolution: "start a new execution"},
		// Server errors.
		{Code: CozeInternalError, Kind: KindInternal, Status: 0, Meaning: "the server failed", Resolution: "retry later; report the log id if it persists"},
		// Workflow runs refused.
		{Code: CozeWorkflowNotPublished, Kind: KindPermissionDenied, Meaning: "the workflow is not published", Resolution: "publish the workflow, then call it again"},
		{Code: CozeInterruptNotSupported, Kind: KindInvalidRequest, Meaning: "a synchronous workflow run cannot be interrupted", Resolution: "run the workflow asynchronously (is_async)"},
		// Authentication and risk control.
		{Code: CozeAccessTokenInvalid, Kind: KindUnauthenticated, Status: 401, Meaning: "the access token is invalid", Resolution: "obtain a new access token"},
		{Code: CozeUnusualTraffic, Kind: KindPermissionDenied, Meaning: "risk control blocked traffic from this network", Resolution: "retry much later from another network; report the log id if it persists"},
		{Code: CozeRegionNotAvailable, Kind: KindPermissionDenied, Meaning: "the service is not offered in this region", Resolution: "call from a supported region"},
		// Billing.
		{Code: CozeTokenInsufficient, Kind: KindInsufficientBalance, Meaning: "the account's Coze tokens are used up", Resolution: "top up the account"},
		{Code: CozeWorkflowTokenInsufficient, Kind: KindInsufficientBalance, Meaning: "the account's Coze tokens are used up for workflow runs", Resolution: "top up the account"},
		// OAuth token endpoints.
		{Code: CozeAuthorizationPending, Kind: KindConflict, Status: 400, Meaning: "the user has not approved the device authorization yet", Resolution: "poll again after the interval the device code came with", Envelope: cozeOAuth},
		{Code: CozeSlowDown, Kind: KindRateLimited, Status: 400, Meaning: "the token endpoint is polled too often", Resolution: "poll 5 s less often, then retry", Envelope: cozeOAuth},
		{Code: CozeAccessDenied, Kind: KindPermissionDenied, Status: 400, Meaning: "the user denied the authorization", Resolution: "start the authorization again if the user agrees", Envelope: cozeOAuth},
		{Code: CozeExpiredToken, Kind: KindUnauthenticated, Status: 400, Meaning: "the device code expired before it was approved", Resolution: "start a new device authorization", Envelope: cozeOAuth},
		{Code: CozeUnauthorized, Kind: KindUnauthenticated, Status: 401, Meaning: "the credentials were not accepted", Resolution: "check the token, client id and key", Envelope: cozeOAuth},
	},
}

// cozeKind settles the Coze codes the table leaves open. 4008 covers both
// a per-second limit and the bot's daily quota; its message tells them
// apart. Undocumented codes take their family's Kind: 41xx permission,
// 42xx not found, other 4xxx the request, 5xxx and 6xxx server (the
// table names the 6xxx workflow codes that are the caller's), 7000xxxxx
// the access layer (authentication and risk control; its message's words
// decide when they can). The other nine-digit families (702 billing, 708
// knowledge, 720 and 777 workflow, 788 plugin...) mix every kind of
// failure: only their message's words classify them.
func cozeKind(code, msg string, status int, known Kind) Kind {
	if code == CozeUserRateLimited.Value {
		m := strings.ToLower(msg)
		if strings.Contains(m, "daily") || strings.Contains(m, "quota") || strings.Contains(msg, "每日") || strings.Contains(msg, "今日") || strings.Contains(msg, "额度") {
			return KindQuotaExceeded
		}
		return KindRateLimited
	}
	if known != KindUnknown || status >= 400 {
		return known
	}
	n, err := strconv.ParseInt(code, 10, 64)
	if err != nil {
		return KindUnknown
	}
	switch {
	case n >= 4100 && n < 4200:
		return KindPermissionDenied
	case n >= 4200 && n < 4300:
		return KindNotFound
	case n >= 4000 && n < 5000:
		return KindInvalidRequest
	case n >= 5000 && n < 7000:
		return KindInternal
	case n >= 700000000 && n < 701000000:
		if k := kindByWords(msg); k != KindUnknown {
			return k
		}
		return KindPermissionDenied
	}
	return KindUnknown
}
