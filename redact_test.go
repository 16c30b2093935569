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
// pass changes. The quick test folds ASCII letters only; redact also lower-cases
// the rest with strings.ToLower, which turns a few other letters into ASCII
// ones ("K", the Kelvin sign, into "k"), so strings where that matters are left out.
func checkQuickTest(t *testing.T, s string) {
	t.Helper()
	if strings.ToLower(s) != lowerASCIIString(s) {
		return
	}
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
