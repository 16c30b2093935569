package memerr

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keepProfiles puts the registered profiles back as they were when t
// ends, so that a test that registers a vendor can run again (-count) and
// leaves the registry to the tests after it as it found it.
func keepProfiles(t *testing.T) {
	before := profiles.Load()
	t.Cleanup(func() {
		profilesMu.Lock()
		defer profilesMu.Unlock()
		profiles.Store(before)
	})
}

// testProfile is a valid profile of a made-up vendor named name. It has
// no detection signal: several such profiles may be registered at once,
// and a signal must be one vendor's own.
func testProfile(name string) Profile {
	return Profile{
		Vendor:    Vendor(name),
		Envelopes: []Envelope{{Success: "ok", Code: "err.kind", Message: []string{"err.text"}, RequestID: []string{"trace"}}},
		Authority: "ok",
		Codes: []CodeInfo{
			{Code: Code{Value: "SLOW_DOWN"}, Kind: KindRateLimited, Status: 429, Meaning: "slow down"},
			{Code: Code{Value: "GONE"}, Kind: KindNotFound, Status: 404, Meaning: "gone"},
		},
	}
}

func TestRegisterRefusesMalformedProfiles(t *testing.T) {
	mutate := func(f func(p *Profile)) Profile {
		p := testProfile("refused")
		f(&p)
		return p
	}
	tests := []struct {
		name string
		p    Profile
		want string
	}{
		{"no name", mutate(func(p *Profile) { p.Vendor = "" }), "a vendor name is required"},
		{"auto", mutate(func(p *Profile) { p.Vendor = "auto" }), "reserved"},
		{"upper case", mutate(func(p *Profile) { p.Vendor = "Refused" }), "lowercase"},
		{"a control character", mutate(func(p *Profile) { p.Vendor = "refused\rvendor" }), "printable"},
		{"an escape sequence", mutate(func(p *Profile) { p.Vendor = "refused\x1b[2mvendor" }), "printable"},
		{"a no-break space", mutate(func(p *Profile) { p.Vendor = "refused\u00a0vendor" }), "printable"},
		{"a built-in's name", mutate(func(p *Profile) { p.Vendor = Coze }), "registered already"},
		{"generic", mutate(func(p *Profile) { p.Vendor = Generic }), "registered already"},
		{"a built-in's other name", mutate(func(p *Profile) { p.Names = []string{"MemTensor"} }), `"memtensor" is taken by "memos"`},
		// The header's value would become RequestID, which Error() prints.
		{"a cookie as request id", mutate(func(p *Profile) { p.RequestIDHeaders = []string{"Set-Cookie"} }), "carries a credential"},
		{"a key as request id", mutate(func(p *Profile) { p.RequestIDHeaders = []string{"X-Api-Key"} }), "carries a credential"},
		{"a token as detection header", mutate(func(p *Profile) { p.Detect.Headers = []string{"X-Session-Token"} }), "carries a credential"},
		{"no envelope", mutate(func(p *Profile) { p.Envelopes = nil }), "no envelope"},
		{"an empty envelope", mutate(func(p *Profile) { p.Envelopes = []Envelope{{Details: "d"}} }), "reads no code"},
		{"a malformed path", mutate(func(p *Profile) { p.Envelopes[0].Code = "err..kind" }), "malformed member path"},
		{"a malformed null member", mutate(func(p *Profile) { p.Envelopes[0].Null = "data..x" }), "malformed member path"},
		{"Is without When", mutate(func(p *Profile) { p.Envelopes[0].Is = []string{"x"} }), "Is without When"},
		{"a nested Authority", mutate(func(p *Profile) { p.Authority = "a.b" }), "top-level member"},
		{"another vendor's code", mutate(func(p *Profile) { p.Codes[0].Code.Vendor = Coze }), `belongs to vendor "coze"`},
		{"a code twice", mutate(func(p *Profile) { p.Codes[1].Code.Value = "SLOW_DOWN" }), "listed twice"},
		{"a code without Kind", mutate(func(p *Profile) { p.Codes[0].Kind = KindUnknown }), "has no Kind"},
		{"a code in a missing envelope", mutate(func(p *Profile) { p.Codes[0].Envelope = 1 }), "envelope 1 does not exist"},
		{"a code in an envelope without code", mutate(func(p *Profile) {
			p.Envelopes = append(p.Envelopes, Envelope{Message: []string{"text"}})
			p.Codes[0].Envelope = 1
		}), "has no Code member"},
		{"a code in a first envelope without code", mutate(func(p *Profile) {
			p.Envelopes = []Envelope{{Failed: "failed", Message: []string{"text"}}, p.Envelopes[0]}
		}), "envelope 0 does not exist or has no Code member"},
		{"a success code in the table", mutate(func(p *Profile) { p.SuccessCodes = []string{"GONE"} }), "also a success code"},
		{"an empty request id header", mutate(func(p *Profile) { p.RequestIDHeaders = []string{""} }), "header name"},
		{"a request id header with a colon", mutate(func(p *Profile) { p.RequestIDHeaders = []string{"X-Trace:"} }), "header name"},
		{"a detection header with a space", mutate(func(p *Profile) { p.Detect.Headers = []string{"X Trace"} }), "header name"},
		{"a detection header every gateway sends", mutate(func(p *Profile) { p.Detect.Headers = []string{"x-request-id"} }), "detection header"},
		{"another vendor's detection header", mutate(func(p *Profile) { p.Detect.Headers = []string{"X-Tt-Logid"} }), `detection header "X-Tt-Logid" is named by "coze"`},
		{"another vendor's request id header", mutate(func(p *Profile) { p.Detect.Headers = []string{"X-Log-Id"} }), `named by "coze"`},
		{"a detection member a built-in reads", mutate(func(p *Profile) { p.Detect.Members = []string{"code"} }), `detection member "code" is read by "memos"`},
		{"a detection member holding one a built-in reads", mutate(func(p *Profile) { p.Detect.Members = []string{"error"} }), `detection member "error" is read by "tensorheart"`},
		{"an empty code range", mutate(func(p *Profile) { p.Detect.CodeRanges = [][2]int64{{5, 1}} }), "is empty"},
		{"an empty key prefix", mutate(func(p *Profile) { p.KeyPrefixes = []string{""} }), "key prefix"},
		{"a key prefix starting with a sign", mutate(func(p *Profile) { p.KeyPrefixes = []string{"_live"} }), "key prefix"},
		{"an empty error event", mutate(func(p *Profile) { p.ErrorEvents = []string{""} }), "error event"},
		{"an error event across lines", mutate(func(p *Profile) { p.ErrorEvents = []string{"error\nfailed"} }), "error event"},
		{"a one-letter key prefix", mutate(func(p *Profile) { p.KeyPrefixes = []string{"m"} }), "key prefix"},
		{"a key prefix that is a word", mutate(func(p *Profile) { p.KeyPrefixes = []string{"mem"} }), "key prefix"},
		{"an upper-case key prefix", mutate(func(p *Profile) { p.KeyPrefixes = []string{"RATE"} }), "key prefix"},
		{"an Authority that is a Failed flag", mutate(func(p *Profile) {
			p.Envelopes[0] = Envelope{Failed: "failed", Code: "code", Message: []string{"msg"}}
			p.Authority = "failed"
			p.SuccessCodes = []string{"0"}
		}), "envelope 0 (as its Failed flag or When)"},
		{"an Authority that selects a failure shape", mutate(func(p *Profile) {
			p.Envelopes = append(p.Envelopes, Envelope{When: "error", Message: []string{"error"}})
			p.Authority = "error"
		}), "envelope 1 (as its Failed flag or When)"},
		{"an Authority that selects a failure shape by a success code", mutate(func(p *Profile) {
			p.Envelopes = append(p.Envelopes, Envelope{When: "state", Is: []string{"down", "0"}, Message: []string{"why"}})
			p.SuccessCodes = []string{"0"}
			p.Authority = "state"
		}), "envelope 1 (as its Failed flag or When)"},
		{"a status HTTP has not", mutate(func(p *Profile) { p.Codes[0].Status = 42 }), "status"},
		{"a status of four digits", mutate(func(p *Profile) { p.Codes[0].Status = 4290 }), "status"},
		{"too many paths", mutate(func(p *Profile) {
			for i := 0; i < maxPaths; i++ {
				p.Envelopes[0].Message = append(p.Envelopes[0].Message, fmt.Sprintf("m%d", i))
			}
		}), "at most 64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keepProfiles(t) // a profile wrongly taken does not fail the cases after it
			before := profiles.Load()
			err := Register(tc.p)
			require.ErrorIs(t, err, ErrProfile)
			assert.Contains(t, err.Error(), tc.want)
			assert.Same(t, before, profiles.Load(), "nothing was registered")
			_, ok := LookupProfile("refused")
			assert.False(t, ok)
		})
	}
}

func TestRegisteredVendorGoesThroughTheSamePath(t *testing.T) {
	keepProfiles(t)
	const v Vendor = "acme-memory"
	p := testProfile(string(v))
	p.Names = []string{"Acme Memory"}
	require.NoError(t, Register(p))
	require.ErrorIs(t, Register(p), ErrProfile, "a second registration is refused")

	// The caller's profile may change afterwards: the registry keeps its own copy.
	p.Codes[0].Kind = KindInternal

	got, ok := ParseVendor("acme memory")
	assert.True(t, ok)
	assert.Equal(t, v, got)
	assert.Contains(t, Vendors(), v)

	info, ok := Lookup(v, "SLOW_DOWN")
	require.True(t, ok)
	assert.Equal(t, Code{v, "SLOW_DOWN"}, info.Code)
	assert.Equal(t, KindRateLimited, info.Kind)
	assert.True(t, info.Retryable)

	body := `{"ok":false,"err":{"kind":"SLOW_DOWN","text":"easy"},"trace":"tr-1"}`
	for _, hint := range []Vendor{v, Auto} {
		e := mustParse(t, hint, 200, nil, body)
		assert.Equal(t, Code{v, "SLOW_DOWN"}, Code{e.Vendor, e.Code}, "hint %s", hint)
		assert.Equal(t, KindRateLimited, e.Kind)
		assert.Equal(t, "easy", e.Message)
		assert.Equal(t, "tr-1", e.RequestID)
		assert.ErrorIs(t, e, ErrRateLimited)
		assert.ErrorIs(t, e, Code{v, "SLOW_DOWN"})
	}
	assert.NoError(t, Parse(v, 200, nil, []byte(`{"ok":true,"data":{"id":1}}`)))
	assert.NoError(t, Parse(v, 200, nil, []byte(`{"data":{"id":1},"ok":true}`)))
	assert.True(t, authoritySuccess(lookupProfile(v), []byte(`{"data":{"id":1},"ok":true}`)))
	e := mustParse(t, v, 503, nil, `{"ok":false,"err":{"kind":"NEW_THING"}}`)
	assert.Equal(t, KindUnavailable, e.Kind, "an undocumented code takes its status")
	// The built-ins are untouched.
	assert.Equal(t, Coze, mustParse(t, Auto, 200, nil, `{"code":4011,"msg":"x"}`).Vendor)
}

func TestRegisterWhileDecoding(t *testing.T) {
	keepProfiles(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	defer wg.Wait()
	defer close(stop) // also when a Register fails: no decoder is left running
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				e := Parse(Auto, 200, http.Header{}, []byte(`{"code":4011,"msg":"x"}`)).(*Error)
				if e.Vendor != Coze {
					panic("detection changed while registering: " + string(e.Vendor))
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		require.NoError(t, Register(testProfile(fmt.Sprintf("concurrent-%d", i))))
	}
	assert.True(t, strings.HasPrefix(string(Vendors()[len(Vendors())-1]), "concurrent-"))
}

func TestVendorsListsTheBuiltinsFirst(t *testing.T) {
	assert.Equal(t, builtins, Vendors()[:5])
}

// A Classify that returns a value outside the Kinds is ignored, as if it
// had returned KindUnknown: the table, then the status decide. Register
// refuses such a Kind in the table; one coming from Classify at request
// time used to reach the Error (Kind(200), matching no sentinel).
func TestClassifyOutOfRangeKindIsIgnored(t *testing.T) {
	keepProfiles(t)
	p := testProfile("odd-kinds")
	p.Classify = func(code, _ string, _ int, _ Kind) Kind {
		if code == "SLOW_DOWN" {
			return numKinds
		}
		return Kind(200)
	}
	require.NoError(t, Register(p))
	tests := []struct {
		status int
		body   string
		want   Kind
	}{
		{200, `{"ok":false,"err":{"kind":"SLOW_DOWN"}}`, KindRateLimited}, // the table's
		{200, `{"ok":false,"err":{"kind":"GONE"}}`, KindNotFound},         // the table's
		{503, `{"ok":false,"err":{"kind":"NEW"}}`, KindUnavailable},       // the status's
		{200, `{"ok":false,"err":{"kind":"NEW"}}`, KindUnknown},           // nothing classifies it
	}
	for _, tc := range tests {
		e := mustParse(t, "odd-kinds", tc.status, nil, tc.body)
		assert.Equal(t, tc.want, e.Kind, "%d %s", tc.status, tc.body)
		assert.NotContains(t, e.Error(), "Kind(")
	}
}

// Register keeps its own copy of every slice of the profile: a caller
// that reuses or changes its slices afterwards changes nothing registered
// (the Is values, Message members and code ranges used to be shared).
func TestRegisterCopiesEverySlice(t *testing.T) {
	keepProfiles(t)
	p := Profile{
		Vendor: "copied",
		Envelopes: []Envelope{
			{When: "state", Is: []string{"broken"}, Code: "code", Message: []string{"text"}, RequestID: []string{"trace"}},
		},
		Detect:      Detection{Members: []string{"copied_trace"}, CodeRanges: [][2]int64{{7000, 7999}}},
		KeyPrefixes: []string{"cp_"},
		ErrorEvents: []string{"failure"},
	}
	require.NoError(t, Register(p))
	body := `{"state":"broken","code":7001,"text":"down","trace":"t1"}`
	before := mustParse(t, Auto, 200, nil, body)
	require.Equal(t, Vendor("copied"), before.Vendor)
	registered, _ := LookupProfile("copied")
	want := fmt.Sprintf("%#v %#v", registered.Envelopes, registered.Detect)

	p.Envelopes[0].Is[0] = "fine"
	p.Envelopes[0].Message[0] = "other"
	p.Envelopes[0].RequestID[0] = "other_id"
	p.Detect.Members[0] = "other"
	p.Detect.CodeRanges[0] = [2]int64{1, 2}
	p.KeyPrefixes[0] = "zz_"
	p.ErrorEvents[0] = "other"

	after := mustParse(t, Auto, 200, nil, body)
	assert.Equal(t, before, after)
	registered, _ = LookupProfile("copied")
	assert.Equal(t, want, fmt.Sprintf("%#v %#v", registered.Envelopes, registered.Detect))
	assert.Equal(t, []string{"cp_"}, registered.KeyPrefixes)
	assert.Equal(t, []string{"failure"}, registered.ErrorEvents)
}

// Register takes only key prefixes that mark keys, not words: Redact
// drops every long word starting with a registered prefix, in every
// vendor's errors, so a prefix "m" or "mem" used to turn a Coze message
// "memory_identifier is missing" into "[redacted] is missing". Real key
// prefixes hold a sign or a digit, or mix cases, and are taken.
func TestKeyPrefixesThatAreNotWords(t *testing.T) {
	keepProfiles(t)
	p := testProfile("keyed")
	p.KeyPrefixes = []string{"z_", "m0-", "sk-let-", "eyJ", "AIza", "k9"}
	require.NoError(t, Register(p))
	assert.Equal(t, "key [redacted] sent", Redact("key z_0123456789abcdef sent"))

	p = testProfile("wordy")
	p.KeyPrefixes = []string{"m"}
	require.ErrorIs(t, Register(p), ErrProfile)
	e := mustParse(t, Coze, 200, nil, `{"code":4000,"msg":"memory_identifier is missing"}`)
	assert.Equal(t, "memory_identifier is missing", e.Message)
}

// Register refuses an Authority that an envelope reads as a failure: an
// Authority that was a Failed flag made {"failed":true,...} a success,
// true being a success value. An Authority that selects its failure shape
// by another value than a success is taken (a vendor whose calls say
// {"status":"ok"} or {"status":"error",...}).
func TestAuthorityNeverHidesAFailure(t *testing.T) {
	keepProfiles(t)
	p := Profile{
		Vendor:       "flagged",
		Envelopes:    []Envelope{{Failed: "failed", Code: "code", Message: []string{"msg"}}},
		Authority:    "failed",
		SuccessCodes: []string{"0"},
	}
	if Register(p) == nil {
		assert.Error(t, Parse("flagged", 200, nil, []byte(`{"failed":true,"code":"E1","msg":"boom"}`)),
			"a registered Authority never turns a failure into a success")
	}
	p.Authority = "code"
	require.NoError(t, Register(p))
	e := mustParse(t, "flagged", 200, nil, `{"failed":true,"code":"E1","msg":"boom"}`)
	assert.Equal(t, "E1", e.Code)
	assert.NoError(t, Parse("flagged", 200, nil, []byte(`{"code":0,"data":{}}`)))

	p = Profile{
		Vendor:       "stated",
		Envelopes:    []Envelope{{When: "status", Is: []string{"error"}, Code: "error_code", Message: []string{"error_message"}}},
		Authority:    "status",
		SuccessCodes: []string{"ok"},
	}
	require.NoError(t, Register(p))
	assert.NoError(t, Parse("stated", 200, nil, []byte(`{"data":{"a":1},"status":"ok"}`)))
	e = mustParse(t, "stated", 200, nil, `{"status":"error","error_code":"E2","error_message":"no"}`)
	assert.Equal(t, "E2", e.Code)
}

// Register takes a code's paired Status only when it is an HTTP status
// (200-599, or 0 for none): memerrtest sends it, and net/http panics on
// any other, so a fake server of the vendor dropped the connection.
func TestCodeStatusIsHTTPs(t *testing.T) {
	keepProfiles(t)
	for _, status := range []int{0, 200, 429, 599} {
		p := testProfile(fmt.Sprintf("status-%d", status))
		p.Codes[0].Status = status
		assert.NoError(t, Register(p), "status %d", status)
	}
	for _, status := range []int{-1, 42, 100, 199, 600, 4290} {
		p := testProfile(fmt.Sprintf("bad-status-%d", status))
		p.Codes[0].Status = status
		err := Register(p)
		require.ErrorIs(t, err, ErrProfile, "status %d", status)
		assert.Contains(t, err.Error(), "status")
	}
}

// Register refuses detection signals that are not the vendor's own: a
// header every gateway sends (X-Request-Id, which Tensorheart sends too),
// another vendor's header, or a member another vendor's shapes read (or
// an object holding one). Such a signal outscored the vendor whose body
// it was: a Tensorheart failure {"detail":{"code":...}} at HTTP 200 with
// X-Request-Id became a success of the new vendor, and at 500 lost its
// code.
func TestDetectionSignalsAreTheVendorsOwn(t *testing.T) {
	keepProfiles(t)
	h := hdr("X-Request-Id", "req_1")
	bodies := []string{`{"detail":{"code":"SOMETHING_NEW","message":"y"}}`, `{"error":{"code":"SOMETHING_NEW","message":"y"}}`}
	for _, p := range []Profile{
		{Vendor: "gateway-header", Envelopes: []Envelope{{Code: "error_code", Message: []string{"error_message"}}}, Detect: Detection{Headers: []string{"X-Request-Id"}}},
		{Vendor: "common-member", Envelopes: []Envelope{{Code: "fault", Message: []string{"error"}}}, Detect: Detection{Members: []string{"error"}}},
	} {
		assert.ErrorIs(t, Register(p), ErrProfile, p.Vendor)
		for _, b := range bodies {
			for _, status := range []int{200, 500} {
				e := mustParse(t, Auto, status, h, b)
				assert.Equal(t, Code{Tensorheart, "SOMETHING_NEW"}, Code{e.Vendor, e.Code}, "%s: %d %s", p.Vendor, status, b)
			}
		}
	}
	p := testProfile("own-signals")
	p.Detect = Detection{Headers: []string{"X-Own-Trace"}, Members: []string{"err.kind", "own_trace"}}
	require.NoError(t, Register(p))
}
