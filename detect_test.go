package memerr

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"math/rand"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// detectByTheRules is detection as Detection and detectSure describe it,
// written as plainly as possible: every profile but Generic scores a
// header 4, each of its detection members in the body 3, and its best
// envelope that applies the members it finds plus 3 for a code of its
// table or a success code (a signal of its own) or 2 for a code in its
// ranges. The highest score wins, the first registered on a tie; the
// vendor is sure when it has a signal of its own and no other ties it.
// detectSure must always agree with it.
func detectByTheRules(set *profileSet, f *fields, h http.Header) (*profile, bool) {
	var best *profile
	bestScore, second, bestStrong := 0, 0, false
	for _, p := range set.list {
		if p.Vendor == Generic {
			continue
		}
		score, strong := 0, false
		for _, name := range p.Detect.Headers {
			if len(h.Values(name)) > 0 {
				score, strong = 4, true
				break
			}
		}
		if n := bits.OnesCount64(p.signals & f.present); n > 0 {
			score += 3 * n
			strong = true
		}
		fit := 0
		for i := range p.envs {
			e := &p.envs[i]
			if _, applies := p.reports(e, f, &codeFacts{set: set, id: -1}); !applies {
				continue
			}
			n := bits.OnesCount64(e.mask & f.present)
			if c := f.get(e.code); c.scalar() {
				code := c.code()
				_, known := p.codes[code]
				if known || slices.Contains(p.SuccessCodes, code) {
					n += 3
					strong = true
				} else if i, ok := c.integer(); ok && slices.ContainsFunc(p.Detect.CodeRanges, func(r [2]int64) bool { return r[0] <= i && i <= r[1] }) {
					n += 2
				}
			}
			fit = max(fit, n)
		}
		score += fit
		if score > bestScore {
			best, second, bestScore, bestStrong = p, bestScore, score, strong
		} else if score > second {
			second = score
		}
	}
	if best == nil {
		return set.byVendor[Generic], false
	}
	return best, bestStrong && bestScore > second
}

// acmeDetectProfile is a sixth vendor with detection signals of every
// sort: a header, a member, code ranges, and a code and a code range
// that overlap Coze's (Register refuses a header another vendor names).
func acmeDetectProfile() Profile {
	return Profile{
		Vendor: "acme-detect",
		Envelopes: []Envelope{
			{Code: "code", Message: []string{"msg"}},
			{When: "acme.state", Is: []string{"broken"}, Code: "acme.code", Message: []string{"acme.text"}},
		},
		SuccessCodes: []string{"ACME_OK"},
		Detect: Detection{
			Headers:    []string{"x-acme-trace"},
			Members:    []string{"acme.trace"},
			CodeRanges: [][2]int64{{900000, 900999}, {6000, 6100}},
		},
		Codes: []CodeInfo{
			{Code: Code{Value: "900404"}, Kind: KindNotFound, Meaning: "not found"},
			{Code: Code{Value: "4009"}, Kind: KindUnavailable, Meaning: "busy, as Coze says it"},
		},
	}
}

// detectFields scans body with set's paths.
func detectFields(t *testing.T, set *profileSet, body string) *fields {
	t.Helper()
	var f fields
	require.True(t, scanFields([]byte(body), set, &f), "not a JSON object: %s", body)
	return &f
}

func TestDetectionScores(t *testing.T) {
	keepProfiles(t)
	builtin := profiles.Load()
	require.NoError(t, Register(acmeDetectProfile()))
	withAcme := profiles.Load()
	const acme Vendor = "acme-detect"
	logid := hdr("X-Tt-Logid", cozeLogID)
	for _, tc := range []struct {
		name   string
		set    *profileSet
		h      http.Header
		body   string
		vendor Vendor
		sure   bool
	}{
		{"a code of Coze's table", builtin, nil, `{"code":4009,"msg":"x"}`, Coze, true},
		{"Coze's header and member", builtin, logid, `{"code":4009,"msg":"x","detail":{"logid":"l"}}`, Coze, true},
		{"Coze's header alone", builtin, logid, `{"foo":1}`, Coze, true},
		{"a header, but another vendor's own code scores more", builtin, logid, `{"code":429,"msg":"x","success":false,"failed":true}`, MemoriesAI, true},
		{"a code in two vendors' ranges: a tie, the first registered wins", builtin, nil, `{"code":450}`, MemOS, false},
		{"a code in MemOS's ranges only: the best, but no signal of its own", builtin, nil, `{"code":12345,"msg":"x"}`, MemOS, false},
		{"a code of memories.ai's table", builtin, nil, `{"code":429,"msg":"x"}`, MemoriesAI, true},
		{"a success code two vendors share", builtin, nil, `{"code":0}`, MemOS, false},
		{"a string code of two vendors' tables", builtin, nil, `{"error":{"code":"RATE_LIMITED"}}`, MemoryOS, true},
		{"a detection member", builtin, nil, `{"success":false,"error":{"code":"VALIDATION_ERROR"}}`, Tensorheart, true},
		{"a code written as a string", builtin, nil, `{"code":"4009","msg":"x"}`, Coze, true},
		{"a code written with a fraction", builtin, nil, `{"code":4009.0,"msg":"x"}`, Coze, true},
		{"nothing of any vendor", builtin, nil, `{"foo":1}`, Generic, false},
		{"null members count for nothing", builtin, nil, `{"code":null,"msg":null}`, Generic, false},

		{"sixth vendor: its own header", withAcme, hdr("X-Acme-Trace", "t"), `{"foo":1}`, acme, true},
		{"sixth vendor: its code range, no signal of its own", withAcme, nil, `{"code":900123,"msg":"x"}`, acme, false},
		{"sixth vendor: its range and header", withAcme, hdr("X-Acme-Trace", "t"), `{"code":900123,"msg":"x"}`, acme, true},
		{"sixth vendor: a code of its table", withAcme, nil, `{"code":900404,"msg":"x"}`, acme, true},
		{"sixth vendor: its When shape and member", withAcme, nil, `{"acme":{"state":"broken","code":"E1","trace":"t"}}`, acme, true},
		{"sixth vendor: its success code", withAcme, nil, `{"code":"ACME_OK"}`, acme, true},
		{"sixth vendor ties Coze on a shared code: Coze, not sure", withAcme, nil, `{"code":4009,"msg":"x"}`, Coze, false},
		{"sixth vendor shares Coze's code, Coze's header decides", withAcme, logid, `{"code":4009,"msg":"x"}`, Coze, true},
		{"sixth vendor: a range it shares with Coze, and its own member", withAcme, nil, `{"code":6050,"msg":"x","acme":{"trace":"t"}}`, acme, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := detectFields(t, tc.set, tc.body)
			p, sure := tc.set.detectSure(f, tc.h, &codeFacts{set: tc.set, id: -1})
			assert.Equal(t, tc.vendor, p.Vendor)
			assert.Equal(t, tc.vendor, tc.set.detect(f, tc.h, &codeFacts{set: tc.set, id: -1}).Vendor, "detect")
			assert.Equal(t, tc.sure, sure, "sure")
			rp, rsure := detectByTheRules(tc.set, f, tc.h)
			assert.Equal(t, rp.Vendor, p.Vendor, "by the rules")
			assert.Equal(t, rsure, sure, "sure, by the rules")
		})
	}
}

// TestDetectionFollowsTheRules compares detectSure with the rules on
// random bodies made of the members the profiles read, holding codes of
// their tables, numbers in and out of their ranges and other values, with
// and without their headers: with the built-ins, and with a sixth vendor.
func TestDetectionFollowsTheRules(t *testing.T) {
	keepProfiles(t)
	sets := []*profileSet{profiles.Load()}
	require.NoError(t, Register(acmeDetectProfile()))
	sets = append(sets, profiles.Load())
	rng := rand.New(rand.NewSource(11))
	for _, set := range sets {
		var paths, codes, headers []string
		var numbers []int64
		for _, p := range set.list {
			for i := range p.Envelopes {
				paths = appendNew(paths, p.Envelopes[i].paths()...)
			}
			paths = appendNew(paths, p.Detect.Members...)
			if p.Authority != "" {
				paths = appendNew(paths, p.Authority)
			}
			for _, c := range p.Codes {
				codes = append(codes, c.Code.Value)
			}
			codes = append(codes, p.SuccessCodes...)
			headers = append(headers, p.Detect.Headers...)
			for _, r := range p.Detect.CodeRanges {
				numbers = append(numbers, r[0], r[1], r[0]-1, r[1]+1, (r[0]+r[1])/2)
			}
		}
		for _, p := range set.list {
			for i := range p.Envelopes {
				codes = append(codes, p.Envelopes[i].Is...)
			}
		}
		value := func() any {
			switch rng.Intn(9) {
			case 0, 1:
				c := codes[rng.Intn(len(codes))]
				if i, err := strconv.ParseInt(c, 10, 64); err == nil && strconv.FormatInt(i, 10) == c && rng.Intn(2) == 0 {
					return json.Number(c)
				}
				return c
			case 2, 3:
				n := numbers[rng.Intn(len(numbers))]
				if rng.Intn(4) == 0 {
					return strconv.FormatInt(n, 10)
				}
				return json.Number(strconv.FormatInt(n, 10))
			case 4:
				return rng.Intn(2) == 0
			case 5:
				return nil
			case 6:
				return json.Number(strconv.Itoa(rng.Intn(1000000)))
			case 7:
				return "some text"
			}
			return ""
		}
		sure := 0
		for n := 0; n < 4000; n++ {
			body := map[string]any{}
			for k := rng.Intn(6); k >= 0; k-- {
				put(body, strings.Split(paths[rng.Intn(len(paths))], "."), value())
			}
			b, err := json.Marshal(body)
			require.NoError(t, err)
			h := http.Header{}
			if rng.Intn(3) == 0 {
				h.Set(headers[rng.Intn(len(headers))], "x")
			}
			var f fields
			if !scanFields(b, set, &f) {
				continue
			}
			p, ok := set.detectSure(&f, h, &codeFacts{set: set, id: -1})
			rp, rok := detectByTheRules(set, &f, h)
			require.Equal(t, rp.Vendor, p.Vendor, "%s %v", b, h)
			require.Equal(t, rok, ok, "sure: %s %v", b, h)
			// detect, which does not look for ties, finds the same winner.
			require.Equal(t, rp.Vendor, set.detect(&f, h, &codeFacts{set: set, id: -1}).Vendor, "detect: %s %v", b, h)
			if ok {
				sure++
			}
		}
		assert.Greater(t, sure, 400, "the bodies name a vendor for sure often enough to test it")
	}
}

// put sets path (its parts) in the nested map m to v; a member already
// holding a value that is not an object is replaced by one.
func put(m map[string]any, path []string, v any) {
	for _, part := range path[:len(path)-1] {
		next, ok := m[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[part] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// TestCodeFactsFollowTheTables compares what codeFacts tells of a code
// value, the text and Kind codeOf gives it and whether succeeds finds a
// success, with each profile's Codes and SuccessCodes read plainly
// (successValue): for every code of every profile (a sixth vendor's too,
// which shares 4009 with Coze) and codes no profile knows, written as a
// string, an escaped string, and, when a number, as a number and with a
// fraction, and values that are no code (true, null, an object...). Each
// body has two code members, read in turn, so the facts of one are never
// taken for the other's.
func TestCodeFactsFollowTheTables(t *testing.T) {
	keepProfiles(t)
	require.NoError(t, Register(acmeDetectProfile()))
	set := profiles.Load()
	top, nested := set.byVendor[Coze].envs[0].code, set.byVendor[MemoryOS].envs[0].code // "code", "error.code"
	var codes []string
	for _, p := range set.list {
		for _, c := range p.Codes {
			codes = append(codes, c.Code.Value)
		}
		codes = append(codes, p.SuccessCodes...)
	}
	codes = append(codes, "4242", "NOT_A_CODE", "-1", "")
	var forms []string // JSON values
	for _, c := range codes {
		q, err := json.Marshal(c)
		require.NoError(t, err)
		forms = append(forms, string(q))
		if c != "" {
			forms = append(forms, fmt.Sprintf(`"\u%04x%s"`, c[0], c[1:]))
		}
		if n, err := strconv.ParseInt(c, 10, 64); err == nil && strconv.FormatInt(n, 10) == c {
			forms = append(forms, c, c+".0")
		}
	}
	forms = append(forms, "true", "false", "null", `{"code":0}`, "[0]")
	checks := 0
	for k, a := range forms {
		b := forms[(k*7+3)%len(forms)]
		f := detectFields(t, set, `{"code":`+a+`,"error":{"code":`+b+`}}`)
		code := codeFacts{set: set, id: -1}
		for _, p := range set.list {
			for _, id := range []int{top, nested, top} {
				v := f.get(id)
				require.Equal(t, p.successValue(v), p.succeeds(f, id, &code), "%s: %s", p.Vendor, v.raw)
				checks++
				if !v.scalar() {
					continue // not a code: codeOf never sees it
				}
				text := v.code()
				ti, inTable := p.codes[text]
				i, known := code.at(id, v).of(p)
				switch {
				case inTable:
					require.True(t, known && i == ti, "%s: %s in the table at %d: %d %v", p.Vendor, text, ti, i, known)
				case slices.Contains(p.SuccessCodes, text):
					require.True(t, known && i == -1, "%s: %s a success code: %d %v", p.Vendor, text, i, known)
				default:
					require.False(t, known, "%s: %s unknown", p.Vendor, text)
				}
				gotText, gotKind := p.codeOf(v, code.at(id, v))
				wantText, wantKind := text, KindUnknown
				if inTable {
					wantText, wantKind = p.Codes[ti].Code.Value, p.Codes[ti].Kind
				}
				if p.successValue(v) { // a success code names no failure
					wantText = ""
				}
				require.Equal(t, wantText, gotText, "%s: %s", p.Vendor, text)
				require.Equal(t, wantKind, gotKind, "%s: %s", p.Vendor, text)
				checks++
			}
		}
	}
	assert.Greater(t, checks, 1000)
}
