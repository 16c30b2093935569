package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memerr/memerr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// result is what one in-process run of the command produced.
type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs the command in-process with stdin as its standard input.
func runCmd(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	code := run(args, stdin, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// golden compares got with testdata/name.golden, or rewrites the file
// under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./cmd/memerr -update")
	assert.Equal(t, string(want), got)
}

func TestGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"explain_coze_4009", []string{"explain", "coze", "4009"}},
		{"explain_memos_40301", []string{"explain", "memos", "40301"}},
		{"codes_tensorheart", []string{"codes", "tensorheart"}},
		{"codes_json_memoryos", []string{"codes", "--json", "memoryos"}},
		{"decode_coze_4011_http2", []string{"decode", "testdata/coze_4011_http2.txt"}},
		{"decode_tensorheart_429", []string{"decode", "testdata/tensorheart_429.txt"}},
		{"decode_nginx_502", []string{"decode", "testdata/nginx_502.txt"}},
		{"decode_memos_continue", []string{"decode", "testdata/memos_continue.txt"}},
		{"decode_memoryos_proxy", []string{"decode", "testdata/memoryos_proxy.txt"}},
		{"decode_success", []string{"decode", "testdata/success.txt"}},
		{"decode_secret_echo", []string{"decode", "testdata/secret_echo.txt"}},
		{"decode_coze_chat_failed_stream", []string{"decode", "testdata/coze_chat_failed_stream.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r := runCmd(t, nil, tt.args...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			golden(t, tt.golden, r.stdout)
		})
	}
}

// captures are the responses in testdata, as curl -i printed them.
var captures = []string{
	"coze_4011_http2.txt",
	"tensorheart_429.txt",
	"nginx_502.txt",
	"memos_continue.txt",
	"memoryos_proxy.txt",
	"success.txt",
	"secret_echo.txt",
	// A Coze chat stream (curl -si -N) whose chat fails: the events as
	// coze-py's tests/testdata/chat_failed_resp.txt has them, "event:x"
	// without a space.
	"coze_chat_failed_stream.txt",
}

func TestDecodeStdinAndLineEnds(t *testing.T) {
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			require.NoError(t, err)
			want := runCmd(t, nil, "decode", filepath.Join("testdata", name))
			require.Equal(t, 0, want.code, want.stderr)

			lf := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
			crlf := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
			for _, in := range []struct {
				name string
				args []string
				data []byte
			}{
				{"stdin dash", []string{"decode", "-"}, data},
				{"stdin implicit", []string{"decode"}, data},
				{"LF", []string{"decode"}, lf},
				{"CRLF", []string{"decode"}, crlf},
				{"leading blank lines", []string{"decode"}, append([]byte("\n\r\n"), data...)},
			} {
				got := runCmd(t, bytes.NewReader(in.data), in.args...)
				assert.Equal(t, want, got, in.name)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	tests := []struct {
		name  string
		input string
		args  []string
		want  []string // lines the output must contain
	}{
		{
			name:  "coze in-body error is an error, vendor from X-Tt-Logid",
			input: "HTTP/2 200\nx-tt-logid: 2024LOGID\n\n{\"code\":4009,\"msg\":\"busy\"}",
			want:  []string{"result:      error", "vendor:      coze", "code:        4009", "kind:        unavailable", "retryable:   yes", "request id:  2024LOGID"},
		},
		{
			name:  "vendor flag after the file",
			input: "HTTP/1.1 200 OK\n\n{\"code\":40300,\"message\":\"too many\"}",
			args:  []string{"-", "--vendor", "MemOS"},
			want:  []string{"vendor:      memos", "code:        40300", "kind:        rate limited"},
		},
		{
			name:  "vendor flag with equals",
			input: "HTTP/1.1 429 Too Many Requests\nRetry-After-Ms: 1500\n\n{\"code\":429,\"msg\":\"Rate limit exceeded\",\"data\":null}",
			args:  []string{"--vendor=memories.ai"},
			want:  []string{"vendor:      memoriesai", "retry after: 1.5s (from Retry-After-Ms)"},
		},
		{
			name:  "body retry_after of self-hosted MemOS",
			input: "HTTP/1.1 429 Too Many Requests\n\n{\"detail\":\"rate limited\",\"retry_after\":7}",
			want:  []string{"vendor:      memos", "retry after: 7s (from the body)"},
		},
		{
			name:  "empty 503 with folded header",
			input: "HTTP/1.1 503 Service Unavailable\nRetry-After:\n 12\n\n",
			want:  []string{"vendor:      generic", "http status: 503 Service Unavailable", "kind:        unavailable", "retry after: 12s (from Retry-After)"},
		},
		{
			name:  "headers only, no body",
			input: "HTTP/1.1 204 No Content\nDate: Tue, 09 Jul 2024 10:00:00 GMT",
			want:  []string{"result:      success", "http status: 204 No Content"},
		},
		{
			name:  "redirect block then the final response",
			input: "HTTP/1.1 301 Moved Permanently\nLocation: https://x\n\nHTTP/1.1 404 Not Found\nContent-Type: application/json\n\n{\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no\"},\"meta\":{\"request_id\":\"req_1\"}}",
			want:  []string{"http status: 404 Not Found", "vendor:      memoryos", "code:        NOT_FOUND"},
		},
		{
			name:  "unknown code of a known vendor keeps its code, no meaning",
			input: "HTTP/1.1 200 OK\n\n{\"code\":4999,\"msg\":\"new\",\"detail\":{\"logid\":\"L\"}}",
			want:  []string{"code:        4999", "message:     new"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"decode"}, tt.args...)
			r := runCmd(t, strings.NewReader(tt.input), args...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			for _, w := range tt.want {
				assert.Contains(t, r.stdout, w+"\n")
			}
		})
	}
}

// TestDecodeStreams: a stream's failure comes inside its events, after an
// HTTP 200 sent before the failure was known.
func TestDecodeStreams(t *testing.T) {
	const head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Tt-Logid: 2025LOGID\r\n\r\n"
	tests := []struct {
		name  string
		input string
		want  []string // lines the output must contain
	}{
		{
			// The open-source Coze server's chat stream (coze-dev/coze-studio,
			// openapi_agent_run.go): "event: error", data {code,msg}, and
			// the stream goes on; CRLF line ends and a keep-alive comment.
			name: "coze chat error event",
			input: head + ": ping\r\n\r\nevent: conversation.message.delta\r\ndata: {\"id\":\"m\",\"content\":\"hi\"}\r\n\r\n" +
				"event: error\r\ndata: {\"code\":4009,\"msg\":\"busy\"}\r\n\r\nevent: conversation.stream.done\r\n\r\n",
			want: []string{"result:      error", "vendor:      coze", "event:       error", "code:        4009", "kind:        unavailable", "request id:  2025LOGID"},
		},
		{
			// A workflow stream (coze-py tests/testdata/workflow_run_stream_resp.txt):
			// id lines, "Error" with error_code, more events after it.
			name: "coze workflow Error event",
			input: head + "id: 0\nevent: Message\ndata: {\"content\":\"x\",\"node_is_finish\":true}\n\n" +
				"id: 1\nevent: Error\ndata: {\"error_code\":4000,\"error_message\":\"Request parameter error\"}\n\n" +
				"id: 2\nevent: Done\ndata: {}\n\n",
			want: []string{"event:       Error", "code:        4000", "kind:        invalid request", "message:     Request parameter error"},
		},
		{
			// One event's data over two lines joins with a newline: still
			// one JSON object.
			name:  "multi-line data",
			input: head + "event: error\ndata: {\"code\":4011,\ndata: \"msg\":\"no balance\"}\n\n",
			want:  []string{"code:        4011", "kind:        insufficient balance", "message:     no balance"},
		},
		{
			// The MemOS chat stream (src/memos/api/handlers/chat_handler.py):
			// bare data lines, the failure a {"type":"error"} frame.
			name: "memos error frame",
			input: "HTTP/1.1 200 OK\nContent-Type: text/event-stream\n\ndata: {\"type\": \"status\", \"data\": \"0\"}\n\n" +
				"data: {\"type\": \"text\", \"data\": \"hel\"}\n\ndata: {\"type\": \"error\", \"content\": \"model timed out\"}\n\n",
			want: []string{"vendor:      memos", "kind:        unavailable", "message:     model timed out"},
		},
		{
			name:  "a stream without failure",
			input: head + "event: conversation.message.delta\ndata: {\"content\":\"hi\"}\n\nevent: conversation.chat.completed\ndata: {\"status\":\"completed\",\"last_error\":{\"code\":0,\"msg\":\"\"}}\n\nevent: done\ndata: [DONE]\n\n",
			want:  []string{"result:      success", "http status: 200 OK", "events:      3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, strings.NewReader(tt.input), "decode")
			require.Equal(t, 0, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			for _, w := range tt.want {
				assert.Contains(t, r.stdout, w+"\n")
			}
		})
	}
}

func TestDecodeNeverPrintsSecrets(t *testing.T) {
	secrets := []string{"sk-live", "SECRET", "COOKIESECRET", "abcdef0123456789", "Authorization", "Cookie", "session="}
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			r := runCmd(t, nil, "decode", filepath.Join("testdata", name))
			require.Equal(t, 0, r.code, r.stderr)
			for _, s := range secrets {
				assert.NotContains(t, r.stdout, s)
			}
		})
	}
	t.Run("message echoing a key in a header-less body", func(t *testing.T) {
		in := "HTTP/1.1 403 Forbidden\nSet-Cookie: id=sk-abcdefghijklmnop\n\n" +
			`{"success":false,"error":{"code":"INSUFFICIENT_PERMISSIONS","message":"key sk-abcdefghijklmnop lacks scope; Authorization: Bearer sk-abcdefghijklmnop"}}`
		r := runCmd(t, strings.NewReader(in), "decode")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "code:        INSUFFICIENT_PERMISSIONS")
		assert.NotContains(t, r.stdout, "sk-abcdefghijklmnop")
		assert.NotContains(t, r.stdout, "Set-Cookie")
	})
}

// A curl -v capture shows the request's credentials in any header named
// for one, and in its cookies; a server echoing them does not get them
// printed.
func TestDecodeScrubsEveryRequestCredential(t *testing.T) {
	in := "> GET /v1/x HTTP/1.1\n> Host: api\n> X-Access-Token: Zx81KqPl02mN\n> X-Memories-Api-Key: Rt55HgUk09zQ\n" +
		"> Cookie: lang=en; session=Qw73JpLm55aB\n>\n< HTTP/1.1 401 Unauthorized\n< Content-Type: application/json\n" +
		"< X-Request-Id: Qw73JpLm55aB\n<\n" +
		`{"code":401,"msg":"bad token Zx81KqPl02mN or Rt55HgUk09zQ for session Qw73JpLm55aB","data":null}` + "\n"
	r := runCmd(t, strings.NewReader(in), "decode")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "kind:        unauthenticated")
	for _, s := range []string{"Zx81KqPl02mN", "Rt55HgUk09zQ", "Qw73JpLm55aB"} {
		assert.NotContains(t, r.stdout, s)
	}
}

// A header folded over many continuation lines costs memory in proportion
// to its length: each line is not copied onto all the lines before it
// (64 Ki lines once took 4 GB of allocation, 8 MiB of them half an hour).
func TestDecodeFoldedHeaderLinear(t *testing.T) {
	in := "HTTP/1.1 500 Internal Server Error\nX-Request-Id: a\n" + strings.Repeat(" x\n", 64<<10) + "\n{}"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := runCmd(t, strings.NewReader(in), "decode")
	runtime.ReadMemStats(&after)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "request id:  a x x x")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(32<<20), "bytes allocated for a %d-byte capture", len(in))
}

// endless is a reader that never ends, counting the bytes it gave.
type endless struct{ n int64 }

// Read fills p with 'a' and never fails.
func (r *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	r.n += int64(len(p))
	return len(p), nil
}

func TestDecodeBoundsInput(t *testing.T) {
	body := &endless{}
	in := io.MultiReader(strings.NewReader("HTTP/1.1 500 Internal Server Error\n\n"), body)
	r := runCmd(t, in, "decode")
	require.Equal(t, 0, r.code, r.stderr)
	assert.LessOrEqual(t, body.n, int64(maxInput+64<<10), "read far beyond the bound")
	assert.Contains(t, r.stdout, "vendor:      generic\n")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"))
	assert.True(t, strings.HasPrefix(r.stderr, "memerr: warning: stdin is larger than 8 MiB"), r.stderr)
}

func TestExplainSpellings(t *testing.T) {
	tests := []struct {
		args       []string
		vendor     string
		code       string
		wantBlocks int
	}{
		{[]string{"explain", "memories.ai", "402"}, "memoriesai", "402", 1},
		{[]string{"explain", "memory-os", "RATE_LIMITED"}, "memoryos", "RATE_LIMITED", 1},
		{[]string{"explain", "Memory OS", "rate_limited"}, "memoryos", "RATE_LIMITED", 1},
		{[]string{"explain", "MemOS", "40300"}, "memos", "40300", 1},
		{[]string{"explain", "memtensor", "50103"}, "memos", "50103", 1},
		{[]string{"explain", "COZE", "700012006"}, "coze", "700012006", 1},
		{[]string{"explain", "Tensorheart", "daily_quota_exceeded"}, "tensorheart", "DAILY_QUOTA_EXCEEDED", 1},
		{[]string{"explain", "http", "503"}, "generic", "503", 1},
		{[]string{"explain", "--", "coze", "4009"}, "coze", "4009", 1},
		{[]string{"explain", "4011"}, "coze", "4011", 1},
		{[]string{"explain", "auto", "4011"}, "coze", "4011", 1},
		{[]string{"explain", "VALIDATION_ERROR"}, "tensorheart", "VALIDATION_ERROR", 2},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCmd(t, nil, tt.args...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			assert.True(t, strings.HasPrefix(r.stdout, "vendor:      "+tt.vendor+"\ncode:        "+tt.code+"\n"), r.stdout)
			assert.Equal(t, tt.wantBlocks, strings.Count(r.stdout, "resolution:"))
		})
	}
}

func TestExplainEveryCode(t *testing.T) {
	for _, info := range memerr.Codes(memerr.Auto) {
		r := runCmd(t, nil, "explain", string(info.Code.Vendor), info.Code.Value)
		require.Equal(t, 0, r.code, info.Code.String())
		assert.Contains(t, r.stdout, "meaning:     "+info.Meaning+"\n")
		assert.Contains(t, r.stdout, "retryable:   "+yesNo(info.Retryable)+"\n")
	}
}

func TestCodes(t *testing.T) {
	all := memerr.Codes(memerr.Auto)

	t.Run("table of all vendors", func(t *testing.T) {
		r := runCmd(t, nil, "codes")
		require.Equal(t, 0, r.code, r.stderr)
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		require.Len(t, lines, len(all)+1)
		assert.Regexp(t, `^VENDOR +CODE +KIND +STATUS +RETRY +MEANING$`, lines[0])
		col := strings.Index(lines[0], "MEANING")
		for i, info := range all {
			assert.Equal(t, info.Meaning, lines[i+1][col:], "meaning column is aligned")
		}
		for _, v := range append(memerr.Vendors(), memerr.Generic) {
			assert.Contains(t, r.stdout, "\n"+string(v)+" ")
		}
	})

	t.Run("flags anywhere", func(t *testing.T) {
		a := runCmd(t, nil, "codes", "coze", "--json")
		b := runCmd(t, nil, "codes", "-json", "Coze")
		require.Equal(t, 0, a.code, a.stderr)
		assert.Equal(t, a, b)
	})

	t.Run("json of all vendors", func(t *testing.T) {
		r := runCmd(t, nil, "codes", "--json")
		require.Equal(t, 0, r.code, r.stderr)
		var got []map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		require.Len(t, got, len(all))
		for i, info := range all {
			assert.Equal(t, map[string]any{
				"vendor":     string(info.Code.Vendor),
				"code":       info.Code.Value,
				"kind":       info.Kind.String(),
				"status":     float64(info.Status),
				"retryable":  info.Retryable,
				"meaning":    info.Meaning,
				"resolution": info.Resolution,
			}, got[i])
		}
	})
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"memerr explain <vendor> <code>", "memerr codes [vendor] [--json]", "memerr decode [file|-] [--vendor V]", "Examples:", "Exit status"}},
		{[]string{"-h"}, []string{"memerr explain coze 4009", "memerr codes tensorheart", "memerr decode"}},
		{[]string{"--help"}, []string{"memories.ai", "memory-os"}},
		{[]string{"help", "explain"}, []string{"memerr explain coze 4009"}},
		{[]string{"help", "codes"}, []string{"memerr codes --json memory-os"}},
		{[]string{"help", "decode"}, []string{"curl -i", "--vendor V", "8 MiB"}},
		{[]string{"explain", "-h"}, []string{"Usage:\n  memerr explain"}},
		{[]string{"codes", "--help"}, []string{"Usage:\n  memerr codes"}},
		{[]string{"decode", "-h"}, []string{"Usage:\n  memerr decode"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCmd(t, nil, tt.args...)
			require.Equal(t, 0, r.code)
			assert.Empty(t, r.stderr)
			for _, w := range tt.want {
				assert.Contains(t, r.stdout, w)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string // the stderr line starts with "memerr: " + want
	}{
		{"no args", nil, "", exitUsage, "missing command"},
		{"unknown command", []string{"frobnicate"}, "", exitUsage, `unknown command "frobnicate"`},
		{"unknown flag at top", []string{"--json"}, "", exitUsage, `unknown command "--json"`},
		{"help of unknown command", []string{"help", "nope"}, "", exitUsage, `help: unknown command "nope"`},
		{"explain without args", []string{"explain"}, "", exitUsage, "explain: want a vendor and a code"},
		{"explain with three args", []string{"explain", "coze", "4009", "x"}, "", exitUsage, "explain: want a vendor and a code"},
		{"explain unknown vendor", []string{"explain", "openai", "429"}, "", exitUsage, `unknown vendor "openai"`},
		{"explain unknown code", []string{"explain", "coze", "9999"}, "", exitFail, `coze has no code "9999"`},
		{"explain unknown code, any vendor", []string{"explain", "NOPE"}, "", exitFail, `no vendor has the code "NOPE"`},
		{"explain bad flag", []string{"explain", "--json", "coze", "4009"}, "", exitUsage, "explain: flag provided but not defined: -json"},
		{"codes unknown vendor", []string{"codes", "acme"}, "", exitUsage, `unknown vendor "acme"`},
		{"codes two vendors", []string{"codes", "coze", "memos"}, "", exitUsage, "codes: want at most one vendor"},
		{"codes bad flag", []string{"codes", "--yaml"}, "", exitUsage, "codes: flag provided but not defined: -yaml"},
		{"decode missing file", []string{"decode", "testdata/does-not-exist.txt"}, "", exitFail, "decode: open testdata/does-not-exist.txt: no such file or directory"},
		{"decode a directory", []string{"decode", "testdata"}, "", exitFail, "decode: reading testdata:"},
		{"decode garbage", []string{"decode", "testdata/garbage.txt"}, "", exitFail, "decode: testdata/garbage.txt: no HTTP status line"},
		{"decode empty stdin", []string{"decode"}, "", exitFail, "decode: stdin: no HTTP status line"},
		{"decode bare JSON", []string{"decode", "-"}, `{"code":4009,"msg":"busy"}`, exitFail, "decode: stdin: no HTTP status line"},
		{"decode bad status", []string{"decode"}, "HTTP/1.1 abc Weird\n\n", exitFail, "decode: stdin: no HTTP status line"},
		{"decode only 100 Continue", []string{"decode"}, "HTTP/1.1 100 Continue\r\n\r\n", exitFail, "decode: stdin: the last response is an interim HTTP 100"},
		{"decode unknown vendor", []string{"decode", "--vendor", "acme"}, "", exitUsage, `unknown vendor "acme"`},
		{"decode vendor flag without value", []string{"decode", "--vendor"}, "", exitUsage, "decode: flag needs an argument: -vendor"},
		{"decode two files", []string{"decode", "a", "b"}, "", exitUsage, "decode: want at most one file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, strings.NewReader(tt.stdin), tt.args...)
			assert.Equal(t, tt.code, r.code)
			assert.Empty(t, r.stdout)
			assert.True(t, strings.HasPrefix(r.stderr, "memerr: "+tt.want), "stderr: %q", r.stderr)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.True(t, strings.HasSuffix(r.stderr, "\n"))
		})
	}
}

func FuzzParseCapture(f *testing.F) {
	for _, name := range append(captures, "garbage.txt") {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte("HTTP/1.1 100 Continue\n\nHTTP/2 200\n x\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCapture(data)
		if err != nil {
			return
		}
		if c.status < 200 || c.status > 599 {
			t.Fatalf("status %d", c.status)
		}
		for _, f := range decodeFields(memerr.Auto, c, nil) {
			if strings.ContainsAny(f.value, "\r\n") {
				t.Fatalf("%s: not one line: %q", f.key, f.value)
			}
		}
	})
}

func TestDecodePrintsServerTextSafely(t *testing.T) {
	// curl -v shows the request's headers; the server echoes the key and
	// sends terminal escapes and a second line in its message.
	capture := "* Connected to api.example\n> GET /v1/memories HTTP/1.1\n> Authorization: Bearer zq81KqPl02mNxx\n>\n" +
		"< HTTP/1.1 401 Unauthorized\n< Content-Type: application/json\n< X-Request-ID: req_1\n<\n" +
		`{"success":false,"error":{"code":"INVALID_API_KEY","message":"key zq81KqPl02mNxx rejected\u001b[31m\nsecond line\u202e"}}`
	var out, errOut strings.Builder
	code := run([]string{"decode", "-"}, strings.NewReader(capture), &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	got := out.String()
	assert.NotContains(t, got, "zq81KqPl02mNxx")
	assert.NotContains(t, got, "\x1b")
	assert.NotContains(t, got, "\u202e")
	assert.Contains(t, got, `message:     key [redacted] rejected\x1b[31m\nsecond line\u202e`+"\n")
}
