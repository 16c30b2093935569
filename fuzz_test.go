package memerr

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzVendors are the hints a fuzz input may pick.
var fuzzVendors = []Vendor{Auto, MemOS, Tensorheart, MemoryOS, MemoriesAI, Coze, Generic}

// hostileBodies are inputs meant to break a hand-written scanner.
// maxFuzzSeed keeps the 100 KB hostile bodies out of the fuzz corpus: the
// fuzzer spends minutes minimising inputs grown from them. They run in
// TestHostileBodies instead.
const maxFuzzSeed = 4 << 10

func fuzzSeeds(bodies [][]byte) [][]byte {
	var out [][]byte
	for _, b := range bodies {
		if len(b) <= maxFuzzSeed {
			out = append(out, b)
		}
	}
	return out
}

func TestHostileBodies(t *testing.T) {
	for i, b := range hostileBodies() {
		for _, v := range fuzzVendors {
			for _, status := range []int{200, 429, 502} {
				if e, ok := Parse(v, status, nil, b).(*Error); ok {
					checkError(t, e)
				} else if status >= 400 {
					t.Fatalf("body %d, vendor %s, status %d: no *Error", i, v, status)
				}
			}
			if e, ok := ParseEvent(v, b).(*Error); ok {
				checkError(t, e)
			}
		}
	}
}

func hostileBodies() [][]byte {
	deep := strings.Repeat("[", 100000)
	return [][]byte{
		[]byte(deep),
		[]byte(`{"data":` + deep),
		[]byte(`{"data":` + deep + strings.Repeat("]", 100000) + `,"code":4009,"msg":"x"}`),
		[]byte(`{"error":{"details":` + strings.Repeat(`{"a":`, 50000) + `1` + strings.Repeat("}", 50000) + `,"code":"X"}}`),
		[]byte(strings.Repeat("{", 100000)),
		[]byte("{\"code\":4000,\"msg\":\"\xff\xfe\xfd\",\"detail\":{\"logid\":\"\xc3\x28\"}}"),
		[]byte("{\"code\":\"\xff\",\"message\":\"bad\"}"),
		[]byte(`{"code":` + strings.Repeat("9", 5000) + `,"msg":"huge"}`),
		[]byte(`{"code":1e999,"msg":"inf"}`),
		[]byte(`{"code":-1e-999,"msg":"tiny"}`),
		[]byte(`{"code":4009.0000000000001,"msg":"x"}`),
		[]byte(`{"code":0.0,"msg":"","data":{}}`),
		[]byte(`{"code":2e2,"msg":"success","data":{}}`),
		[]byte(`{"code":"4009`),
		[]byte(`{"code":4009,"msg":"unterminated`),
		[]byte(`{"code":4009,"msg":"\`),
		[]byte(`{"code":4009,"msg":"\\\\\"\\"}`),
		[]byte(`{"code":4009,"msg":"\ud800\udc00\u0000\uffff"}`),
		[]byte(`{"retry_after":1e308,"detail":"x"}`),
		[]byte(`{"retry_after":-0,"detail":"x"}`),
		[]byte(`{"retry_after":99999999999999999999999,"detail":"x"}`),
		[]byte(`{"success":tru,"error":{"code":"X"}}`),
		[]byte(`{"":{"":{"":[]}}}`),
		[]byte(`{"code":4009,"code":0}`),
		[]byte(`{"error":"plain string error"}`),
		[]byte(`{"detail":[{"loc":["body"],"msg":"field required","type":"value_error.missing"}]}`),
		[]byte("\x00\x00\x00"),
		[]byte("\ufeff{\"code\":4009}"),
		[]byte(`]`),
		[]byte(`}`),
		[]byte(`{"a":}`),
		[]byte(`{,}`),
		nil,
	}
}

func FuzzParse(f *testing.F) {
	for _, v := range seedVectors {
		f.Add(uint8(0), v.status, "", []byte(v.body))
		for i, fv := range fuzzVendors {
			if fv == v.vendor {
				f.Add(uint8(i), v.status, "", []byte(v.body))
			}
		}
	}
	for _, b := range fuzzSeeds(hostileBodies()) {
		f.Add(uint8(0), 200, "", b)
		f.Add(uint8(0), 500, "3", b)
	}
	f.Add(uint8(0), 429, "Fri, 31 Dec 9999 23:59:59 GMT", []byte(`{"detail":"x","retry_after":30}`))
	f.Add(uint8(5), 200, "99999999999", []byte(`{"code":4009,"msg":"busy"}`))
	for _, b := range verdictCases {
		f.Add(uint8(0), 200, "", []byte(b.body))
	}

	f.Fuzz(func(t *testing.T, vi uint8, status int, retryAfter string, body []byte) {
		v := fuzzVendors[int(vi)%len(fuzzVendors)]
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
			h.Set("X-RateLimit-Reset", retryAfter)
		}
		body = append([]byte(nil), body...) // the checks below overwrite it; the fuzzer keeps the input
		orig := append([]byte(nil), body...)
		err := Parse(v, status, h, body)
		if !bytes.Equal(orig, body) {
			t.Fatal("Parse modified the body")
		}
		checkShortcut(t, body)
		checkPermutations(t, status, body)
		if body := bytes.TrimSpace(body); len(body) > 0 && body[0] == '{' {
			var f fields
			if !scanFields(body, profiles.Load(), &f) && json.Valid(body) {
				t.Fatalf("the scanner rejects a valid JSON object: %q", body)
			}
		}
		if err == nil {
			if status >= 400 {
				t.Fatalf("status %d is a success", status)
			}
			return
		}
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("Parse returned %T, not *Error", err)
		}
		checkError(t, e)
		if e.StatusCode != status {
			t.Fatalf("StatusCode %d, want %d", e.StatusCode, status)
		}
		if p := lookupProfile(e.Vendor); p != nil && e.Code != "" && slices.Contains(p.SuccessCodes, e.Code) {
			t.Fatalf("an error carries its vendor's success code %q", e.Code)
		}
		// Parse keeps no reference to body.
		details := append([]byte(nil), e.Details...)
		msg := e.Message
		for i := range body {
			body[i] = 'Z'
		}
		if !bytes.Equal(details, e.Details) || msg != e.Message {
			t.Fatal("the Error shares memory with the body")
		}
	})
}

// checkError asserts what holds for every *Error memerr builds.
func checkError(t *testing.T, e *Error) {
	t.Helper()
	if e.Kind >= numKinds {
		t.Fatalf("invalid Kind %d", e.Kind)
	}
	if e.Vendor == Auto {
		t.Fatal("Vendor Auto in a result")
	}
	if e.RetryAfter < 0 || e.RetryAfter > MaxHint {
		t.Fatalf("RetryAfter %v out of [0, MaxHint]", e.RetryAfter)
	}
	s := e.Error()
	if !strings.HasPrefix(s, "memerr: ") || strings.ContainsAny(s, "\r\n") {
		t.Fatalf("Error() is not one memerr line: %q", s)
	}
	if !utf8.ValidString(s) {
		t.Fatalf("Error() is not valid UTF-8: %q", s)
	}
	if e.Retryable() != e.Kind.Retryable() {
		t.Fatal("Retryable disagrees with Kind")
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{
		"", "0", "120", " 120 ", "1.5", "-5", "+5", "NaN", "Inf", "+Inf", "-Inf", "1e3", "0x10", "5s",
		"99999999999", "100000000000000000000", "1704067260", "1704067260000", "1704067260000000",
		"Mon, 01 Jan 2024 00:01:30 GMT", "Monday, 01-Jan-24 00:01:30 GMT", "Mon Jan  1 00:01:30 2024",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Sat, 01 Jan 1600 00:00:00 GMT", ".", "..", "1.", ".5", "\x00",
	} {
		f.Add(s, s, s, "Mon, 01 Jan 2024 00:00:00 GMT", int64(1704067200))
		f.Add("", s, "", "", int64(1704067200))
		f.Add("", "", s, s, int64(-62135596800))
	}
	f.Add("", "", "1704067260", "Fri, 31 Dec 9999 23:59:59 GMT", int64(253402300799))

	f.Fuzz(func(t *testing.T, ms, ra, reset, date string, nowUnix int64) {
		h := http.Header{}
		for k, v := range map[string]string{"Retry-After-Ms": ms, "Retry-After": ra, "X-Ratelimit-Reset": reset, "Date": date} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		now := time.Unix(nowUnix%(1<<40), 0)
		d, ok := ParseRetryAfter(h, now)
		if d < 0 || d > MaxHint {
			t.Fatalf("hint %v out of [0, MaxHint] for %q", d, h)
		}
		if !ok && d != 0 {
			t.Fatalf("no hint but %v", d)
		}
		if len(h) == 0 && ok {
			t.Fatal("a hint from no headers")
		}
		// The hint is measured against Date when Date is valid: the local
		// clock then does not matter.
		if _, err := http.ParseTime(strings.TrimSpace(date)); err == nil {
			d2, ok2 := ParseRetryAfter(h, now.Add(-37*time.Hour))
			if d2 != d || ok2 != ok {
				t.Fatalf("with a valid Date the local clock changed the hint: %v/%v vs %v/%v", d, ok, d2, ok2)
			}
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"code":4009,"msg":"busy"}`, `data: {"code":4000,"msg":"请求参数错误"}`, `data:{"error_code":4000,"error_message":"x"}`,
		`{"code":0,"msg":""}`, `{"error_code":0}`, "not json", "data:", "data: data: {}", "", `{"retry_after":1e999,"code":1}`,
	} {
		f.Add(uint8(0), []byte(s))
	}
	for _, b := range fuzzSeeds(hostileBodies()) {
		f.Add(uint8(5), b)
	}
	events := []string{"", "error", "Error", "conversation.chat.failed", "conversation.message.delta", "done"}
	f.Fuzz(func(t *testing.T, vi uint8, data []byte) {
		v := fuzzVendors[int(vi)%len(fuzzVendors)]
		check := func(err error) {
			if err == nil {
				return
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("ParseEvent returned %T, not *Error", err)
			}
			checkError(t, e)
		}
		check(ParseEvent(v, data))
		event := events[int(vi/8)%len(events)]
		err := ParseStreamEvent(v, http.Header{"X-Tt-Logid": {"L1"}}, event, data)
		check(err)
		if (event == "error" || event == "Error") && (v == Coze || v == Auto) && err == nil && string(bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(data), []byte("data:")))) != "[DONE]" {
			t.Fatalf("an error event with %q is not an error", data)
		}
	})
}
