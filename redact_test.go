package memerr

import (
	"encoding/json"
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
		if redactWords(s) != s {
			checkQuickTest(t, s)
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
