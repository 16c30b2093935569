package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memerr/memerr"
)

// maxInput bounds how much of a captured response decode reads: 8 MiB.
const maxInput = 8 << 20

// runDecode implements "memerr decode [file|-] [--vendor V]".
func runDecode(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	vendorName := fs.String("vendor", "", "the vendor that sent the response")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		_, err = io.WriteString(stdout, helpDecode)
		return err
	}
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError("decode: want at most one file, as in memerr decode response.txt")
	}
	v, err := parseVendor(*vendorName)
	if err != nil {
		return err
	}

	in, name := stdin, "stdin"
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		defer f.Close()
		in, name = f, pos[0]
	}
	data, err := io.ReadAll(io.LimitReader(in, maxInput+1))
	if err != nil {
		return fmt.Errorf("decode: reading %s: %w", name, err)
	}
	if len(data) > maxInput {
		data = data[:maxInput]
		fmt.Fprintf(stderr, "memerr: warning: %s is larger than 8 MiB; decoding its first 8 MiB\n", name)
	}
	resp, err := parseCapture(data)
	if err != nil {
		return fmt.Errorf("decode: %s: %w", name, err)
	}
	resp.body = unframed(resp)
	secrets := captureSecrets(data)
	scrubCapture(resp, secrets)
	return writeFields(stdout, decodeFields(v, resp, secrets))
}

// scrubCapture replaces each of secrets in c's body and header values
// before anything decodes them: memerr's own redaction may take part of a
// key (a segment after '/', the value after "token="), leaving the rest
// where the key no longer matches whole. It goes through the body once,
// however many secrets there are.
func scrubCapture(c *capture, secrets []string) {
	if len(secrets) == 0 {
		return
	}
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets { // the longest first: "Bearer abc" before "abc"
		pairs = append(pairs, s, "[redacted]")
	}
	r := strings.NewReplacer(pairs...)
	c.body = []byte(r.Replace(string(c.body)))
	for _, vs := range c.header {
		for i, v := range vs {
			vs[i] = r.Replace(v)
		}
	}
}

// captureSecrets returns the credentials a capture shows in request or
// response headers (curl -v prints the request's as "> Authorization: ..."):
// the values of headers named for a credential and of cookies, so that a
// server echoing them is not printed either.
func captureSecrets(data []byte) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 6 {
			out = append(out, s)
		}
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimLeft(line, "<> "))
		if target, ok := requestTarget(line); ok {
			for _, s := range urlSecrets(target) {
				add(s)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch name := strings.ToLower(strings.TrimSpace(k)); {
		case name == "set-cookie": // one cookie, then its attributes (Path, Domain...)
			c, _, _ := strings.Cut(v, ";")
			if _, val, ok := strings.Cut(c, "="); ok {
				add(strings.Trim(strings.TrimSpace(val), `"`))
			}
		case name == "cookie":
			for _, c := range strings.Split(v, ";") {
				if _, val, ok := strings.Cut(c, "="); ok {
					add(strings.Trim(strings.TrimSpace(val), `"`))
				}
			}
		case credentialHeader(name):
			add(strings.TrimSpace(v))
			add(lastWord(v))
		}
	}
	return withEncodings(out)
}

// withEncodings returns secrets with the forms a server may echo each in
// (URL-escaped as a query value, a path or a path segment, JSON-escaped,
// also with "\/" for '/'), without repeats, the
// longest first so that "Bearer abc" goes whole before "abc" alone.
func withEncodings(secrets []string) []string {
	seen := make(map[string]bool, len(secrets))
	var out []string
	for _, s := range secrets {
		j, _ := json.Marshal(s)
		js := string(j[1 : len(j)-1])
		q := url.QueryEscape(s)
		for _, form := range []string{s, q, strings.ReplaceAll(q, "%2F", "/"), url.PathEscape(s), js, strings.ReplaceAll(js, "/", `\/`)} {
			if !seen[form] {
				seen[form] = true
				out = append(out, form)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// requestTarget returns the target of a request line, as curl -v prints
// it ("GET /v1/memories?api_key=... HTTP/1.1").
func requestTarget(line string) (string, bool) {
	f := strings.Fields(line)
	if len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/") || strings.ToUpper(f[0]) != f[0] {
		return "", false
	}
	return f[1], true
}

// urlSecrets returns the credentials a request's URL carries: its user
// information, and the values of the query parameters named for a
// credential (api_key, key, access_token), as sent and as the server read
// them.
func urlSecrets(target string) []string {
	u, err := url.Parse(target)
	if err != nil {
		return nil
	}
	var out []string
	if u.User != nil {
		p, _ := u.User.Password()
		out = append(out, u.User.Username(), p)
	}
	for q := u.RawQuery; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if k = strings.ToLower(k); !credentialHeader(k) && !strings.Contains(k, "key") && !strings.Contains(k, "token") {
			continue
		}
		out = append(out, v)
		if uv, err := url.QueryUnescape(v); err == nil {
			out = append(out, uv)
		}
	}
	return out
}

// credentialHeader reports whether a header name, in lower case, names a
// credential: it holds "auth" (Authorization, X-Auth-Token) or ends like a
// key, token, secret or password (X-Api-Key, X-Access-Token).
func credentialHeader(name string) bool {
	if strings.Contains(name, "auth") {
		return true
	}
	for _, suffix := range []string{"key", "token", "secret", "password"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

func lastWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// capture is one HTTP response as curl -i prints it.
type capture struct {
	status int
	header http.Header
	body   []byte
}

// errNoStatus is returned for input that does not start with a status line.
var errNoStatus = errors.New(`no HTTP status line (want a response as "curl -i" prints it, starting with a line such as "HTTP/1.1 429 Too Many Requests")`)

// parseCapture reads the output of curl -i: one or more header blocks (a
// status line, header lines, a blank line), then the body. The last header
// block before the body is the response; earlier ones (100 Continue, a
// proxy's 200 Connection established, redirects) are skipped.
func parseCapture(data []byte) (*capture, error) {
	rest := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	rest = bytes.TrimLeft(rest, " \t\r\n")
	if len(rest) > 0 && (rest[0] == '*' || rest[0] == '>' || rest[0] == '<') {
		rest = fromVerbose(rest)
	}
	var c *capture
	for {
		line, after, _ := cutLine(rest)
		status, ok := parseStatusLine(line)
		if !ok {
			if c == nil {
				return nil, errNoStatus
			}
			break // the body
		}
		c = &capture{status: status, header: http.Header{}}
		rest = after
		// The header line being read: its name, and its value with any
		// continuation lines, joined once it is complete (appending each
		// to a string would copy the value once per line).
		var last string
		var value []byte
		flush := func() {
			if last != "" {
				c.header.Add(last, string(value))
				last = ""
			}
		}
		for len(rest) > 0 {
			line, after, _ = cutLine(rest)
			rest = after
			if len(bytes.TrimSpace(line)) == 0 {
				break
			}
			if (line[0] == ' ' || line[0] == '\t') && last != "" {
				value = append(append(value, ' '), bytes.TrimSpace(line)...)
				continue
			}
			flush()
			k, val, ok := bytes.Cut(line, []byte(":"))
			k = bytes.TrimSpace(k)
			if !ok || len(k) == 0 {
				continue // not a header line: curl never prints one; skip it
			}
			last = http.CanonicalHeaderKey(string(k))
			value = append(value[:0], bytes.TrimSpace(val)...)
		}
		flush()
		if len(rest) == 0 {
			break
		}
	}
	if c.status < 200 {
		return nil, fmt.Errorf("the last response is an interim HTTP %d; the final response is missing", c.status)
	}
	c.body = rest
	return c, nil
}

// unframed returns c's body as the server meant it, when the capture kept
// it as it travelled: without its chunked framing (curl --raw, a proxy's
// dump) and gunzipped (a request that asked for gzip without curl's
// --compressed), up to maxInput bytes. curl -i removes both but keeps the
// headers that announce them: a body that does not parse as framed or as
// gzip is returned as it is.
func unframed(c *capture) []byte {
	body := c.body
	if strings.Contains(strings.ToLower(strings.Join(c.header.Values("Transfer-Encoding"), ",")), "chunked") {
		if b, err := io.ReadAll(io.LimitReader(httputil.NewChunkedReader(bytes.NewReader(body)), maxInput)); err == nil {
			body = b
		}
	}
	if enc := strings.ToLower(c.header.Get("Content-Encoding")); (enc == "gzip" || enc == "x-gzip") && bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			// A truncated capture gives what it holds.
			if b, _ := io.ReadAll(io.LimitReader(zr, maxInput)); len(b) > 0 {
				body = b
			}
		}
	}
	return body
}

// fromVerbose turns curl -v's output into curl -i's: its notes ("* ...")
// and the request's lines ("> ...") go, the response's lines lose their
// "< ", and the body stays. curl marks its lines with the character and a
// space, or the character alone on the blank line ending a header block:
// a body line such as "<html>" is the body's, kept as it is.
func fromVerbose(b []byte) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte("\n"))
		b = rest
		bare := string(bytes.TrimSuffix(line, []byte("\r")))
		switch {
		case bytes.HasPrefix(line, []byte("* ")), bytes.HasPrefix(line, []byte("> ")), bare == ">":
			continue
		case bytes.HasPrefix(line, []byte("< ")), bare == "<":
			line = bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("<")), []byte(" "))
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// cutLine splits b after its first line, returning the line without its
// LF or CRLF ending.
func cutLine(b []byte) (line, rest []byte, found bool) {
	line, rest, found = bytes.Cut(b, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), rest, found
}

// parseStatusLine reads "HTTP/1.1 429 Too Many Requests" or "HTTP/2 200"
// and returns the status.
func parseStatusLine(line []byte) (int, bool) {
	f := bytes.Fields(line)
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/")) || len(f[1]) != 3 {
		return 0, false
	}
	n, err := strconv.Atoi(string(f[1]))
	if err != nil || n < 100 || n > 599 {
		return 0, false
	}
	return n, true
}

// decodeFields decodes c with memerr.Parse and returns the report lines.
// Every value that came from the server passes through safeText, which
// also replaces secrets.
func decodeFields(v memerr.Vendor, c *capture, secrets []string) []field {
	if c.status < 400 && isEventStream(c.header) {
		return decodeStream(v, c, secrets)
	}
	err := memerr.Parse(v, c.status, c.header, c.body)
	var e *memerr.Error
	if !errors.As(err, &e) {
		fields := []field{
			{"result", "success"},
			{"http status", statusText(c.status)},
		}
		if err != nil { // not an *Error: cannot happen with today's Parse
			fields[0].value = "error"
			fields = append(fields, field{"error", safeText(err.Error(), secrets)})
		}
		return fields
	}
	return errorFields(e, c.header, secrets)
}

// errorFields returns the report lines of a decoded error.
func errorFields(e *memerr.Error, h http.Header, secrets []string) []field {
	fields := []field{
		{"result", "error"},
		{"vendor", e.Vendor.String()},
		{"http status", statusText(e.StatusCode)},
		{"code", orNone(safeText(e.Code, secrets))},
		{"kind", e.Kind.String()},
		{"retryable", yesNo(e.Retryable())},
		{"message", orNone(safeText(e.Message, secrets))},
		{"request id", orNone(safeText(e.RequestID, secrets))},
		{"retry after", retryAfter(e, h)},
	}
	if info, ok := e.Info(); ok {
		fields = append(fields,
			field{"meaning", info.Meaning},
			field{"resolution", info.Resolution})
	}
	return fields
}

// retryAfter describes the server's wait hint and where it came from: a
// header only when its hint is the one memerr took (an X-RateLimit-Reset
// on a failure that is not a rate limit, with requests remaining, is no
// hint), else the body.
func retryAfter(e *memerr.Error, h http.Header) string {
	src, hd := hintSource(h)
	if e.RetryAfter <= 0 {
		if src != "" && hd <= 0 {
			return "0s (from " + src + ", already past)"
		}
		return "none"
	}
	d := e.RetryAfter.Round(time.Millisecond).String()
	if diff := hd - e.RetryAfter; src != "" && diff > -time.Second && diff < time.Second {
		return d + " (from " + src + ")"
	}
	return d + " (from the body)"
}

// hintSource names the header memerr.ParseRetryAfter takes its hint from,
// with that hint, or returns "" when no header holds a valid hint.
func hintSource(h http.Header) (string, time.Duration) {
	for _, k := range []string{"Retry-After-Ms", "Retry-After", "X-Ratelimit-Reset"} {
		vals := h.Values(k)
		if len(vals) == 0 {
			continue
		}
		one := http.Header{k: vals}
		if d := h.Values("Date"); len(d) > 0 {
			one["Date"] = d
		}
		if d, ok := memerr.ParseRetryAfter(one, time.Now()); ok {
			return http.CanonicalHeaderKey(k), d
		}
	}
	return "", 0
}

// orNone prints an empty value as "none".
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
