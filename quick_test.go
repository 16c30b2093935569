package memerr

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// plainSuccessCases are 2xx bodies with what the success shortcut answers:
// true only for bodies the full scan also finds no error in; false hands
// the body to the full scan.
var plainSuccessCases = []struct {
	body  string
	want  bool // with Auto, or a vendor other than MemOS and Coze
	named bool // with MemOS or Coze, whose "code" decides wherever it stands
}{
	{`{}`, true, true},
	{` { } `, true, true},
	{string(benchBody), true, true},
	{`{"code":0,"msg":"","data":{"id":"1"}}`, true, true},
	{`{"code":"0","msg":"","data":null}`, true, true},
	{`{"code":200,"message":"ok","data":{"memories":[{"id":"m1","text":"a \"quoted\" \\ word"}]}}`, true, true},
	{`{"code":"0000","msg":"success","data":{"videos":[]}}`, true, true},
	{`{"success":true,"data":{"id":"x"},"error":null}`, true, true},
	{`{"data":[1,2,{"a":[]}],"meta":{"request_id":"r1"}}`, true, true},
	{`{"code":0,"data":{"error":{"code":4009}},"detail":{"logid":"L1"}}`, true, true}, // nested "error" is payload
	{`{"event":"done","error_code":0}`, true, true},
	{"{\n\t\"code\" : 0 ,\r\n \"msg\":\"\"\n}\n", true, true},
	{`{"failed":false,"code":"0000"}`, true, true},
	{`{"detail":"not found"}`, true, true}, // a FastAPI string detail is not a verdict on its own

	{`{"code":200,"message":"ok"}`, true, true},
	{`{"code":200}`, true, true},
	{`{"code":0}`, true, true},
	{`{"code":4009,"msg":"busy"}`, false, false},
	{`{"code":2}`, false, false},
	{`{"code":20}`, false, false},
	{`{"code":2000}`, false, false},
	{`{"code":00,"msg":""}`, false, false},
	{`{"code":0x}`, true, true},
	{`{"code":0.0}`, false, false}, // a success, but for the full scan to say
	{`{"code":"4009"}`, false, false},
	{`{"code":-0}`, false, false},
	{`{"code":null}`, false, false},
	{`{"code":"0\u0030"}`, false, false},
	{`{"code":0,"code":4009}`, true, true},
	{`{"code":4009,"code":0}`, false, false},
	{`{"msg":"","code":0,"error":{"code":"x"}}`, false, true}, // not first: the rest is read
	{`{"data":{},"code":200,"detail":{"msg":"busy"}}`, false, true},
	{`{"success":false,"code":0}`, false, false},
	{`{"success":false,"error":{"code":"rate_limited"}}`, false, false},
	{`{"error":"boom"}`, false, false},
	{`{"error":{}}`, false, false},
	{`{"failed":true}`, false, false},
	{`{"code":0,"detail":{"code":"x","message":"y"}}`, true, true},
	{`{"detail":{"logid":"L","msg":"busy"}}`, false, false},
	{`{"error_code":4000,"error_message":"x"}`, false, false},
	{`{"error_code":200}`, false, false},
	{`{"c\"ode":0}`, false, false},
	{`{"code":0`, true, true},
	{`{"code":0}x`, true, true},
	{`{"code":0,}`, true, true},
	{`[{"code":0}]`, false, false},
	{`<html>502</html>`, false, false},
	{``, false, false},
	{`{"data":"unterminated}`, false, false},
	{`{"data":{"a":"\"}"}`, false, false},
}

func TestPlainSuccess(t *testing.T) {
	for _, c := range plainSuccessCases {
		for _, v := range []Vendor{Coze, MemOS} {
			if got := plainSuccess([]byte(c.body), v); got != c.named {
				t.Errorf("plainSuccess(%q, %v) = %v, want %v", c.body, v, got, c.named)
			}
		}
		if got := plainSuccess([]byte(c.body), Tensorheart); got != c.want {
			t.Errorf("plainSuccess(%q, Tensorheart) = %v, want %v", c.body, got, c.want)
		}
		got := plainSuccess([]byte(c.body), Auto)
		if got != c.want {
			t.Errorf("plainSuccess(%q, Auto) = %v, want %v", c.body, got, c.want)
		}
		if got {
			checkShortcut(t, []byte(c.body))
			if err := Parse(Auto, 200, nil, []byte(c.body)); err != nil {
				t.Errorf("Parse(%q) = %v, want a success", c.body, err)
			}
		}
	}
}

// opensWithSuccessCode is the rule that lets the shortcut stop at the
// first member, written as a pattern rather than as the shortcut's code.
var opensWithSuccessCode = regexp.MustCompile(`^[ \t\r\n]*\{[ \t\r\n]*"code"[ \t\r\n]*:[ \t\r\n]*("(0|200|0000)"|(0|200|0000)([^0-9.eE+-]|$))`)

// checkShortcut fails when the shortcut (for Auto) took body for a success
// that neither the full scan nor the opening success code makes one.
func checkShortcut(t *testing.T, body []byte) {
	t.Helper()
	var env envelope
	if scanEnvelope(body, &env) && env.failure() && !opensWithSuccessCode.Match(body) {
		t.Errorf("the shortcut calls %q a success; the full scan finds an error and it does not open with a success code", body)
	}
}

// TestPlainSuccessAgrees runs every seed vector through the shortcut: a
// vector that decodes to an error on a 2xx status must never be taken for a
// success.
func TestPlainSuccessAgrees(t *testing.T) {
	for _, v := range seedVectors {
		var env envelope
		failing := scanEnvelope([]byte(v.body), &env) && env.failure()
		if failing && (plainSuccess([]byte(v.body), v.vendor) || plainSuccess([]byte(v.body), Auto)) {
			t.Errorf("%s: the shortcut takes an error body for a success: %s", v.name, v.body)
		}
	}
}

// TestSkipNested checks the value skipper on escapes, nesting and
// unclosed values.
func TestSkipNested(t *testing.T) {
	for _, c := range []struct {
		in  string
		end int // index just after the value; -1 when it is not closed
	}{
		{`{}`, 2},
		{`[]x`, 2},
		{`{"a":"}"}`, 9},
		{`{"a":"\"}"},`, 11},
		{`{"a":"\\"}`, 10},
		{`{"a":"\\\"}"}`, 13},
		{`[[[{"k":[1,2,{"z":"]]]"}]}]]]`, 29},
		{`{"long":"` + strings.Repeat("x\\\"", 20) + `"}`, 71},
		{`{"a":[}`, -1},
		{`{"a":"}`, -1},
		{`{"a":"\`, -1},
		{`[`, -1},
	} {
		end, ok := skipNested([]byte(c.in), 0)
		if c.end < 0 {
			assert.False(t, ok, c.in)
			continue
		}
		assert.True(t, ok, c.in)
		assert.Equal(t, c.end, end, c.in)
		assert.True(t, json.Valid([]byte(c.in[:end])), c.in[:end])
	}
}

// TestParseEventAgreesWithParse: on a well-formed JSON object, an event's
// data and a 2xx body get the same verdict.
func TestParseEventAgreesWithParse(t *testing.T) {
	bodies := []string{`{"code":0,"error_code":4000,"error_message":"x"}`, `{"error_code":4000,"error_message":"x"}`, `{"event":"done","error_code":0}`}
	for _, c := range plainSuccessCases {
		bodies = append(bodies, c.body)
	}
	for _, b := range bodies {
		if !json.Valid([]byte(b)) || !strings.HasPrefix(strings.TrimSpace(b), "{") {
			continue
		}
		for _, v := range []Vendor{Auto, Coze, MemOS, Tensorheart} {
			parsed := Parse(v, 200, nil, []byte(b)) == nil
			event := ParseEvent(v, []byte("data: "+b)) == nil
			assert.Equal(t, parsed, event, "%v %s", v, b)
		}
	}
}
