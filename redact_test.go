package memerr

import (
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// quickTestPieces are pieces of text near and far from what redact
// removes: secret words and names in several cases, key prefixes, URL user
// information, and the separators between them.
var quickTestPieces = []string{
	"", "x", "\t", "\n", "my", "Api", "KEY", "key", "apikey", "TOKEN", "secret", "Password", "bearer", "Basic",
	"authorization", "field", "monkey", "_", "-", "\"", "'", " ", "=", ":", "@", "&", "?", "(",
	"sk-", "SK-", "eyJ", "krlk_", "pat_", "0123456789", "https://", ".", "é", "已",
	"=x", ": x", "myApiKey", "dbpassword", "accesstoken",
}

// TestQuickTestMissesNoSecret builds every string of three pieces and
// checks that redact's quick test, mayHoldSecret, flags each one whose
// words redact would change: a false there leaves a credential in place.
func TestQuickTestMissesNoSecret(t *testing.T) {
	changed := 0
	for _, a := range quickTestPieces {
		for _, b := range quickTestPieces {
			for _, c := range quickTestPieces {
				s := a + b + c
				if redactWords(s) != s {
					changed++
					checkQuickTest(t, s)
				}
			}
		}
	}
	if changed < 1000 {
		t.Fatalf("only %d strings hold something to redact: the pieces test little", changed)
	}
}

func FuzzQuickTest(f *testing.F) {
	for _, s := range []string{
		"invalid key sk-live-SECRET123456", "https://bob:hunter2@api.example.com", "Authorization: Bearer abcdef",
		"Authorization: Token krlk_0f0f0f0f0f0f0f0f", "myApiKey=abc", `{"x-api-key":"abc"}`, "?q=1&access_token=abc",
		"PASSWORD: hunter2", "token expired", "Invalid request data", `{"field":"text","message":"field required"}`,
		"\u212aey: abc", "API_\u212aEY=abc", "pa\u017f\u017fword: abc", "token: x \u212a\u212a\u212a=y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r := redactWords(s); r != s {
			checkQuickTest(t, s)
			if again := redactWords(r); again != r {
				t.Fatalf("redact is not idempotent: %q gives %q, then %q", s, r, again)
			}
		}
		if got, want := mayHoldSecret(s), plainMayHoldSecret(s); got != want {
			t.Fatalf("mayHoldSecret(%q) = %v, the plain loop says %v", s, got, want)
		}
	})
}

// checkQuickTest fails unless mayHoldSecret flags s, which redact's word
// pass changes. Both fold ASCII letters only, so no string is left out.
func checkQuickTest(t *testing.T, s string) {
	t.Helper()
	if !mayHoldSecret(s) {
		t.Fatalf("mayHoldSecret(%q) is false, but redact changes it to %q", s, redactWords(s))
	}
}

// A key prefix with capitals, such as "eyJ" that starts a JSON Web Token,
// is redacted wherever it stands, not only after another word that looks
// like a secret.
func TestRedactKeyPrefixWithCapitals(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
	if got := Redact("invalid jwt " + jwt); got != "invalid jwt [redacted]" {
		t.Fatalf("Redact: %q", got)
	}
	if got := Redact("token " + jwt); got != "token [redacted]" {
		t.Fatalf("Redact: %q", got)
	}
}

// A credential's name written as a JSON member (or quoted, then ':' or '=')
// has its value redacted, as in the unquoted "api_key=abc" and "token: abc":
// servers echo a request's JSON in their error details.
func TestRedactQuotedSecretNames(t *testing.T) {
	const key = "Zx81KqPl02mN" // shaped like no known key prefix
	for _, s := range []string{
		`{"api_key":"` + key + `"}`,
		`{"field":"text","token": "` + key + `"}`,
		`{"Authorization":"Bearer ` + key + `"}`,
		`"x-api-key" = "` + key + `"`,
		`{"secret":` + key + `}`,
	} {
		got := Redact(s)
		assert.NotContains(t, got, key, s)
		assert.Contains(t, got, "[redacted]", s)
	}
	for _, s := range []string{
		`{"field":"text","message":"field required"}`,
		`{"token_type":"bearer","expires_in":3600}`,
		`{"logid":"20241210152726"}`,
	} {
		assert.Equal(t, s, Redact(s), "nothing to remove")
	}
	// Parse scrubs the same from an error's details.
	body := `{"success":false,"error":{"code":"INVALID_API_KEY","message":"x","details":{"api_key":"` + key + `"}}}`
	e := parse(Auto, 401, nil, []byte(body))
	require.NotNil(t, e)
	assert.NotContains(t, string(e.Details), key)
	assert.True(t, json.Valid(e.Details), "%s", e.Details)
}

// A credential's name is ASCII: the word pass folds ASCII letters only, as
// the quick test does, so both give the same answer on a name spelled with
// a letter that Unicode folds into an ASCII one (the Kelvin sign U+212A
// into "k", the long s U+017F into "s"): no credential's name. The word
// pass once lower-cased with strings.ToLower, which shortens "\u212a" to
// "k", and cut the lower-cased word where '=' stood in the original: three
// Kelvin signs before '=' made it panic.
func TestRedactFoldsASCIIOnly(t *testing.T) {
	for _, s := range []string{
		"\u212aey: abc", "API_\u212aEY=abc", "x-api-\u212aey = abc", "to\u212aen: abc", "Ba\u017fic abc",
		"pa\u017f\u017fword: abc", "\u017fecret=abc", "api\u017fecret: abc", "\u017fk-live-4f9a8b7c6d5e",
		"{\"\u212aey\":\"abc\"}", "{\"pa\u017f\u017fword\":\"abc\"}",
	} {
		assert.Equal(t, s, redactWords(s), "word pass")
		assert.False(t, mayHoldSecret(s), "quick test on %q", s)
		assert.Equal(t, s, Redact(s))
		// The same names in ASCII are credentials' names to both.
		ascii := strings.NewReplacer("\u212a", "k", "\u017f", "s").Replace(s)
		assert.NotEqual(t, ascii, redactWords(ascii), "word pass")
		assert.True(t, mayHoldSecret(ascii), "quick test on %q", ascii)
	}
	assert.Equal(t, "\u212a\u212a\u212a=abc", Redact("\u212a\u212a\u212a=abc"))
	// Next to a credential, the Kelvin signs stay and the credential goes,
	// in Redact and in a decoded error's message.
	const msg = "token: abc \u212a\u212a\u212a=y"
	assert.Equal(t, "token: [redacted] \u212a\u212a\u212a=y", Redact(msg))
	e := parse(Auto, 400, nil, []byte(`{"code":4000,"msg":"`+msg+`"}`))
	require.NotNil(t, e)
	assert.Equal(t, "token: [redacted] \u212a\u212a\u212a=y", e.Message)
}

// plainMayHoldSecret is mayHoldSecret as its comment defines it, one byte
// at a time with no shortcut: the reference the quick test is compared to.
func plainMayHoldSecret(s string) bool {
	starts := &profiles.Load().secretStarts
	wordStart := true // the byte before is no letter or digit
	for i := 0; i < len(s); i++ {
		class := byteClass[s[i]]
		switch {
		case class == 'a' && wordStart:
			for _, w := range starts[lowerASCII(s[i])] {
				if strings.HasPrefix(lowerASCIIString(s[i:]), w) {
					return true
				}
			}
		case class == '@':
			return true
		case class == '=' && secretNameBefore(s, i):
			return true
		}
		wordStart = class != 'a'
	}
	return false
}

// mayHoldSecretInputs are strings built of quickTestPieces, runs of
// Chinese text (which mayHoldSecret skips eight bytes at a time) and
// random bytes, with a fixed seed.
func mayHoldSecretInputs() []string {
	pieces := append([]string{
		"已达系统请求上限，请稍后重试", "请求", "\xe5\x8f", "\x80", "\xff\xff\xff\xff\xff\xff\xff\xff\xff", "\x7f",
		"20240708143040790E78F9318B35A2910B", `{"logid":"`, `"}`,
	}, quickTestPieces...)
	rng := rand.New(rand.NewPCG(11, 5))
	var out []string
	for n := 0; n < 20000; n++ {
		var b strings.Builder
		for k := rng.IntN(8); k >= 0; k-- {
			if rng.IntN(4) == 0 {
				b.WriteByte(byte(rng.IntN(256)))
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		out = append(out, b.String())
	}
	return out
}

// mayHoldSecret gives the plain loop's answer, on strings and on bytes.
func TestMayHoldSecretMatchesPlainLoop(t *testing.T) {
	held := 0
	for _, s := range mayHoldSecretInputs() {
		want := plainMayHoldSecret(s)
		if got := mayHoldSecret(s); got != want {
			t.Fatalf("mayHoldSecret(%q) = %v, the plain loop says %v", s, got, want)
		}
		if got := mayHoldSecret([]byte(s)); got != want {
			t.Fatalf("mayHoldSecret([]byte(%q)) = %v, the plain loop says %v", s, got, want)
		}
		if want {
			held++
		}
	}
	if held < 2000 || held > 18000 {
		t.Fatalf("%d of 20000 inputs may hold a secret: the inputs test little", held)
	}
}

// asciiFrom, which reads eight bytes at a time, finds the byte the plain
// loop finds, from every index of strings of ASCII and non-ASCII bytes.
func TestASCIIFromMatchesPlainLoop(t *testing.T) {
	plain := func(s string, i int) int {
		for i < len(s) && s[i] >= 0x80 {
			i++
		}
		return i
	}
	inputs := []string{"", "a", "\x7f", "\x80", "已达系统请求上限，请稍后重试", "已达系统请求上限，请稍后重试 key", strings.Repeat("\xff", 33)}
	for k := 0; k < 24; k++ { // one ASCII byte at each place of a run of 24 others
		b := []byte(strings.Repeat("\x80", 24))
		b[k] = 0x7f
		inputs = append(inputs, string(b))
	}
	rng := rand.New(rand.NewPCG(3, 7))
	for n := 0; n < 5000; n++ {
		b := make([]byte, rng.IntN(40))
		for k := range b {
			b[k] = byte(0x80 + rng.IntN(128))
			if rng.IntN(10) == 0 {
				b[k] = byte(rng.IntN(128))
			}
		}
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		for i := 0; i <= len(s); i++ {
			want := plain(s, i)
			if got := asciiFrom(s, i); got != want {
				t.Fatalf("asciiFrom(%q, %d) = %d, want %d", s, i, got, want)
			}
			if got := asciiFrom([]byte(s), i); got != want {
				t.Fatalf("asciiFrom([]byte(%q), %d) = %d, want %d", s, i, got, want)
			}
		}
	}
}

// allocated returns the bytes the heap gave out while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A hostile error body of many short words, each one something redact
// looks at, costs memory in proportion to its size, not tens of times it;
// and Error(), which shows 200 runes of the message, costs the same for a
// message of a mebibyte as for a short one.
func TestRedactHostileTextBoundedMemory(t *testing.T) {
	for name, word := range map[string]string{
		"at signs":     "@ A,",
		"secret names": "Key K ",
		"bearers":      "Bearer x ",
		"plain":        "a b ",
	} {
		t.Run(name, func(t *testing.T) {
			text := strings.Repeat(word, (1<<20)/len(word))
			body := []byte(`{"success":false,"error":{"code":"VALIDATION_ERROR","message":"` + text + `","details":"` + text + `"}}`)
			var e *Error
			parsing := allocated(func() { e = parse(Auto, 400, nil, body) })
			require.NotNil(t, e)
			// The body is copied into Message and Details, each rewritten
			// at most once, at most 5.5 times as long ("x " becomes
			// "[redacted] "): 16 times the body is a generous ceiling.
			assert.Less(t, parsing, uint64(16*len(body)), "bytes allocated to parse a %d-byte body", len(body))
			var s string
			printing := allocated(func() { s = e.Error() })
			assert.LessOrEqual(t, len([]rune(s)), 300)
			assert.Less(t, printing, uint64(64<<10), "bytes allocated by Error()")
		})
	}
}

// A credential written in the shapes servers echo request headers in is
// redacted whole, not its scheme word in its place: a JSON array of values
// (http.Header marshalled: {"X-Api-Key":["..."]}), a scheme glued to the
// name's ':' or '=', a cookie header.
func TestRedactEchoedHeaderShapes(t *testing.T) {
	const key = "Zx81KqPl02mN" // shaped like no known key prefix
	for _, s := range []string{
		`{"headers":{"X-Api-Key":["` + key + `"]}}`,
		`{"Authorization":["Bearer ` + key + `"]}`,
		`{"api_key": [ "` + key + `" ]}`,
		`Authorization:Bearer ` + key,
		`Authorization=Bearer ` + key,
		`authorization:token ` + key,
		`Cookie: session=` + key,
		`Set-Cookie: session=` + key + `; Path=/`,
		`Cookie: lang=en; session=` + key,
		`{"Cookie":"lang=en; session=` + key + `"}`,
	} {
		got := Redact(s)
		assert.NotContains(t, got, key, s)
		assert.Contains(t, got, "[redacted]", s)
		assert.Equal(t, got, Redact(got), "redacting twice changes nothing")
		checkQuickTest(t, s)
	}
	assert.Equal(t, "Authorization:Bearer [redacted]", Redact("Authorization:Bearer "+key), "the scheme stays, the token goes")
	assert.Equal(t, `{"tokens":[1,2]}`, Redact(`{"tokens":[1,2]}`), "nothing to remove")
}
