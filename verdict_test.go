package memerr

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// verdictCases are 2xx bodies and what Parse decides for them under Auto
// (success true) and, where it differs, under a named vendor.
var verdictCases = []struct {
	body  string
	ok    bool            // success under Auto
	named map[Vendor]bool // success under these vendors, where it differs
}{
	{`{}`, true, nil},
	{` { } `, true, nil},
	{string(benchBody), true, map[Vendor]bool{MemoriesAI: false}},
	{`{"code":0,"msg":"","data":{"id":"1"}}`, true, map[Vendor]bool{MemoriesAI: false}},
	{`{"code":"0","msg":"","data":null}`, true, map[Vendor]bool{MemoriesAI: false}},
	{`{"code":200,"message":"ok","data":{"memories":[{"id":"m1","text":"a \"quoted\" \\ word"}]}}`, true, map[Vendor]bool{Coze: false}},
	{`{"code":"0000","msg":"success","data":{"videos":[]}}`, true, map[Vendor]bool{Coze: false, MemOS: false}},
	{`{"success":true,"data":{"id":"x"},"error":null}`, true, nil},
	{`{"data":[1,2,{"a":[]}],"meta":{"request_id":"r1"}}`, true, nil},
	{`{"code":0,"data":{"error":{"code":4009}},"detail":{"logid":"L1"}}`, true, map[Vendor]bool{MemoriesAI: false}}, // nested "error" is payload
	{`{"event":"done","error_code":0}`, true, nil},
	{"{\n\t\"code\" : 0 ,\r\n \"msg\":\"\"\n}\n", true, map[Vendor]bool{MemoriesAI: false}},
	{`{"failed":false,"code":"0000"}`, true, map[Vendor]bool{Coze: false, MemOS: false}},
	{`{"detail":"not found"}`, true, nil}, // a FastAPI string detail is not a verdict inside a 2xx
	{`{"code":4009,"msg":"busy"}`, false, nil},
	{`{"code":2}`, false, nil},
	{`{"code":0.0}`, true, map[Vendor]bool{MemoriesAI: false}},
	{`{"code":"4009"}`, false, nil},
	{`{"code":null}`, true, nil},
	// The order of the members never matters.
	{`{"code":0,"success":false}`, true, map[Vendor]bool{Tensorheart: false, MemoriesAI: false}},
	{`{"success":false,"code":0}`, true, map[Vendor]bool{Tensorheart: false, MemoriesAI: false}},
	{`{"msg":"boom","code":0,"error":{"code":"x","message":"y"}}`, true, map[Vendor]bool{MemoryOS: false, Tensorheart: false, MemoriesAI: false}},
	{`{"error":{"code":"x","message":"y"},"msg":"boom","code":0}`, true, map[Vendor]bool{MemoryOS: false, Tensorheart: false, MemoriesAI: false}},
	{`{"success":false,"error":{"code":"rate_limited"}}`, false, nil},
	// A vendor named for a body it does not describe leaves it to
	// detection.
	{`{"error":"boom"}`, false, nil},
	{`{"failed":true}`, false, nil},
	{`{"error_code":4000,"error_message":"x"}`, false, nil},
	// Coze: a body that is only an error_message (coze-py treats it as a
	// failure: tests/test_request.py), and OAuth errors at HTTP 200.
	{`{"error_message":"error_message"}`, false, nil},
	{`{"error_code":"slow_down"}`, false, nil},
	// Coze: a retrieved chat that failed, inside a success envelope.
	{`{"code":0,"msg":"","data":{"id":"7390342853760696354","status":"failed","last_error":{"code":5000,"msg":"event interval error"}}}`, false,
		map[Vendor]bool{MemOS: true}},
	{`{"code":0,"msg":"","data":{"id":"1","status":"completed","last_error":{"code":0,"msg":""}}}`, true, map[Vendor]bool{MemoriesAI: false}},
	// Malformed JSON is not an envelope: below 400 a success.
	{`{"success":tru,"error":{"code":"X"}}`, true, nil},
	{`{"code":4009,"data":nul}`, true, nil},
	{`{"code":0`, true, nil},
	{`[{"code":4009}]`, true, nil},
	{`<html>502</html>`, true, nil},
	{``, true, nil},
	// A member the envelopes read, written twice, is ambiguous: not an
	// envelope.
	{`{"code":0,"code":4009}`, true, nil},
	{`{"code":4009,"code":0}`, true, nil},
	// A BOM before JSON is ignored.
	{"\ufeff{\"code\":4009,\"msg\":\"busy\"}", false, nil},
}

func TestVerdicts(t *testing.T) {
	h := http.Header{}
	for _, c := range verdictCases {
		for _, v := range append([]Vendor{Auto}, builtins...) {
			want := c.ok
			if w, ok := c.named[v]; ok {
				want = w
			}
			err := Parse(v, 200, h, []byte(c.body))
			assert.Equal(t, want, err == nil, "Parse(%s, 200, %q) = %v", v, c.body, err)
		}
		checkShortcut(t, []byte(c.body))
		checkPermutations(t, 200, []byte(c.body))
		checkPermutations(t, 429, []byte(c.body))
	}
}

// checkShortcut asserts that the success shortcut of every profile with an
// Authority only ever confirms what the full decode of the call says (of
// the whole body too, for a profile without Resource shapes: the only
// one that takes the shortcut there).
func checkShortcut(t *testing.T, body []byte) {
	t.Helper()
	for _, p := range profiles.Load().list {
		if authoritySuccess(p, body) {
			var f fields
			if set := profiles.Load(); scanFields(body, set, &f) && !f.dup && p.failing(&f, true, &codeFacts{set: set, id: -1}) != nil {
				t.Fatalf("the shortcut of %s calls %q a success; the full decode does not", p.Vendor, body)
			}
		}
	}
}

// checkPermutations asserts that reordering the members of every object
// in body never changes Parse's verdict, vendor, kind or code.
func checkPermutations(t *testing.T, status int, body []byte) {
	t.Helper()
	if !json.Valid(body) {
		return
	}
	for _, v := range append([]Vendor{Auto}, builtins...) {
		base := Parse(v, status, nil, body)
		for _, order := range []func(n int) []int{reversed, rotated} {
			other, ok := reorder(body, order)
			if !ok {
				return
			}
			got := Parse(v, status, nil, other)
			if (base == nil) != (got == nil) {
				t.Fatalf("%s: %q gives %v, reordered %q gives %v", v, body, base, other, got)
			}
			if base == nil {
				continue
			}
			a, b := base.(*Error), got.(*Error)
			if a.Vendor != b.Vendor || a.Kind != b.Kind || a.Code != b.Code {
				t.Fatalf("%s: %q gives %s/%s/%s, reordered %q gives %s/%s/%s",
					v, body, a.Vendor, a.Kind, a.Code, other, b.Vendor, b.Kind, b.Code)
			}
		}
	}
}

func reversed(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = n - 1 - i
	}
	return out
}

func rotated(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = (i + 1) % n
	}
	return out
}

// reorder rewrites a JSON value with the members of every object in the
// order order gives; it reports false for input encoding/json rejects.
func reorder(body []byte, order func(n int) []int) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out bytes.Buffer
	if !reorderValue(dec, &out, order) {
		return nil, false
	}
	return out.Bytes(), true
}

func reorderValue(dec *json.Decoder, out *bytes.Buffer, order func(n int) []int) bool {
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	switch d := tok.(type) {
	case json.Delim:
		switch d {
		case '{':
			var keys []string
			var vals [][]byte
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				var vb bytes.Buffer
				if !reorderValue(dec, &vb, order) {
					return false
				}
				keys = append(keys, k.(string))
				vals = append(vals, vb.Bytes())
			}
			if _, err := dec.Token(); err != nil {
				return false
			}
			out.WriteByte('{')
			for i, j := range order(len(keys)) {
				if i > 0 {
					out.WriteByte(',')
				}
				kb, _ := json.Marshal(keys[j])
				out.Write(kb)
				out.WriteByte(':')
				out.Write(vals[j])
			}
			out.WriteByte('}')
		case '[':
			out.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					out.WriteByte(',')
				}
				if !reorderValue(dec, out, order) {
					return false
				}
			}
			if _, err := dec.Token(); err != nil {
				return false
			}
			out.WriteByte(']')
		}
	default:
		b, err := json.Marshal(tok)
		if err != nil {
			return false
		}
		out.Write(b)
	}
	return true
}

// builtins are the five vendors memerr ships; tests register more.
var builtins = []Vendor{MemOS, Tensorheart, MemoryOS, MemoriesAI, Coze}
