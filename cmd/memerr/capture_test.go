package main

import (
	"strings"
	"testing"

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
