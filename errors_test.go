package memerr

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cozeLogID is the X-Tt-Logid example of the Coze error document.
const cozeLogID = "20240708143040790E78F9318B35A2910B"

// vector is one response taken from a vendor's documents (the seed files in
// ../shared/seeds and the wire facts in DESIGN.md). want nil means success.
type vector struct {
	name    string
	vendor  Vendor // the vendor the document belongs to: the explicit hint
	status  int
	header  http.Header
	body    string
	want    *Error
	details string // the JSON Details must hold; "" for none
}

// hdr builds a header through Set, as net/http does (canonical keys).
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// seedVectors holds every JSON example of the five vendor documents, plus
// the shapes DESIGN.md's wire-facts table adds (errors in HTTP 200, success
// codes 0/200/"0000", codes as strings, FastAPI's detail, Coze's logid).
var seedVectors = []vector{
	// MemOS (seed 000 lists codes only; the envelope is DESIGN.md's).
	{
		name: "memos/40001 error in HTTP 200 example", vendor: MemOS, status: 200,
		body: `{"code":40001,"message":"Requested data not found","data":null}`,
		want: &Error{Vendor: MemOS, StatusCode: 200, Code: "40001", Kind: KindNotFound, Message: "Requested data not found"},
	},
	{
		name: "memos/RATE_LIMIT 40300 in HTTP 200 example", vendor: MemOS, status: 200,
		body: `{"code":40300,"message":"Rate limit exceeded","data":null}`,
		want: &Error{Vendor: MemOS, StatusCode: 200, Code: "40300", Kind: KindRateLimited, Message: "Rate limit exceeded"},
	},
	{
		name: "memos/40300 code as string example", vendor: MemOS, status: 200,
		body: `{"code":"40300","message":"Rate limit exceeded","data":null}`,
		want: &Error{Vendor: MemOS, StatusCode: 200, Code: "40300", Kind: KindRateLimited, Message: "Rate limit exceeded"},
	},
	{
		name: "memos/40304 call quota example", vendor: MemOS, status: 200,
		body: `{"code":40304,"message":"Total API call quota exceeded","data":null}`,
		want: &Error{Vendor: MemOS, StatusCode: 200, Code: "40304", Kind: KindQuotaExceeded, Message: "Total API call quota exceeded"},
	},
	{
		name: "memos/50103 file count example", vendor: MemOS, status: 200,
		body: `{"code":50103,"message":"File count exceeds limit","data":null}`,
		want: &Error{Vendor: MemOS, StatusCode: 200, Code: "50103", Kind: KindInvalidRequest, Message: "File count exceeds limit"},
	},
	{
		name: "memos/50004 service unavailable example", vendor: MemOS, status: 200,
		body: `{"code":50004,"message":"Memory service is temporarily unavailable","data":null}`,
		want: &Error{Vendor: MemOS, StatusCode: 200, Code: "50004", Kind: KindUnavailable, Message: "Memory service is temporarily unavailable"},
	},
	{
		name: "memos/40132 with HTTP 401 example", vendor: MemOS, status: 401,
		body: `{"code":40132,"message":"Invalid or expired API Key","data":null}`,
		want: &Error{Vendor: MemOS, StatusCode: 401, Code: "40132", Kind: KindUnauthenticated, Message: "Invalid or expired API Key"},
	},
	{
		name: "memos/success code 0 example", vendor: MemOS, status: 200,
		body: `{"code":0,"message":"ok","data":{"memory_detail_list":[{"id":"m1"}]}}`,
	},
	{
		name: "memos/self-hosted success code 200 example", vendor: MemOS, status: 200,
		body: `{"code":200,"message":"Memory searched successfully","data":{"text_mem":[]}}`,
	},
	{
		name: "memos/self-hosted 429 retry_after example", vendor: MemOS, status: 429,
		header: hdr("X-Trace-Id", "trace-7f3a"),
		body:   `{"detail":"Too many requests, please slow down","retry_after":30}`,
		want:   &Error{Vendor: MemOS, StatusCode: 429, Kind: KindRateLimited, Message: "Too many requests, please slow down", RequestID: "trace-7f3a", RetryAfter: 30 * time.Second},
	},
	{
		name: "memos/self-hosted 429 Retry-After header wins example", vendor: MemOS, status: 429,
		header: hdr("Retry-After", "12"),
		body:   `{"detail":"Too many requests","retry_after":30}`,
		want:   &Error{Vendor: MemOS, StatusCode: 429, Kind: KindRateLimited, Message: "Too many requests", RetryAfter: 12 * time.Second},
	},

	// Tensorheart (seed 001).
	{
		name: "tensorheart/error response format example", vendor: Tensorheart, status: 400,
		body: `{
"success": false,
"error": {
"code": "ERROR_CODE",
"message": "Human-readable description",
"details": {}
}
}`,
		want:    &Error{Vendor: Tensorheart, StatusCode: 400, Code: "ERROR_CODE", Kind: KindInvalidRequest, Message: "Human-readable description"},
		details: `{}`,
	},
	{
		name: "tensorheart/VALIDATION_ERROR example", vendor: Tensorheart, status: 400,
		body: `{
"error": {
"code": "VALIDATION_ERROR",
"message": "Invalid request data",
"details": {
"field": "text",
"errors": [
{"field": "text", "message": "field required"}
]
}
}
}`,
		want:    &Error{Vendor: Tensorheart, StatusCode: 400, Code: "VALIDATION_ERROR", Kind: KindInvalidRequest, Message: "Invalid request data"},
		details: `{"field":"text","errors":[{"field":"text","message":"field required"}]}`,
	},
	{
		name: "tensorheart/RATE_LIMIT_EXCEEDED example", vendor: Tensorheart, status: 429,
		header: hdr("Retry-After", "30", "X-Request-ID", "req_th_429"),
		body:   `{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many requests per minute"}}`,
		want:   &Error{Vendor: Tensorheart, StatusCode: 429, Code: "RATE_LIMIT_EXCEEDED", Kind: KindRateLimited, Message: "Too many requests per minute", RequestID: "req_th_429", RetryAfter: 30 * time.Second},
	},
	{
		name: "tensorheart/DAILY_QUOTA_EXCEEDED example", vendor: Tensorheart, status: 429,
		header: hdr("Date", "Mon, 01 Jan 2024 00:00:00 GMT", "X-RateLimit-Reset", "1704070800"),
		body:   `{"success":false,"error":{"code":"DAILY_QUOTA_EXCEEDED","message":"Daily limit reached"}}`,
		want:   &Error{Vendor: Tensorheart, StatusCode: 429, Code: "DAILY_QUOTA_EXCEEDED", Kind: KindQuotaExceeded, Message: "Daily limit reached", RetryAfter: time.Hour},
	},
	{
		name: "tensorheart/MEMORY_NOT_FOUND with meta.request_id example", vendor: Tensorheart, status: 404,
		header: hdr("X-Request-ID", "req_from_header"),
		body:   `{"success":false,"error":{"code":"MEMORY_NOT_FOUND","message":"Memory ID doesn't exist"},"meta":{"request_id":"req_9f8e7d"}}`,
		want:   &Error{Vendor: Tensorheart, StatusCode: 404, Code: "MEMORY_NOT_FOUND", Kind: KindNotFound, Message: "Memory ID doesn't exist", RequestID: "req_9f8e7d"},
	},
	{
		name: "tensorheart/FastAPI detail example", vendor: Tensorheart, status: 429,
		body: `{"detail":{"code":"RATE_LIMIT_EXCEEDED","message":"Rate limit exceeded"}}`,
		want: &Error{Vendor: Tensorheart, StatusCode: 429, Code: "RATE_LIMIT_EXCEEDED", Kind: KindRateLimited, Message: "Rate limit exceeded"},
	},
	{
		name: "tensorheart/success example", vendor: Tensorheart, status: 200,
		body: `{"success":true,"data":{},"meta":{"request_id":"req_x"}}`,
	},

	// Memory OS (seed 002).
	{
		name: "memoryos/error response format example", vendor: MemoryOS, status: 400,
		body: `{
"error": {
"code": "ERROR_CODE",
"message": "Human-readable error description",
"details": {}
},
"meta": {
"request_id": "req_abc123"
}
}`,
		want:    &Error{Vendor: MemoryOS, StatusCode: 400, Code: "ERROR_CODE", Kind: KindInvalidRequest, Message: "Human-readable error description", RequestID: "req_abc123"},
		details: `{}`,
	},
	{
		name: "memoryos/UNAUTHORIZED example", vendor: MemoryOS, status: 401,
		body: `{
"error": {
"code": "UNAUTHORIZED",
"message": "Invalid or missing API key"
},
"meta": {
"request_id": "req_abc123"
}
}`,
		want: &Error{Vendor: MemoryOS, StatusCode: 401, Code: "UNAUTHORIZED", Kind: KindUnauthenticated, Message: "Invalid or missing API key", RequestID: "req_abc123"},
	},
	{
		name: "memoryos/FORBIDDEN example", vendor: MemoryOS, status: 403,
		body: `{
"error": {
"code": "FORBIDDEN",
"message": "Missing scope: memories:write"
},
"meta": {
"request_id": "req_abc123"
}
}`,
		want: &Error{Vendor: MemoryOS, StatusCode: 403, Code: "FORBIDDEN", Kind: KindPermissionDenied, Message: "Missing scope: memories:write", RequestID: "req_abc123"},
	},
	{
		name: "memoryos/NOT_FOUND example", vendor: MemoryOS, status: 404,
		body: `{
"error": {
"code": "NOT_FOUND",
"message": "Memory not found"
},
"meta": {
"request_id": "req_abc123"
}
}`,
		want: &Error{Vendor: MemoryOS, StatusCode: 404, Code: "NOT_FOUND", Kind: KindNotFound, Message: "Memory not found", RequestID: "req_abc123"},
	},
	{
		name: "memoryos/VALIDATION_ERROR example", vendor: MemoryOS, status: 400,
		body: `{
"error": {
"code": "VALIDATION_ERROR",
"message": "content is required",
"details": {
"field": "content",
"constraint": "required"
}
},
"meta": {
"request_id": "req_abc123"
}
}`,
		want:    &Error{Vendor: MemoryOS, StatusCode: 400, Code: "VALIDATION_ERROR", Kind: KindInvalidRequest, Message: "content is required", RequestID: "req_abc123"},
		details: `{"field":"content","constraint":"required"}`,
	},
	{
		name: "memoryos/RATE_LIMITED example", vendor: MemoryOS, status: 429,
		header: hdr("X-RateLimit-Reset", "1704067200", "Date", "Sun, 31 Dec 2023 23:59:00 GMT"),
		body: `{
"error": {
"code": "RATE_LIMITED",
"message": "Rate limit exceeded"
},
"meta": {
"request_id": "req_abc123"
}
}`,
		want: &Error{Vendor: MemoryOS, StatusCode: 429, Code: "RATE_LIMITED", Kind: KindRateLimited, Message: "Rate limit exceeded", RequestID: "req_abc123", RetryAfter: time.Minute},
	},
	{
		name: "memoryos/INTERNAL_ERROR example", vendor: MemoryOS, status: 500,
		body: `{
"error": {
"code": "INTERNAL_ERROR",
"message": "Internal server error"
},
"meta": {
"request_id": "req_abc123"
}
}`,
		want: &Error{Vendor: MemoryOS, StatusCode: 500, Code: "INTERNAL_ERROR", Kind: KindInternal, Message: "Internal server error", RequestID: "req_abc123"},
	},
	{
		name: "memoryos/success example", vendor: MemoryOS, status: 200,
		body: `{"data":{"id":"mem_1","content":"Test memory"},"meta":{"request_id":"req_abc123"}}`,
	},

	// memories.ai (seed 003).
	{
		name: "memoriesai/success example", vendor: MemoriesAI, status: 200,
		body: "{\n  \"code\": 200,\n  \"msg\": \"success\",\n  \"data\": {}\n}",
	},
	{
		name: "memoriesai/old API success \"0000\" example", vendor: MemoriesAI, status: 200,
		body: `{"code":"0000","msg":"success","data":{},"success":true,"failed":false}`,
	},
	{
		name: "memoriesai/old API failure in HTTP 200 example", vendor: MemoriesAI, status: 200,
		body: `{"code":"0001","msg":"video not ready","data":null,"success":false,"failed":true}`,
		want: &Error{Vendor: MemoriesAI, StatusCode: 200, Code: "0001", Kind: KindUnknown, Message: "video not ready"},
	},
	{
		name: "memoriesai/400 invalid request parameters example", vendor: MemoriesAI, status: 400,
		body: "{\n  \"code\": 400,\n  \"msg\": \"Invalid request parameters\",\n  \"data\": null\n}",
		want: &Error{Vendor: MemoriesAI, StatusCode: 400, Code: "400", Kind: KindInvalidRequest, Message: "Invalid request parameters"},
	},
	{
		name: "memoriesai/401 unauthorized example", vendor: MemoriesAI, status: 401,
		body: "{\n  \"code\": 401,\n  \"msg\": \"Unauthorized\",\n  \"data\": null\n}",
		want: &Error{Vendor: MemoriesAI, StatusCode: 401, Code: "401", Kind: KindUnauthenticated, Message: "Unauthorized"},
	},
	{
		name: "memoriesai/400 asset not found example", vendor: MemoriesAI, status: 400,
		body: "{\n  \"code\": 400,\n  \"msg\": \"Asset not found\",\n  \"data\": null\n}",
		want: &Error{Vendor: MemoriesAI, StatusCode: 400, Code: "400", Kind: KindInvalidRequest, Message: "Asset not found"},
	},
	{
		name: "memoriesai/402 insufficient balance example", vendor: MemoriesAI, status: 402,
		body: "{\n  \"code\": 402,\n  \"msg\": \"Insufficient balance or credits\",\n  \"data\": null\n}",
		want: &Error{Vendor: MemoriesAI, StatusCode: 402, Code: "402", Kind: KindInsufficientBalance, Message: "Insufficient balance or credits"},
	},
	{
		name: "memoriesai/415 unsupported media type example", vendor: MemoriesAI, status: 415,
		body: "{\n  \"code\": 415,\n  \"msg\": \"Unsupported media type\",\n  \"data\": null\n}",
		want: &Error{Vendor: MemoriesAI, StatusCode: 415, Code: "415", Kind: KindInvalidRequest, Message: "Unsupported media type"},
	},
	{
		name: "memoriesai/429 rate limit exceeded example", vendor: MemoriesAI, status: 429,
		body: "{\n  \"code\": 429,\n  \"msg\": \"Rate limit exceeded\",\n  \"data\": null\n}",
		want: &Error{Vendor: MemoriesAI, StatusCode: 429, Code: "429", Kind: KindRateLimited, Message: "Rate limit exceeded"},
	},
	{
		name: "memoriesai/429 code as string example", vendor: MemoriesAI, status: 429,
		body: `{"code":"429","msg":"Rate limit exceeded","data":null}`,
		want: &Error{Vendor: MemoriesAI, StatusCode: 429, Code: "429", Kind: KindRateLimited, Message: "Rate limit exceeded"},
	},
	{
		name: "memoriesai/500 internal server error example", vendor: MemoriesAI, status: 500,
		body: "{\n  \"code\": 500,\n  \"msg\": \"Internal server error\",\n  \"data\": null\n}",
		want: &Error{Vendor: MemoriesAI, StatusCode: 500, Code: "500", Kind: KindInternal, Message: "Internal server error"},
	},

	// Coze (seed 004).
	{
		name: "coze/700012006 access token invalid example", vendor: Coze, status: 401,
		header: hdr("X-Tt-Logid", cozeLogID),
		body:   `{ "code": 700012006, "msg": "access token invalid" }`,
		want:   &Error{Vendor: Coze, StatusCode: 401, Code: "700012006", Kind: KindUnauthenticated, Message: "access token invalid", RequestID: cozeLogID},
	},
	{
		name: "coze/700012006 without logid example", vendor: Coze, status: 401,
		body: `{"code":700012006,"msg":"access token invalid"}`,
		want: &Error{Vendor: Coze, StatusCode: 401, Code: "700012006", Kind: KindUnauthenticated, Message: "access token invalid"},
	},
	{
		name: "coze/4000 with detail.logid example", vendor: Coze, status: 200,
		body:    `{"code":4000,"msg":"请求参数错误","detail":{"logid":"` + cozeLogID + `"}}`,
		want:    &Error{Vendor: Coze, StatusCode: 200, Code: "4000", Kind: KindInvalidRequest, Message: "请求参数错误", RequestID: cozeLogID},
		details: `{"logid":"` + cozeLogID + `"}`,
	},
	{
		name: "coze/4009 system busy in HTTP 200 example", vendor: Coze, status: 200,
		header: hdr("X-Tt-Logid", cozeLogID),
		body:   `{"code":4009,"msg":"已达系统请求上限，请稍后重试"}`,
		want:   &Error{Vendor: Coze, StatusCode: 200, Code: "4009", Kind: KindUnavailable, Message: "已达系统请求上限，请稍后重试", RequestID: cozeLogID},
	},
	{
		name: "coze/4011 insufficient balance example", vendor: Coze, status: 200,
		body: `{"code":4011,"msg":"当前账户的 Coze Token 余额不足"}`,
		want: &Error{Vendor: Coze, StatusCode: 200, Code: "4011", Kind: KindInsufficientBalance, Message: "当前账户的 Coze Token 余额不足"},
	},
	{
		name: "coze/4028 credits example", vendor: Coze, status: 200,
		body: `{"code":4028,"msg":"Insufficient coze credits balance, please wait for the quota refresh or upgrade to paid version."}`,
		want: &Error{Vendor: Coze, StatusCode: 200, Code: "4028", Kind: KindInsufficientBalance, Message: "Insufficient coze credits balance, please wait for the quota refresh or upgrade to paid version."},
	},
	{
		name: "coze/4102 risk control example", vendor: Coze, status: 200,
		body:    `{"code":4102,"msg":"命中风控拦截","detail":{"logid":"` + cozeLogID + `"}}`,
		want:    &Error{Vendor: Coze, StatusCode: 200, Code: "4102", Kind: KindPermissionDenied, Message: "命中风控拦截", RequestID: cozeLogID},
		details: `{"logid":"` + cozeLogID + `"}`,
	},
	{
		name: "coze/4008 code as string example", vendor: Coze, status: 200,
		body: `{"code":"4008","msg":"用户限流"}`,
		want: &Error{Vendor: Coze, StatusCode: 200, Code: "4008", Kind: KindRateLimited, Message: "用户限流"},
	},
	{
		name: "coze/5000 internal error example", vendor: Coze, status: 200,
		body: `{"code":5000,"msg":"服务器内部错误"}`,
		want: &Error{Vendor: Coze, StatusCode: 200, Code: "5000", Kind: KindInternal, Message: "服务器内部错误"},
	},
	{
		name: "coze/success example", vendor: Coze, status: 200,
		header: hdr("X-Tt-Logid", cozeLogID),
		body:   `{"code":0,"msg":"","data":{"id":"7366061405853843507","status":"in_progress"}}`,
	},
	{
		name: "coze/success with detail.logid example", vendor: Coze, status: 200,
		body: `{"code":0,"msg":"","data":[],"detail":{"logid":"` + cozeLogID + `"}}`,
	},
}

func TestSeedVectors(t *testing.T) {
	// A local clock far from every Date header: results must not depend on it.
	pinClock(t, time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC))
	for _, tc := range seedVectors {
		for _, hint := range []Vendor{Auto, tc.vendor} {
			t.Run(tc.name+"/hint="+hint.String(), func(t *testing.T) {
				err := Parse(hint, tc.status, tc.header, []byte(tc.body))
				if tc.want == nil {
					require.NoError(t, err)
					return
				}
				var got *Error
				require.ErrorAs(t, err, &got)
				assert.Equal(t, tc.want.Vendor, got.Vendor, "Vendor")
				assert.Equal(t, tc.want.StatusCode, got.StatusCode, "StatusCode")
				assert.Equal(t, tc.want.Code, got.Code, "Code")
				assert.Equal(t, tc.want.Kind, got.Kind, "Kind: %v", got.Kind)
				assert.Equal(t, tc.want.Message, got.Message, "Message")
				assert.Equal(t, tc.want.RequestID, got.RequestID, "RequestID")
				assert.Equal(t, tc.want.RetryAfter, got.RetryAfter, "RetryAfter")
				assert.Zero(t, got.Attempts, "Attempts: no transport was involved")
				if tc.details == "" {
					assert.Nil(t, got.Details, "Details")
				} else {
					assert.JSONEq(t, tc.details, string(got.Details), "Details")
				}
				assert.Equal(t, tc.want.Kind.Retryable(), got.Retryable())
			})
		}
	}
}

// TestSeedVectorsCoverEveryExample keeps the vector list honest: every
// vendor has error and success vectors.
func TestSeedVectorsCoverEveryVendor(t *testing.T) {
	errs := map[Vendor]int{}
	oks := map[Vendor]int{}
	for _, tc := range seedVectors {
		if tc.want == nil {
			oks[tc.vendor]++
		} else {
			errs[tc.vendor]++
		}
	}
	for _, v := range builtins {
		assert.Positive(t, errs[v], "%s error vectors", v)
		assert.Positive(t, oks[v], "%s success vectors", v)
	}
	// memoryos: the format example and six documented codes.
	assert.Equal(t, 7, errs[MemoryOS])
}

// pinClock replaces timeNow for the duration of the test.
func pinClock(t *testing.T, now time.Time) {
	t.Helper()
	old := timeNow
	timeNow = func() time.Time { return now }
	t.Cleanup(func() { timeNow = old })
}

// mustParse parses a response that must fail and returns its *Error.
func mustParse(t *testing.T, v Vendor, status int, h http.Header, body string) *Error {
	t.Helper()
	err := Parse(v, status, h, []byte(body))
	var e *Error
	require.ErrorAs(t, err, &e)
	return e
}

func TestParseNonJSONBodies(t *testing.T) {
	const nginx502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   *Error // nil: success
	}{
		{name: "HTML 502 page", status: 502, body: nginx502,
			want: &Error{Vendor: Generic, Code: "502", Kind: KindUnavailable, Message: "502 Bad Gateway"}},
		{name: "HTML page without title", status: 504, body: "<html><body>upstream timed out</body></html>",
			want: &Error{Vendor: Generic, Code: "504", Kind: KindUnavailable, Message: "Gateway Timeout"}},
		{name: "empty 503", status: 503, body: "",
			want: &Error{Vendor: Generic, Code: "503", Kind: KindUnavailable, Message: "Service Unavailable"}},
		{name: "plain text 500", status: 500, body: "upstream connect error or disconnect/reset before headers\nreset reason: overflow\n",
			want: &Error{Vendor: Generic, Code: "500", Kind: KindInternal, Message: "upstream connect error or disconnect/reset before headers"}},
		{name: "plain text 429 with Retry-After", status: 429, header: hdr("Retry-After", "7"), body: "Too Many Requests",
			want: &Error{Vendor: Generic, Code: "429", Kind: KindRateLimited, Message: "Too Many Requests", RetryAfter: 7 * time.Second}},
		{name: "truncated JSON", status: 500, body: `{"code":50000,"message":"Internal ser`,
			want: &Error{Vendor: Generic, Code: "500", Kind: KindInternal, Message: "Internal Server Error"}},
		{name: "JSON with trailing garbage", status: 400, body: `{"code":400,"msg":"x"} trailing`,
			want: &Error{Vendor: Generic, Code: "400", Kind: KindInvalidRequest, Message: "Bad Request"}},
		{name: "JSON array", status: 400, body: `[{"code":40000,"message":"bad"}]`,
			want: &Error{Vendor: Generic, Code: "400", Kind: KindInvalidRequest, Message: "Bad Request"}},
		{name: "foreign JSON object", status: 404, body: `{"path":"/v1/x","timestamp":"2024-01-01"}`,
			want: &Error{Vendor: Generic, Code: "404", Kind: KindNotFound}},
		{name: "2xx HTML is success", status: 200, body: nginx502},
		{name: "2xx plain text is success", status: 200, body: "OK"},
		{name: "2xx empty is success", status: 204, body: ""},
		{name: "2xx truncated JSON is success", status: 200, body: `{"code":4009,"msg":"busy"`},
		{name: "2xx JSON array is success", status: 200, body: `[{"code":4009}]`},
		{name: "2xx JSON without envelope is success", status: 200, body: `{"items":[{"code":4009,"success":false}],"total":1}`},
		{name: "2xx empty object is success", status: 200, body: `{}`},
		{name: "2xx null error is success", status: 200, body: `{"error":null,"data":{"a":1}}`},
		{name: "3xx JSON success", status: 304, body: `{"code":0}`},
		{name: "success code written 0.0", status: 200, body: `{"code":0.0,"msg":"","data":{}}`},
		{name: "success code written 2e2", status: 200, body: `{"code":2e2,"msg":"success","data":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Parse(Auto, tc.status, tc.header, []byte(tc.body))
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			var got *Error
			require.ErrorAs(t, err, &got)
			assert.Equal(t, tc.want.Vendor, got.Vendor)
			assert.Equal(t, tc.status, got.StatusCode)
			assert.Equal(t, tc.want.Code, got.Code)
			assert.Equal(t, tc.want.Kind, got.Kind, "Kind: %v", got.Kind)
			assert.Equal(t, tc.want.Message, got.Message)
			assert.Equal(t, tc.want.RetryAfter, got.RetryAfter)
			assert.NotContains(t, got.Error(), "<", "no markup in the message")
			assert.NotContains(t, got.Error(), "{", "no JSON in the message")
		})
	}
}

func TestParseUnknownCodes(t *testing.T) {
	tests := []struct {
		name   string
		vendor Vendor
		status int
		body   string
		want   Code
		kind   Kind
	}{
		{"memos unknown 403xx is a quota", Auto, 200, `{"code":40399,"message":"new quota"}`, Code{MemOS, "40399"}, KindQuotaExceeded},
		{"memos unknown 400xx is invalid", Auto, 200, `{"code":40050,"message":"x"}`, Code{MemOS, "40050"}, KindInvalidRequest},
		{"memos unknown 401xx is unauthenticated", Auto, 200, `{"code":40199,"message":"x"}`, Code{MemOS, "40199"}, KindUnauthenticated},
		{"memos unknown 500xx is internal", Auto, 200, `{"code":50099,"message":"x"}`, Code{MemOS, "50099"}, KindInternal},
		{"memos unknown code takes the HTTP status", Auto, 503, `{"code":40050,"message":"x"}`, Code{MemOS, "40050"}, KindUnavailable},
		{"coze unknown 41xx is permission", Auto, 200, `{"code":4150,"msg":"x"}`, Code{Coze, "4150"}, KindPermissionDenied},
		{"coze unknown 40xx is invalid", Auto, 200, `{"code":4099,"msg":"x"}`, Code{Coze, "4099"}, KindInvalidRequest},
		{"coze unknown 5xxx is internal", Auto, 200, `{"code":5001,"msg":"x"}`, Code{Coze, "5001"}, KindInternal},
		{"coze code as float", Auto, 200, `{"code":4.009e3,"msg":"busy"}`, Code{Coze, "4009"}, KindUnavailable},
		{"coze code as 4009.0", Coze, 200, `{"code":4009.0,"msg":"busy"}`, Code{Coze, "4009"}, KindUnavailable},
		{"tensorheart unknown string code by its words", Auto, 200, `{"success":false,"error":{"code":"PAYMENT_REQUIRED","message":"x"}}`, Code{Tensorheart, "PAYMENT_REQUIRED"}, KindInsufficientBalance},
		{"tensorheart unknown string code takes the status", Auto, 503, `{"success":false,"error":{"code":"SOMETHING_NEW","message":"x"}}`, Code{Tensorheart, "SOMETHING_NEW"}, KindUnavailable},
		{"memories.ai unknown status code", Auto, 200, `{"code":404,"msg":"not here"}`, Code{MemoriesAI, "404"}, KindNotFound},
		{"success code with failure status keeps the status", Auto, 500, `{"code":0,"msg":"","data":null}`, Code{Coze, ""}, KindInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustParse(t, tc.vendor, tc.status, nil, tc.body)
			assert.Equal(t, tc.want, Code{e.Vendor, e.Code})
			assert.Equal(t, tc.kind, e.Kind, "Kind: %v", e.Kind)
		})
	}
}

func TestRequestID(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   string
	}{
		{"meta.request_id", 404, nil, `{"error":{"code":"NOT_FOUND","message":"x"},"meta":{"request_id":"req_abc123"}}`, "req_abc123"},
		{"top-level request_id", 400, nil, `{"success":false,"error":{"code":"VALIDATION_ERROR","message":"x"},"request_id":"req_top"}`, "req_top"},
		{"detail.logid", 200, nil, `{"code":4000,"msg":"x","detail":{"logid":"2024logid"}}`, "2024logid"},
		{"X-Tt-Logid header", 200, hdr("X-Tt-Logid", cozeLogID), `{"code":4000,"msg":"x"}`, cozeLogID},
		{"X-Request-ID header", 429, hdr("X-Request-ID", "req_upper"), `{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"x"}}`, "req_upper"},
		{"X-Request-Id header", 500, hdr("X-Request-Id", "req_mixed"), `{"code":500,"msg":"x"}`, "req_mixed"},
		{"Request-Id header", 500, hdr("Request-Id", "req_plain"), "oops", "req_plain"},
		{"X-Trace-Id header", 500, hdr("X-Trace-Id", "trace_1"), `{"code":50000,"message":"x"}`, "trace_1"},
		{"body wins over header", 404, hdr("X-Request-ID", "req_header"), `{"error":{"code":"NOT_FOUND","message":"x"},"meta":{"request_id":"req_body"}}`, "req_body"},
		{"header request id is cleaned to one line", 500, http.Header{"X-Request-Id": {"req_1\r\nInjected: yes"}}, "", "req_1 Injected: yes"},
		{"none", 500, nil, `{"code":50000,"message":"x"}`, ""},
		// A vendor's own header goes with its errors and a gateway's page,
		// not with another vendor's error.
		{"Coze's header on a gateway's page", 502, hdr("X-Tt-Logid", cozeLogID), "<html><title>502 Bad Gateway</title></html>", cozeLogID},
		{"Coze's header on a MemOS error", 200, hdr("X-Tt-Logid", cozeLogID), `{"code":40300,"message":"x","data":null}`, ""},
		{"a common header on a MemOS error", 200, hdr("X-Tt-Logid", cozeLogID, "X-Request-Id", "req_gw"), `{"code":40300,"message":"x","data":null}`, "req_gw"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustParse(t, Auto, tc.status, tc.header, tc.body)
			assert.Equal(t, tc.want, e.RequestID)
		})
	}
}

func TestErrorIsAs(t *testing.T) {
	coze4011 := mustParse(t, Auto, 200, hdr("X-Tt-Logid", cozeLogID), `{"code":4011,"msg":"余额不足"}`)
	mai429 := mustParse(t, Auto, 429, nil, `{"code":429,"msg":"Rate limit exceeded","data":null}`)
	th := mustParse(t, Auto, 400, nil, `{"success":false,"error":{"code":"VALIDATION_ERROR","message":"x"}}`)
	html := mustParse(t, Auto, 502, nil, "<html><title>502 Bad Gateway</title></html>")

	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"kind sentinel", coze4011, ErrInsufficientBalance, true},
		{"other kind sentinel", coze4011, ErrRateLimited, false},
		{"exported code", coze4011, CozeInsufficientBalance, true},
		{"exported code of another coze code", coze4011, CozeSystemBusy, false},
		{"code template", coze4011, Code{Vendor: Coze, Value: "4011"}, true},
		{"code pointer template", coze4011, &Code{Vendor: Coze, Value: "4011"}, true},
		{"nil code pointer", coze4011, (*Code)(nil), false},
		{"code template without vendor", coze4011, Code{Value: "4011"}, true},
		{"code template without value", coze4011, Code{Vendor: Coze}, true},
		{"code template of another vendor", coze4011, Code{Vendor: MemoriesAI}, false},
		{"another vendor's same-looking code", coze4011, Code{Vendor: MemOS, Value: "4011"}, false},
		{"empty code template", coze4011, Code{}, false},
		{"memories.ai 429 is not the generic 429", mai429, GenericTooManyRequests, false},
		{"memories.ai 429 is its own code", mai429, MemoriesAIRateLimited, true},
		{"generic 502", html, GenericBadGateway, true},
		{"generic 502 kind", html, ErrUnavailable, true},
		{"tensorheart VALIDATION_ERROR is not memory os's", th, MemoryOSValidationError, false},
		{"tensorheart VALIDATION_ERROR", th, TensorheartValidationError, true},
		{"error template vendor+code", coze4011, &Error{Vendor: Coze, Code: "4011"}, true},
		{"error template kind", coze4011, &Error{Kind: KindInsufficientBalance}, true},
		{"error template vendor+kind mismatch", coze4011, &Error{Vendor: Coze, Kind: KindRateLimited}, false},
		{"error template another code", coze4011, &Error{Vendor: Coze, Code: "4009"}, false},
		{"error template another vendor", coze4011, &Error{Vendor: MemOS, Code: "4011"}, false},
		{"empty error template", coze4011, &Error{}, false},
		{"nil error template", coze4011, (*Error)(nil), false},
		{"wrapped with %w", fmt.Errorf("save memory: %w", coze4011), CozeInsufficientBalance, true},
		{"wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", coze4011)), ErrInsufficientBalance, true},
		{"joined", errors.Join(errors.New("other"), coze4011), Code{Coze, "4011"}, true},
		{"wrapped with %v loses it", fmt.Errorf("save memory: %v", coze4011), ErrInsufficientBalance, false},
		{"unrelated error", errors.New("memerr: coze 4011"), CozeInsufficientBalance, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, errors.Is(tc.err, tc.target))
		})
	}

	t.Run("As through wrapping", func(t *testing.T) {
		var e *Error
		require.ErrorAs(t, fmt.Errorf("x: %w", errors.Join(errors.New("y"), coze4011)), &e)
		assert.Same(t, coze4011, e)
		assert.Equal(t, cozeLogID, e.RequestID)
	})
	t.Run("sentinels are distinct", func(t *testing.T) {
		for k := KindInvalidRequest; k < numKinds; k++ {
			for j := KindInvalidRequest; j < numKinds; j++ {
				assert.Equal(t, k == j, errors.Is(k.Err(), j.Err()), "%v vs %v", k, j)
			}
		}
	})
	t.Run("Info", func(t *testing.T) {
		info, ok := coze4011.Info()
		require.True(t, ok)
		assert.Equal(t, CozeInsufficientBalance, info.Code)
		_, ok = (&Error{Vendor: Coze, Code: "4999"}).Info()
		assert.False(t, ok)
	})
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name    string
		err     *Error
		want    string   // exact, when set
		has     []string // must contain
		hasNot  []string // must not contain
		maxRune int      // 0: 400
	}{
		{
			name: "coze with request id",
			err:  &Error{Vendor: Coze, StatusCode: 200, Code: "4011", Kind: KindInsufficientBalance, Message: "当前账户的 Coze Token 余额不足", RequestID: cozeLogID},
			want: "memerr: coze 4011 insufficient balance: 当前账户的 Coze Token 余额不足 (request id " + cozeLogID + ")",
		},
		{
			name: "retry after and attempts",
			err:  &Error{Vendor: MemoryOS, StatusCode: 429, Code: "RATE_LIMITED", Kind: KindRateLimited, Message: "Rate limit exceeded", RequestID: "req_abc123", RetryAfter: 1500 * time.Millisecond, Attempts: 3},
			want: "memerr: memoryos RATE_LIMITED rate limited: Rate limit exceeded (request id req_abc123, retry after 1.5s, 3 attempts)",
		},
		{
			name: "generic without message",
			err:  &Error{Vendor: Generic, StatusCode: 503, Code: "503", Kind: KindUnavailable},
			want: "memerr: http 503 unavailable",
		},
		{
			name: "no code prints the status",
			err:  &Error{Vendor: MemOS, StatusCode: 429, Kind: KindRateLimited, Message: "Too many requests"},
			want: "memerr: memos 429 rate limited: Too many requests",
		},
		{
			name:   "multi-line message becomes one line",
			err:    &Error{Vendor: MemOS, Code: "50000", Kind: KindInternal, Message: "line one\r\nline two\n\tline three\u2028four\u0085five"},
			has:    []string{"line one line two line three four five"},
			hasNot: []string{"\n", "\r", "\t", "\u2028", "\u0085"},
		},
		{
			name:   "bearer token echoed by the server",
			err:    &Error{Vendor: Tensorheart, Code: "INVALID_API_KEY", Kind: KindUnauthenticated, Message: "invalid header Authorization: Bearer sk-live-4f9a8b7c6d5e4f3a2b1c"},
			has:    []string{"tensorheart", "INVALID_API_KEY", "unauthenticated", "Authorization", "[redacted]"},
			hasNot: []string{"sk-live", "4f9a8b7c6d5e4f3a2b1c"},
		},
		{
			name:   "bearer opaque token",
			err:    &Error{Vendor: MemoryOS, Code: "UNAUTHORIZED", Kind: KindUnauthenticated, Message: "key Bearer abcdef0123456789xyz was revoked"},
			hasNot: []string{"abcdef0123456789xyz"},
		},
		{
			name:   "authorization header with an opaque bearer token",
			err:    &Error{Vendor: Generic, Code: "401", Kind: KindUnauthenticated, Message: "rejected Authorization: Bearer 0123456789abcdefXYZ"},
			want:   "memerr: http 401 unauthenticated: rejected Authorization: Bearer [redacted]",
			hasNot: []string{"0123456789abcdefXYZ"},
		},
		{
			name:   "memory os key",
			err:    &Error{Vendor: MemoryOS, Code: "UNAUTHORIZED", Kind: KindUnauthenticated, Message: "API key mos_live_a1b2c3d4e5f6g7h8 has expired"},
			hasNot: []string{"mos_live_a1b2c3d4e5f6g7h8"},
		},
		{
			name:   "URL credentials",
			err:    &Error{Vendor: Generic, Code: "502", Kind: KindUnavailable, Message: "proxy to https://admin:hunter2secret@api.example.com/v1 failed"},
			has:    []string{"api.example.com"},
			hasNot: []string{"hunter2secret", "admin:"},
		},
		{
			name:   "api_key query value",
			err:    &Error{Vendor: Generic, Code: "400", Kind: KindInvalidRequest, Message: "GET /v1/search?q=x&api_key=zz9988776655 rejected"},
			hasNot: []string{"zz9988776655"},
		},
		{
			name:   "token after a colon and a space",
			err:    &Error{Vendor: Coze, Code: "4100", Kind: KindUnauthenticated, Message: "invalid token: 8f7e6d5c4b3a2910"},
			hasNot: []string{"8f7e6d5c4b3a2910"},
		},
		{
			name:   "api key header echoed",
			err:    &Error{Vendor: Generic, Code: "401", Kind: KindUnauthenticated, Message: "bad X-Api-Key: 0a1b2c3d4e5f6a7b"},
			hasNot: []string{"0a1b2c3d4e5f6a7b"},
		},
		{
			name:    "very long message is shortened",
			err:     &Error{Vendor: MemOS, Code: "50000", Kind: KindInternal, Message: strings.Repeat("x", 10000)},
			has:     []string{"…"},
			maxRune: 300,
		},
		{
			name:   "invalid UTF-8",
			err:    &Error{Vendor: Coze, Code: "4000", Kind: KindInvalidRequest, Message: "bad \xff\xfe bytes"},
			has:    []string{"bad \uFFFD"},
			hasNot: []string{"\xff"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.err.Error()
			if tc.want != "" {
				assert.Equal(t, tc.want, s)
			}
			assertOneLine(t, s)
			for _, w := range tc.has {
				assert.Contains(t, s, w)
			}
			for _, w := range tc.hasNot {
				assert.NotContains(t, s, w)
			}
			max := tc.maxRune
			if max == 0 {
				max = 400
			}
			assert.LessOrEqual(t, len([]rune(s)), max)
		})
	}
}

// TestErrorStringOfParsed checks Error() of every seed error vector: one
// line naming vendor, code, kind, message and request id, without the body.
func TestErrorStringOfParsed(t *testing.T) {
	for _, tc := range seedVectors {
		if tc.want == nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			e := mustParse(t, Auto, tc.status, tc.header, tc.body)
			s := e.Error()
			assertOneLine(t, s)
			assert.Contains(t, s, string(e.Vendor))
			if e.Code != "" {
				assert.Contains(t, s, " "+e.Code+" ")
			} else {
				assert.Contains(t, s, fmt.Sprintf(" %d ", e.StatusCode))
			}
			assert.Contains(t, s, " "+e.Kind.String())
			assert.Contains(t, s, strings.TrimRight(e.Message, "."))
			if e.RequestID != "" {
				assert.Contains(t, s, "(request id "+e.RequestID)
			}
			assert.NotContains(t, s, `{"`, "no body dump")
			assert.NotContains(t, s, `":`, "no body dump")
			for k := range tc.header {
				assert.NotContains(t, s, k+":", "no header dump")
			}
		})
	}
}

func TestErrorStringScrubsParsedBody(t *testing.T) {
	body := `{"success":false,"error":{"code":"INVALID_API_KEY","message":"key sk-proj-AbCdEf0123456789 rejected; sent Authorization: Bearer th_live_0123456789abcdef","details":{"authorization":"Bearer th_live_0123456789abcdef"}}}`
	e := mustParse(t, Auto, 401, hdr("Authorization", "Bearer th_live_0123456789abcdef"), body)
	s := e.Error()
	assertOneLine(t, s)
	assert.NotContains(t, s, "sk-proj-AbCdEf0123456789")
	assert.NotContains(t, s, "th_live_0123456789abcdef")
	assert.NotContains(t, s, "details")
	assert.Contains(t, s, "memerr: tensorheart INVALID_API_KEY unauthenticated: key [redacted] rejected")
}

func assertOneLine(t *testing.T, s string) {
	t.Helper()
	assert.True(t, strings.HasPrefix(s, "memerr: "), "prefix: %q", s)
	assert.NotContains(t, s, "\n")
	assert.NotContains(t, s, "\r")
	assert.NotEqual(t, ".", s[len(s)-1:], "no final punctuation")
	assert.Equal(t, strings.TrimSpace(s), s)
}

func TestParseVendor(t *testing.T) {
	tests := []struct {
		in   string
		want Vendor
		ok   bool
	}{
		{"", Auto, true}, {"auto", Auto, true}, {"MemOS", MemOS, true}, {"memtensor", MemOS, true},
		{"Tensorheart", Tensorheart, true}, {"memory-os", MemoryOS, true}, {"Memory OS", MemoryOS, true},
		{"memories.ai", MemoriesAI, true}, {"memories_ai", MemoriesAI, true}, {"COZE", Coze, true},
		{"扣子", Coze, true}, {"http", Generic, true}, {"generic", Generic, true}, {"openai", Auto, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := ParseVendor(tc.in)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, v := range append(builtins, Generic) {
		got, ok := ParseVendor(v.String())
		assert.True(t, ok, v.String())
		assert.Equal(t, v, got, "String and ParseVendor round-trip")
	}
}

func TestRedactExported(t *testing.T) {
	got := Redact("invalid key sk-live-SECRET123456 for https://bob:hunter2@api.example.com, Authorization: Bearer abcdefSECRET")
	assert.NotContains(t, got, "SECRET")
	assert.NotContains(t, got, "hunter2")
	assert.Contains(t, got, "invalid key")
	assert.Equal(t, "access token invalid", Redact("access token invalid"))
}

// TestPrintableASCII compares printableASCII, which reads eight bytes at a
// time, with its definition read byte by byte: every byte value at every
// place of strings of 1 to 17 bytes filled with the edge values ' ', '~'
// and 'a', then random strings built mostly of the bytes around the edges.
func TestPrintableASCII(t *testing.T) {
	plain := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < ' ' || s[i] > '~' {
				return false
			}
		}
		return true
	}
	for _, fill := range []byte{' ', '~', 'a'} {
		for n := 1; n <= 17; n++ {
			for at := 0; at < n; at++ {
				for c := 0; c < 256; c++ {
					b := bytes.Repeat([]byte{fill}, n)
					b[at] = byte(c)
					require.Equal(t, plain(string(b)), printableASCII(string(b)), "%q", b)
				}
			}
		}
	}
	edges := []byte{0x00, 0x01, 0x1f, ' ', '!', '}', '~', 0x7f, 0x80, 0x9f, 0xa0, 0xdf, 0xe0, 0xfe, 0xff}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(4) == 0 {
				b[i] = byte(r.IntN(256))
			} else {
				b[i] = edges[r.IntN(len(edges))]
			}
			if r.IntN(3) > 0 && (b[i] < ' ' || b[i] > '~') {
				b[i] = ' ' + byte(r.IntN('~'-' '+1)) // mostly printable, so some strings are
			}
		}
		require.Equal(t, plain(string(b)), printableASCII(string(b)), "%q", b)
	}
	assert.True(t, printableASCII(""))
	assert.True(t, printableASCII(cozeLogID))
}

// TestCleanLineTrims checks the printable ASCII shortcut of cleanLine: it
// trims as strings.TrimSpace does and keeps the rest as it is.
func TestCleanLineTrims(t *testing.T) {
	for _, s := range []string{"", " ", "   ", "a", " a", "a ", "  a b  ", "req_7d1c9a", "  " + cozeLogID + " "} {
		assert.Equal(t, strings.TrimSpace(s), cleanLine(s, 128), "%q", s)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = " a~"[r.IntN(3)]
		}
		require.Equal(t, strings.TrimSpace(string(b)), cleanLine(string(b), 128), "%q", b)
	}
	assert.Equal(t, "a b", cleanLine(" a\t\nb ", 128), "control characters and white space runs become one space")
}
