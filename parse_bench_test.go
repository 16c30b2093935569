package memerr

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// unionEnvelope is the baseline: every field of every vendor's envelope, as
// one would declare it for encoding/json. Values that change type between
// vendors (code, detail) are RawMessage, the cheapest encoding/json offers.
type unionEnvelope struct {
	Code    json.RawMessage `json:"code"`
	Msg     string          `json:"msg"`
	Message string          `json:"message"`
	Success *bool           `json:"success"`
	Failed  *bool           `json:"failed"`
	Data    json.RawMessage `json:"data"`
	Error   *struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
		Details json.RawMessage `json:"details"`
	} `json:"error"`
	Detail json.RawMessage `json:"detail"`
	Meta   *struct {
		RequestID string `json:"request_id"`
	} `json:"meta"`
	RequestID    string          `json:"request_id"`
	RetryAfter   json.RawMessage `json:"retry_after"`
	ErrorCode    json.RawMessage `json:"error_code"`
	ErrorMessage string          `json:"error_message"`
}

var (
	benchErr  error
	benchMsg  string
	benchBool bool
	benchEnv  unionEnvelope
	benchMap  map[string]any
)

// benchErrorBodies are one typical error response per vendor, with the
// headers the vendor sends.
var benchErrorBodies = []struct {
	vendor Vendor
	status int
	header http.Header
	body   string
}{
	{MemOS, 200, hdr("Content-Type", "application/json", "Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
		`{"code":40300,"message":"Rate limit exceeded","data":null}`},
	{Tensorheart, 400, hdr("Content-Type", "application/json", "Date", "Mon, 01 Jan 2024 00:00:00 GMT", "X-Request-ID", "req_7d1c9a"),
		`{"success":false,"error":{"code":"VALIDATION_ERROR","message":"Invalid request data","details":{"field":"text","errors":[{"field":"text","message":"field required"}]}}}`},
	{MemoryOS, 429, hdr("Content-Type", "application/json", "Date", "Mon, 01 Jan 2024 00:00:00 GMT", "X-RateLimit-Reset", "1704067260"),
		`{"error":{"code":"RATE_LIMITED","message":"Rate limit exceeded"},"meta":{"request_id":"req_abc123"}}`},
	{MemoriesAI, 429, hdr("Content-Type", "application/json", "Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
		`{"code":429,"msg":"Rate limit exceeded","data":null}`},
	{Coze, 200, hdr("Content-Type", "application/json", "Date", "Mon, 01 Jan 2024 00:00:00 GMT", "X-Tt-Logid", cozeLogID),
		`{"code":4009,"msg":"已达系统请求上限，请稍后重试","detail":{"logid":"` + cozeLogID + `"}}`},
}

// BenchmarkParse compares Parse of each vendor's error body with decoding the
// same bytes with encoding/json into the union struct and into a map.
func BenchmarkParse(b *testing.B) {
	for _, tc := range benchErrorBodies {
		body := []byte(tc.body)
		if Parse(Auto, tc.status, tc.header, body) == nil {
			b.Fatalf("%s: not an error", tc.vendor)
		}
		b.Run(string(tc.vendor)+"/memerr", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for i := 0; i < b.N; i++ {
				benchErr = Parse(Auto, tc.status, tc.header, body)
			}
		})
		b.Run(string(tc.vendor)+"/json-struct", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for i := 0; i < b.N; i++ {
				var u unionEnvelope
				if err := json.Unmarshal(body, &u); err != nil {
					b.Fatal(err)
				}
				benchEnv = u
			}
		})
		b.Run(string(tc.vendor)+"/json-map", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for i := 0; i < b.N; i++ {
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil {
					b.Fatal(err)
				}
				benchMap = m
			}
		})
	}
}

// BenchmarkParseAndError is Parse of each vendor's error body followed by
// one call of the error's Error, as a caller that logs the error pays:
// memerr scrubs credentials from every field while it decodes, where
// before vendor profiles (c835640) it redacted the message in Error, at
// every call.
func BenchmarkParseAndError(b *testing.B) {
	for _, tc := range benchErrorBodies {
		body := []byte(tc.body)
		b.Run(string(tc.vendor), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				benchErr = Parse(Auto, tc.status, tc.header, body)
				benchMsg = benchErr.Error()
			}
		})
	}
}

// successBody builds a 2xx body of about size bytes around a realistic data
// payload: head opens the envelope, tail closes it.
func successBody(head, tail string, size int) []byte {
	var sb strings.Builder
	sb.WriteString(head)
	sb.WriteString(`{"items":[`)
	for i := 0; sb.Len() < size-200; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"mem_%06d","user_id":"u-42","score":0.%04d,"tags":["pref","food"],`+
			`"content":"The user prefers green tea in the morning and \"oolong\" after lunch; 用户喜欢绿茶。",`+
			`"created_at":1704067%03d,"metadata":{"source":"chat","turn":%d,"pinned":false,"ref":null}}`, i, 7000+i, i, i)
	}
	sb.WriteString(`],"has_more":false,"next_cursor":null}`)
	sb.WriteString(tail)
	return []byte(sb.String())
}

var benchSuccessBodies = []struct {
	name   string
	vendor Vendor
	body   []byte
}{
	{"coze", Coze, successBody(`{"code":0,"msg":"","data":`, `,"detail":{"logid":"`+cozeLogID+`"}}`, 4096)},
	{"memos", MemOS, successBody(`{"code":0,"message":"ok","data":`, `}`, 4096)},
	{"memos-code-last", MemOS, successBody(`{"message":"ok","data":`, `,"code":200}`, 4096)},
	{"tensorheart", Tensorheart, successBody(`{"success":true,"data":`, `,"meta":{"request_id":"req_01HV6ZK3"}}`, 4096)},
	{"memoryos", MemoryOS, successBody(`{"data":`, `,"meta":{"request_id":"req_01HV6ZK3"}}`, 4096)},
	// Just under PeekLimit, the largest 2xx body read ahead.
	{"memos-16k", MemOS, successBody(`{"code":0,"message":"ok","data":`, `}`, PeekLimit-100)},
	{"memos-code-last-16k", MemOS, successBody(`{"message":"ok","data":`, `,"code":200}`, PeekLimit-100)},
	{"tensorheart-16k", Tensorheart, successBody(`{"success":true,"data":`, `,"meta":{"request_id":"req_01HV6ZK3"}}`, PeekLimit-100)},
	{"coze-16k", Coze, successBody(`{"code":0,"msg":"","data":`, `,"detail":{"logid":"`+cozeLogID+`"}}`, PeekLimit-100)},
}

// BenchmarkSuccessCheck measures telling that a 2xx body is a success,
// under Auto and under its vendor's name, against encoding/json decoding
// the same body into the union struct. Under Auto the whole body is read
// (the vendor must be detected first); named, a vendor whose profile has an
// Authority member (MemOS's and memories.ai's code, Tensorheart's success)
// confirms the success from the body's first or last member. Coze bodies
// are read whole either way: a failed chat hides in "data".
func BenchmarkSuccessCheck(b *testing.B) {
	h := hdr("Content-Type", "application/json", "Date", "Mon, 01 Jan 2024 00:00:00 GMT")
	for _, tc := range benchSuccessBodies {
		body := tc.body
		if !json.Valid(body) {
			b.Fatalf("%s: bad fixture", tc.name)
		}
		for _, v := range []Vendor{Auto, tc.vendor} {
			if Parse(v, 200, h, body) != nil {
				b.Fatalf("%s: not a success under %s", tc.name, v)
			}
			b.Run(tc.name+"/memerr-"+v.String(), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(body)))
				for i := 0; i < b.N; i++ {
					benchErr = Parse(v, 200, h, body)
				}
			})
		}
		b.Run(tc.name+"/json-struct", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for i := 0; i < b.N; i++ {
				var u unionEnvelope
				if err := json.Unmarshal(body, &u); err != nil {
					b.Fatal(err)
				}
				benchBool = u.Error == nil && (string(u.Code) == "0" || string(u.Code) == "200")
			}
		})
	}
}
