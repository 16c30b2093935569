package memerr

import (
	"encoding/json"
	"math/bits"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

const redacted = "[redacted]"

// secretWords are followed by a credential: "Bearer abc", "api_key=abc".
var secretWords = []string{"bearer", "basic", "token", "apikey", "api_key", "api-key", "key", "authorization", "secret", "password"}

// Redact returns s with what looks like a credential replaced by
// "[redacted]": words with a known API-key prefix (sk-, pat_, mos_, krlk_
// ...), also as a segment of a URL path, the word after "Bearer" or
// "Basic" (and after "Authorization: Token", MemOS's scheme), values after
// key=, token:, "api_key": [ and the like, the pairs of a cookie header,
// and the user information of URLs. Redacting twice changes nothing.
// Error() applies it to server messages; use it on anything else from a
// server that you print or log.
func Redact(s string) string { return redact(s) }

// redact removes from s what looks like a credential: words with a known key
// prefix, the word after "Bearer"/"Basic", values after key=, token: and
// similar, and URL user information.
func redact(s string) string {
	if s == "" || !mayHoldSecret(s) {
		return s
	}
	return redactWords(s)
}

// redactWords is redact without its quick test: it goes through s in
// words and separator runs and replaces the words that are, or follow, a
// credential. It copies s only when it replaces something, and then once,
// so a hostile text of many short words costs no more than its size.
func redactWords(s string) string {
	var out strings.Builder // s with the replacements, up to s[done:]; empty until the first
	done := 0
	replace := func(start, end int, with string) {
		if done == 0 {
			out.Grow(len(s) + len(redacted))
		}
		out.WriteString(s[done:start])
		out.WriteString(with)
		done = end
	}
	// value redacts the credential that starts at s[from:] and runs to
	// end, after its name's ':' or '=' or a scheme word, and reports
	// whether the credential is still to come, in the next word: when
	// nothing but the '[' of a list of values stands there
	// ({"X-Api-Key":["abc"]}), or a scheme word ("Authorization:Bearer
	// abc", MemOS's "Authorization: Token abc").
	value := func(from, end int) (wait bool) {
		v := strings.TrimLeft(s[from:end], "[")
		if len(v) < end-from && strings.HasPrefix(s[end-len(v)-1:end], redacted) {
			return false // redacted already ("[redacted]", "[[redacted]"): redacting twice changes nothing
		}
		if w := strings.Trim(v, ":="); w == "" || equalFold(w, "bearer") || equalFold(w, "basic") || equalFold(w, "token") {
			return true
		}
		replace(end-len(v), end, redacted)
		return false
	}
	next := false    // this word is a credential: it follows "Bearer", "token:"...
	named := false   // the word before is a credential's name alone, as "api_key" in {"api_key":"abc"}
	cookie := false  // named is a cookie header's name ("Cookie", "Set-Cookie")
	cookies := false // the value is a cookie header's: every pair of it, up to the next ';', is a credential
	for start, end := 0, 0; start < len(s); start = end {
		sep := isSep(s[start])
		for end = start + 1; end < len(s) && isSep(s[end]) == sep; end++ {
		}
		f := s[start:end]
		if sep {
			if t := strings.Trim(f, quotesAndSpace); t != "" {
				if cookies && t == ";" {
					next = true // "Cookie: lang=en; session=abc"
					continue
				}
				next, named, cookies = false, false, false // a comma, a newline...: what came before is over
			}
			continue
		}
		// Credential names are ASCII: the comparisons below fold ASCII
		// letters only, as mayHoldSecret does.
		if named {
			named = false
			if f[0] == ':' || f[0] == '=' { // "api_key" : "abc", "token"="abc"
				next, cookies = value(start+1, end), cookie
				continue
			}
		}
		if next {
			next = value(start, end)
			continue
		}
		if j := strings.Index(f, "://"); j >= 0 {
			if at := strings.LastIndexByte(f, '@'); at > j {
				replace(start+j+3, start+at, redacted)
				if k := keyAt(f[at:]); k >= 0 {
					replace(start+at+k, end, redacted)
				}
				continue
			}
		}
		if k := strings.IndexAny(f, "=:"); k > 0 && isSecretName(f[:k]) {
			next = value(start+k+1, end) // "api_key=abc", "token: <value>"
			cookies = hasSuffixFold(f[:k], "cookie")
			continue
		}
		if w := strings.Trim(f, ":="); equalFold(w, "bearer") || equalFold(w, "basic") {
			next = true
			continue
		}
		named = isSecretName(f)
		cookie = named && hasSuffixFold(f, "cookie")
		if k := keyAt(f); k >= 0 {
			replace(start+k, end, redacted)
		}
	}
	if done == 0 {
		return s
	}
	out.WriteString(s[done:])
	return out.String()
}

// equalFold reports whether s is lower, an ASCII word in lower case, in any
// case of its ASCII letters (and only those: unlike strings.EqualFold, the
// Kelvin sign is no "k").
func equalFold(s, lower string) bool {
	return len(s) == len(lower) && hasPrefixFold(s, lower)
}

// keyAt returns where a key with a known prefix starts in the word f: at
// its start, or at the start of one of its path segments, as in
// "/v1/sk-live-…/memories" (APIs that take the key in the URL path); -1
// if nowhere. The key runs to the end of the word, since a base64 key may
// itself hold a '/'. To be a key, the word, or a later segment, must be
// longer than its prefix by more than 8 bytes.
func keyAt(f string) int {
	prefixes := profiles.Load().keyPrefixes
	for start := 0; start < len(f); {
		end := strings.IndexByte(f[start:], '/')
		if end < 0 {
			end = len(f)
		} else {
			end += start
		}
		n := end - start
		if start == 0 {
			n = len(f) // a word that starts with a key is one
		}
		for _, p := range prefixes {
			if n > len(p)+8 && strings.HasPrefix(f[start:], p) {
				return start
			}
		}
		start = end + 1
	}
	return -1
}

// mayHoldSecret is redact's quick test: false means s holds nothing redact
// would remove. It looks only at the starts of words (after any character
// that is not a letter or digit), comparing each, without regard to case,
// with the secret words and key prefixes that begin with its letter; for
// an '@' (URL user information); and for a credential's name before '=' or
// ':'. It may say true for nothing. It takes bytes too, so that JSON
// details are tested where they are.
func mayHoldSecret[T ~string | ~[]byte](s T) bool {
	starts := &profiles.Load().secretStarts
	for i := 0; i < len(s); i++ {
		class := byteClass[s[i]]
		if class == 0 {
			continue // most bytes
		}
		switch class {
		case 'x': // text in another script: its run is skipped at once
			i = asciiFrom(s, i+1) - 1
		case 'a': // a word starts
			for _, w := range starts[s[i]|0x20] {
				if hasPrefixFold(s[i:], w) {
					return true
				}
			}
			end := i + 1 // skip the rest of the word
			for end < len(s) && byteClass[s[end]] == 'a' {
				end++
			}
			i = end - 1
		case '@': // URL user information
			return true
		case '=': // "myapikey=...", "accesstoken: ..."
			if secretNameBefore(s, i) {
				return true
			}
		}
	}
	return false
}

// asciiFrom returns the index of the first ASCII byte (below 0x80) of s
// from i on, or len(s). Text in another script, such as a Chinese message,
// is all bytes from 0x80 up, which mayHoldSecret passes over, so asciiFrom
// reads them eight at a time: in a uint64 of eight such bytes every byte
// has its high bit set.
func asciiFrom[T ~string | ~[]byte](s T, i int) int {
	for ; i+8 <= len(s); i += 8 {
		if ascii := ^load8(s[i:i+8]) & highBits; ascii != 0 {
			return i + bits.TrailingZeros64(ascii)/8 // the first ASCII byte
		}
	}
	for i < len(s) && s[i] >= 0x80 {
		i++
	}
	return i
}

// byteClass sorts bytes for mayHoldSecret: 'a' for letters and digits,
// '@', '=' for '=' and ':', 'x' for non-ASCII bytes (0x80 and up), 0 for
// the rest.
var byteClass = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			t[c] = 'a'
		case c == '@':
			t[c] = '@'
		case c == '=' || c == ':':
			t[c] = '='
		case c >= 0x80:
			t[c] = 'x'
		}
	}
	return t
}()

// hasPrefixFold reports whether s starts with lower, an ASCII word in
// lower case, in any case. It compares from the last letter back:
// mayHoldSecret has matched the first letter already, and a word that
// starts with it mostly differs after it ("text" from "tk_" and "token").
func hasPrefixFold[T ~string | ~[]byte](s T, lower string) bool {
	if len(s) < len(lower) {
		return false
	}
	for k := len(lower) - 1; k >= 0; k-- {
		if lowerASCII(s[k]) != lower[k] {
			return false
		}
	}
	return true
}

// lowerASCII returns c in lower case if it is an ASCII capital letter, else c.
func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c | 0x20
	}
	return c
}

// lowerASCIIString returns s with its ASCII capital letters in lower case
// and every other byte as it is (s itself when it has no capital), so the
// result is as long as s. Unlike strings.ToLower it folds no other letter
// into an ASCII one (the Kelvin sign into "k"), just as mayHoldSecret.
func lowerASCIIString(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// quotesAndSpace may stand between a credential's name and its '=' or
// ':', and between that and the value: `"token" : "abc"`.
const quotesAndSpace = " \t\r\n\"'"

// isQuoteOrSpace reports whether c is one of quotesAndSpace.
func isQuoteOrSpace(c byte) bool {
	return c == '"' || c == '\'' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// secretNameBefore reports whether the name that ends just before s[i],
// quotes and spaces skipped, ends like a credential's name
// (secretSuffixes), in any case: `myApiKey=`, `"accesstoken": `. A name
// that is a secret word, or ends in one after '_' or '-', starts a word
// that mayHoldSecret has compared already.
func secretNameBefore[T ~string | ~[]byte](s T, i int) bool {
	end := i
	for end > 0 && isQuoteOrSpace(s[end-1]) {
		end--
	}
	if end == 0 {
		return false
	}
	for _, suffix := range secretSuffixesByLast[lowerASCII(s[end-1])] {
		if end >= len(suffix) && hasPrefixFold(s[end-len(suffix):end], suffix) {
			return true
		}
	}
	return false
}

// secretStarts indexes the secret words and the key prefixes by their
// first letter, all in lower case as hasPrefixFold compares them ("eyJ"
// becomes "eyj").
func secretStarts(prefixes []string) (t [256][]string) {
	for _, w := range append(append([]string(nil), secretWords...), prefixes...) {
		w = lowerASCIIString(w)
		t[w[0]] = append(t[w[0]], w)
	}
	return t
}

// secretSuffixes end a key name that announces a credential ("x-api-key",
// "access_token", "Set-Cookie").
var secretSuffixes = []string{"-key", "_key", "apikey", "token", "secret", "password", "cookie"}

// secretSuffixesByLast indexes secretSuffixes by their last letter, so
// that secretNameBefore compares a name only with the suffixes it may end
// with; most names end in none of their letters.
var secretSuffixesByLast = func() (t [256][]string) {
	for _, s := range secretSuffixes {
		t[s[len(s)-1]] = append(t[s[len(s)-1]], s)
	}
	return t
}()

// isSecretName reports whether a key name ("token", "api_key",
// "x-api-key", "access_token"), in any case of its ASCII letters,
// announces a credential as its value.
func isSecretName(w string) bool {
	for _, s := range secretWords {
		if equalFold(w, s) {
			return true
		}
	}
	for _, suffix := range secretSuffixes {
		if hasSuffixFold(w, suffix) {
			return true
		}
	}
	return false
}

// hasSuffixFold reports whether s ends with lower, an ASCII word in lower
// case, in any case of its ASCII letters.
func hasSuffixFold(s, lower string) bool {
	return len(s) >= len(lower) && hasPrefixFold(s[len(s)-len(lower):], lower)
}

// isSep reports whether c separates words. '?' and '&' separate query
// parameters, so "?q=x&api_key=..." yields the word "api_key=...". Quotes
// are separators, so a word never holds one.
func isSep(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ';' || c == '"' || c == '\'' || c == '(' || c == ')' || c == '?' || c == '&'
}

// requestSecrets collects the credential values a request carries (the
// values of headers named for a credential, such as Authorization,
// X-Api-Key or X-Access-Token, and the token after their scheme; cookie
// values; URL user information; and the values of query parameters named
// for a key, token or secret) so they can be scrubbed from server messages
// that echo them, also in the forms a server may echo a value in: escaped
// for a URL's query or path ("ab%2Fcd"), and with '/' escaped as some
// JSON encoders write it ("ab\/cd", which stays so in Details). The
// longest come first, so that "Bearer abc" goes whole before "abc" alone.
func requestSecrets(req *http.Request) []string {
	out := appendRequestSecrets(nil, req)
	n := len(out)
	for _, s := range out[:n] {
		for _, form := range [...]string{url.QueryEscape(s), url.PathEscape(s), strings.ReplaceAll(s, "/", `\/`)} {
			if form != s && !slices.Contains(out, form) {
				out = append(out, form)
			}
		}
	}
	if len(out) > n {
		longestFirst(out)
	}
	return out
}

// appendRequestSecrets is requestSecrets appending to out, which may be a
// caller's array on its stack (scrubRequest).
func appendRequestSecrets(out []string, req *http.Request) []string {
	for name, vs := range req.Header {
		switch {
		case strings.EqualFold(name, "Cookie"):
			for _, v := range vs {
				out = appendSecret(out, v)
				for c := v; c != ""; {
					var pair string
					pair, c, _ = strings.Cut(c, ";")
					if _, val, ok := strings.Cut(pair, "="); ok {
						out = appendSecret(out, strings.Trim(strings.TrimSpace(val), `"`))
					}
				}
			}
		case credentialName(name):
			for _, v := range vs {
				out = appendSecret(out, v)
				if i := strings.IndexByte(v, ' '); i > 0 {
					out = appendSecret(out, strings.TrimSpace(v[i+1:]))
				}
			}
		}
	}
	if req.URL != nil {
		if u := req.URL.User; u != nil {
			if p, ok := u.Password(); ok {
				out = appendSecret(out, p)
			}
			out = appendSecret(out, u.Username())
		}
		for q := req.URL.RawQuery; q != ""; {
			var pair string
			pair, q, _ = strings.Cut(q, "&")
			k, v, _ := strings.Cut(pair, "=")
			if uk, err := url.QueryUnescape(k); err == nil {
				k = uk
			}
			if credentialName(k) || containsFold(k, "key") || containsFold(k, "token") {
				out = appendSecret(out, v) // as sent, and as the server read it
				if uv, err := url.QueryUnescape(v); err == nil && uv != v {
					out = appendSecret(out, uv)
				}
			}
		}
	}
	if len(out) > 1 {
		longestFirst(out)
	}
	return out
}

// longestFirst sorts secrets by length, the longest first, so that a
// secret holding another is replaced whole.
func longestFirst(secrets []string) {
	slices.SortFunc(secrets, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
}

// appendSecret appends v to out if it is long enough to be a credential
// rather than a word that happens to be in a message.
func appendSecret(out []string, v string) []string {
	if len(v) >= 6 {
		out = append(out, v)
	}
	return out
}

// scrubRequest is s without what redact removes and without the
// credentials req carries; it allocates nothing when there is nothing to
// remove (it runs on the success path for the hooks' request id).
func scrubRequest(s string, req *http.Request) string {
	s = redact(s)
	if len(s) < 6 {
		return s
	}
	var buf [8]string
	return scrub(s, appendRequestSecrets(buf[:0], req))
}

// credentialName reports whether a header or query parameter of this
// name, in any case, carries a credential: it holds "auth"
// (Authorization, Proxy-Authorization, X-Auth-Token), or is or ends like a
// credential's name (Api-Key, X-Api-Key, X-Access-Token, client_secret).
// It allocates nothing: it runs over every header of a request.
func credentialName(name string) bool {
	return containsFold(name, "auth") || isSecretName(name)
}

// containsFold reports whether s holds lower, an ASCII word in lower case,
// in any case.
func containsFold(s, lower string) bool {
	for i := 0; i+len(lower) <= len(s); i++ {
		if hasPrefixFold(s[i:], lower) {
			return true
		}
	}
	return false
}

// scrub replaces every occurrence of each secret in s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

// safeURL renders u as scheme://host/path: no user information, no query,
// no fragment, and a key-like word of the path redacted. It is what logs
// and errors show of a URL.
func safeURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + redact(u.EscapedPath())
}

// scrubError removes credentials from every text field of e: whatever
// looks like one (redact: its quick test, then its word pass), and the
// values in secrets (those the request carried, which a server may echo).
func scrubError(e *Error, secrets []string) {
	for _, f := range [...]*string{&e.Message, &e.Code, &e.RequestID} {
		if *f != "" && mayHoldSecret(*f) { // redact(*f), with one call fewer
			*f = redactWords(*f)
		}
		if len(secrets) > 0 {
			*f = scrub(*f, secrets)
		}
	}
	if len(e.Details) == 0 {
		return
	}
	// The details are tested where they are, and copied into a string only
	// when there may be something to remove.
	hold := mayHoldSecret(e.Details)
	if !hold && len(secrets) == 0 {
		return
	}
	d := string(e.Details)
	if hold {
		d = redactWords(d)
	}
	if d = scrub(d, secrets); d != string(e.Details) {
		e.Details = json.RawMessage(d)
		if !json.Valid(e.Details) {
			e.Details, _ = json.Marshal(d) // still JSON: the redacted text as a string
		}
	}
}
