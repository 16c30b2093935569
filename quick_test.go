package memerr

import (
	"testing"
)

// plainSuccessCases are 2xx bodies with what the success shortcut answers:
// true only for bodies the full scan also finds no error in; false hands
// the body to the full scan.
var plainSuccessCases = []struct {
	body  string
	want  bool // with Auto, or a vendor other than MemOS and Coze
	named bool // with MemOS or Coze, which give their verdict in "code"
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
	{`{"code":0x}`, false, true},
	{`{"code":0.0}`, false, false}, // a success, but for the full scan to say
	{`{"code":"4009"}`, false, false},
	{`{"code":-0}`, false, false},
	{`{"code":null}`, false, false},
	{`{"code":"0\u0030"}`, false, false},
	{`{"code":0,"code":4009}`, false, true},
	{`{"code":4009,"code":0}`, false, false},
	{`{"success":false,"error":{"code":"rate_limited"}}`, false, false},
	{`{"error":"boom"}`, false, false},
	{`{"error":{}}`, false, false},
	{`{"failed":true}`, false, false},
	{`{"code":0,"detail":{"code":"x","message":"y"}}`, false, true},
	{`{"detail":{"logid":"L","msg":"busy"}}`, false, false},
	{`{"error_code":4000,"error_message":"x"}`, false, false},
	{`{"error_code":200}`, false, false},
	{`{"c\"ode":0}`, false, false},
	{`{"code":0`, false, true},
	{`{"code":0}x`, false, true},
	{`{"code":0,}`, false, true},
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
			var env envelope
			if scanEnvelope([]byte(c.body), &env) && env.failure() {
				t.Errorf("plainSuccess(%q): the full scan finds an error", c.body)
			}
			if err := Parse(Auto, 200, nil, []byte(c.body)); err != nil {
				t.Errorf("Parse(%q) = %v, want a success", c.body, err)
			}
		}
	}
}

// TestPlainSuccessAgrees runs every seed vector through the shortcut: a
// vector that decodes to an error on a 2xx status must never be taken for a
// success.
func TestPlainSuccessAgrees(t *testing.T) {
	for _, v := range seedVectors {
		var env envelope
		failing := scanEnvelope([]byte(v.body), &env) && env.failure()
		if failing && plainSuccess([]byte(v.body), v.vendor) {
			t.Errorf("%s: the shortcut takes an error body for a success: %s", v.name, v.body)
		}
	}
}
