package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeOut runs "memerr decode" on in and returns its standard output,
// requiring exit status 0 and nothing on stderr.
func decodeOut(t *testing.T, in string, args ...string) string {
	t.Helper()
	r := runCmd(t, strings.NewReader(in), append([]string{"decode"}, args...)...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	return r.stdout
}

// A curl -v capture of a proxy's HTML error page: the body's lines start
// with '<' like curl's response lines do, but they are the body, kept as
// sent, so the page's title is the message (as it is for curl -i).
func TestDecodeVerboseHTMLBody(t *testing.T) {
	page := "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
	in := "*   Trying 10.0.0.1:443...\n* Connected to api.example (10.0.0.1) port 443\n" +
		"> GET /v1/memories HTTP/1.1\r\n> Host: api.example\r\n> Accept: */*\r\n> \r\n" +
		"< HTTP/1.1 502 Bad Gateway\r\n< Server: nginx\r\n< Content-Type: text/html\r\n< \r\n" +
		page + "* Connection #0 to host api.example left intact\n"
	want := decodeOut(t, "HTTP/1.1 502 Bad Gateway\r\nServer: nginx\r\nContent-Type: text/html\r\n\r\n"+page)
	got := decodeOut(t, in)
	assert.Contains(t, got, "message:     502 Bad Gateway\n")
	assert.Equal(t, want, got)
}

// A key sent in the request's URL (curl -v prints the request line) is
// not printed when the server echoes it, whatever the words around it.
func TestDecodeScrubsKeyInRequestURL(t *testing.T) {
	in := "> GET /v1/memories?limit=5&api_key=QpZ8xY7wK2mN&access_token=Hh5%2Bt0kEn99 HTTP/1.1\r\n> Host: api\r\n>\r\n" +
		"< HTTP/1.1 404 Not Found\r\n< Content-Type: application/json\r\n<\r\n" +
		`{"success":false,"error":{"code":"NOT_FOUND","message":"nothing for QpZ8xY7wK2mN (Hh5+t0kEn99)"}}`
	got := decodeOut(t, in)
	assert.Contains(t, got, "code:        NOT_FOUND\n")
	assert.NotContains(t, got, "QpZ8xY7wK2mN")
	assert.NotContains(t, got, "Hh5+t0kEn99")
	assert.Contains(t, got, "message:     nothing for [redacted] ([redacted])\n")
}

// A server that echoes a header's key URL-encoded or JSON-escaped (a
// base64 key holds '/', '+' and '='), inside its message, does not get it
// printed either.
func TestDecodeScrubsEncodedEchoes(t *testing.T) {
	const key = "ab/cd+ef=gh12345"
	for _, echo := range []string{
		key,
		"ab%2Fcd%2Bef%3Dgh12345", // query-escaped
		"ab/cd%2Bef%3Dgh12345",   // escaped as a path
		"ab%2Fcd+ef=gh12345",     // escaped as a path segment
		`ab\/cd+ef=gh12345`,      // JSON with escaped slashes, quoted in the message
	} {
		t.Run(echo, func(t *testing.T) {
			msg := strings.ReplaceAll(strings.ReplaceAll("bad credential {'k': 'ECHO'}", "ECHO", echo), `\`, `\\`)
			in := "> GET /x HTTP/1.1\n> X-Api-Key: " + key + "\n>\n< HTTP/1.1 401 Unauthorized\n<\n" +
				`{"code":401,"msg":"` + msg + `","data":null}`
			got := decodeOut(t, in)
			assert.Contains(t, got, "kind:        unauthenticated\n")
			assert.Contains(t, got, "message:     bad credential {'k': '[redacted]'}\n")
		})
	}
}

// gzipped compresses s.
func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	require.NoError(t, err)
	_, err = zw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.String()
}

// A body captured as sent (curl -si -H 'Accept-Encoding: gzip') is
// gzipped: it is decoded as its uncompressed text, so a Coze error in an
// HTTP 200 is an error, not a success.
func TestDecodeGzipBody(t *testing.T) {
	const head = "HTTP/2 200\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\nx-tt-logid: L1\r\n\r\n"
	const body = `{"code":4009,"msg":"busy"}`
	want := decodeOut(t, head+body) // curl --compressed: decoded body, header kept
	assert.Contains(t, want, "code:        4009\n")
	assert.Equal(t, want, decodeOut(t, head+gzipped(t, body)))

	t.Run("bomb is bounded", func(t *testing.T) {
		bomb := gzipped(t, strings.Repeat(" ", 64<<20)) // 64 MiB of spaces, 280 KiB compressed
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		out := decodeOut(t, "HTTP/1.1 500 Internal Server Error\r\nContent-Encoding: gzip\r\n\r\n"+bomb)
		runtime.ReadMemStats(&after)
		assert.Contains(t, out, "kind:        internal\n")
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(48<<20), "bytes allocated")
	})
	t.Run("truncated", func(t *testing.T) {
		z := gzipped(t, `{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow down"}}`)
		out := decodeOut(t, "HTTP/1.1 429 Too Many Requests\r\nContent-Encoding: gzip\r\n\r\n"+z[:len(z)-6])
		assert.Contains(t, out, "kind:        rate limited\n")
		assert.NotContains(t, out, "\x1f")
	})
}

// A capture that kept the chunked framing (curl --raw, or a proxy's raw
// dump) is decoded as its body, not as the chunk sizes.
func TestDecodeChunkedBody(t *testing.T) {
	const body = `{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow down"}}`
	const head = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
	want := decodeOut(t, head+body) // curl -i: framing removed, header kept
	assert.Contains(t, want, "code:        RATE_LIMIT_EXCEEDED\n")
	chunked := fmt.Sprintf("%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\n\r\n", 20, body[:20], len(body)-20, body[20:])
	assert.Equal(t, want, decodeOut(t, head+chunked))
}

// A capture's key that memerr's redaction rules take in part (a segment
// after '/' with a key prefix, the value after "token=") is still removed
// whole: the rest of it is not printed.
func TestDecodeScrubsCaptureKeyWhole(t *testing.T) {
	for _, key := range []string{"Zx81KqPl02mN/sk-abcdef123456", "Zx81KqPl02mN token=abcdef123"} {
		t.Run(key, func(t *testing.T) {
			in := "> GET /x HTTP/1.1\n> X-Api-Key: " + key + "\n>\n< HTTP/1.1 401 Unauthorized\n<\n" +
				`{"code":401,"msg":"bad ` + key + ` end","data":null}`
			got := decodeOut(t, in)
			assert.Contains(t, got, "message:     bad [redacted] end\n")
			assert.NotContains(t, got, "Zx81KqPl02mN")
		})
	}
}

// A Set-Cookie header's attributes (Path, Domain, SameSite) are not
// secrets: the server's message keeps the path it names.
func TestDecodeSetCookieAttributesKept(t *testing.T) {
	in := "HTTP/1.1 403 Forbidden\r\nSet-Cookie: sid=Qw73JpLm55aB; Path=/v1/memories; Domain=.tensorheart.com; SameSite=Strict\r\n\r\n" +
		`{"success":false,"error":{"code":"INSUFFICIENT_PERMISSIONS","message":"no write access to /v1/memories (Strict mode)"}}`
	got := decodeOut(t, in)
	assert.Contains(t, got, "message:     no write access to /v1/memories (Strict mode)\n")
}

// The open-source MemOS server adds X-RateLimit-* to every response; on a
// failure that is not a rate limit, with requests remaining, its reset is
// no wait hint (memerr ignores it), and decode does not report it as one,
// nor as a hint "already past".
func TestDecodeRetryAfterIgnoredReset(t *testing.T) {
	reset := fmt.Sprint(time.Now().Add(50 * time.Second).Unix())
	head := "HTTP/1.1 503 Service Unavailable\r\nX-RateLimit-Limit: 100\r\nX-RateLimit-Remaining: 97\r\nX-RateLimit-Reset: " + reset + "\r\nContent-Type: application/json\r\n\r\n"

	got := decodeOut(t, head+`{"detail":"upstream model unavailable"}`)
	assert.Contains(t, got, "kind:        unavailable\n")
	assert.Contains(t, got, "retry after: none\n")

	got = decodeOut(t, head+`{"detail":"upstream model unavailable","retry_after":7}`)
	assert.Contains(t, got, "retry after: 7s (from the body)\n")

	// Out of requests, the same reset is the hint.
	got = decodeOut(t, strings.Replace(head, "503 Service Unavailable", "429 Too Many Requests", 1)+`{"detail":"rate limited"}`)
	assert.Regexp(t, `retry after: (49|50)(\.\d+)?s \(from X-Ratelimit-Reset\)\n`, got)
}

// FuzzDecode runs the whole command on any input: it exits 0 or 1, writes
// at most one line on stderr, and every line it prints is printable.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n0\r\n\r\n"))
	f.Add([]byte("> GET /x?key=abcdefgh HTTP/1.1\n> X-Api-Key: ab/cd+ef=gh12345\n>\n< HTTP/2 401\n< content-encoding: gzip\n<\n\x1f\x8b\x08\x00"))
	f.Add([]byte("HTTP/1.1 200 OK\nContent-Type: text/event-stream\n\nevent: error\ndata: {\"code\":4009,\"msg\":\"\\u001b[2J\"}\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var stdout, stderr bytes.Buffer
		code := run([]string{"decode"}, bytes.NewReader(data), &stdout, &stderr)
		if code != exitOK && code != exitFail {
			t.Fatalf("exit status %d: %s", code, stderr.String())
		}
		if strings.Count(stderr.String(), "\n") > 1 {
			t.Fatalf("stderr: %q", stderr.String())
		}
		for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
			for _, r := range line {
				if r != ' ' && !unicode.IsPrint(r) {
					t.Fatalf("unprintable %q in %q", r, line)
				}
			}
		}
	})
}
