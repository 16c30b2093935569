package memerr

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingBody wraps a reader, counting the bytes handed out and recording
// Close.
type countingBody struct {
	r      io.Reader
	n      int64
	closed bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("read after close")
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *countingBody) Close() error { b.closed = true; return nil }

// endless is a body that never ends: prefix, then the filler byte forever.
type endless struct {
	prefix []byte
	fill   byte
}

func (e *endless) Read(p []byte) (int, error) {
	n := copy(p, e.prefix)
	e.prefix = e.prefix[n:]
	for i := n; i < len(p); i++ {
		p[i] = e.fill
	}
	return len(p), nil
}

func response(status int, contentType string, length int64, body io.Reader) (*http.Response, *countingBody) {
	cb := &countingBody{r: body}
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return &http.Response{
		StatusCode:    status,
		Header:        h,
		Body:          cb,
		ContentLength: length,
		Request:       &http.Request{Method: http.MethodPost},
	}, cb
}

// jsonOfSize returns a Coze success body of exactly n bytes.
func jsonOfSize(n int) []byte {
	head := `{"code":0,"msg":"","data":{"text":"`
	tail := `"}}`
	var b bytes.Buffer
	b.WriteString(head)
	for i := 0; b.Len() < n-len(tail); i++ {
		b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[i%36])
	}
	b.WriteString(tail)
	return b.Bytes()
}

// readSlack is how far past a bound a reader may be asked to go.
const readSlack = 512

func TestDecodeBoundsErrorBody(t *testing.T) {
	tests := []struct {
		name  string
		dec   Decoder
		bound int64
		body  *endless
	}{
		{"default bound, HTML", Decoder{}, DefaultMaxErrorBody, &endless{prefix: []byte("<html><title>500 oops</title>"), fill: 'x'}},
		{"default bound, JSON", Decoder{}, DefaultMaxErrorBody, &endless{prefix: []byte(`{"code":50000,"message":"`), fill: 'x'}},
		{"small bound", Decoder{MaxErrorBody: 1000}, 1000, &endless{prefix: []byte(`{"code":50000,"message":"`), fill: 'y'}},
		{"bound over a chunk", Decoder{MaxErrorBody: 70000}, 70000, &endless{fill: ' '}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, cb := response(500, "application/json", -1, tc.body)
			err := tc.dec.Decode(resp)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, Generic, e.Vendor, "a cut body is not a known envelope")
			assert.Equal(t, KindInternal, e.Kind)
			assert.LessOrEqual(t, cb.n, tc.bound+readSlack, "bytes read")
			assert.GreaterOrEqual(t, cb.n, tc.bound, "reads up to the bound")
			assert.True(t, cb.closed, "body closed")
			assertOneLine(t, e.Error())
			assert.LessOrEqual(t, len(e.Error()), 1024)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		length      int64 // -1: chunked; -2: len(body)
		body        string
		want        Code
		kind        Kind
	}{
		{"memos in HTTP 200", 200, "application/json", -2, `{"code":40300,"message":"Rate limit exceeded","data":null}`, Code{MemOS, "40300"}, KindRateLimited},
		{"coze in HTTP 200, chunked", 200, "application/json; charset=utf-8", -1, `{"code":4009,"msg":"busy","detail":{"logid":"x"}}`, Code{Coze, "4009"}, KindUnavailable},
		{"coze in HTTP 200, no content type", 200, "", -2, `{"code":4011,"msg":"余额不足"}`, Code{Coze, "4011"}, KindInsufficientBalance},
		{"tensorheart 429", 429, "application/json", -2, `{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"x"}}`, Code{Tensorheart, "RATE_LIMIT_EXCEEDED"}, KindRateLimited},
		{"html 502, chunked", 502, "text/html", -1, "<html><title>502 Bad Gateway</title></html>", Code{Generic, "502"}, KindUnavailable},
		{"empty 503", 503, "", 0, "", Code{Generic, "503"}, KindUnavailable},
		{"error status with an event stream", 500, "text/event-stream", -1, "data: boom\n\n", Code{Generic, "500"}, KindInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			length := tc.length
			if length == -2 {
				length = int64(len(tc.body))
			}
			resp, cb := response(tc.status, tc.contentType, length, iotest.OneByteReader(strings.NewReader(tc.body)))
			err := Decode(resp)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.want, Code{e.Vendor, e.Code})
			assert.Equal(t, tc.kind, e.Kind)
			assert.Equal(t, tc.status, e.StatusCode)
			assert.True(t, cb.closed, "body closed")

			again := Decode(resp)
			assert.Same(t, e, again, "a decoded response keeps its verdict")
		})
	}
}

func TestDecodeSuccessLeavesBodyReadable(t *testing.T) {
	small := []byte(`{"code":0,"msg":"","data":{"id":"7366061405853843507"}}`)
	large := jsonOfSize(64 << 10)
	atLimit := jsonOfSize(PeekLimit)
	overLimit := jsonOfSize(PeekLimit + 1)
	stream := []byte("event: conversation.message.delta\ndata: {\"code\":4009}\n\n")
	tests := []struct {
		name        string
		contentType string
		length      int64 // -1: chunked; -2: len(body)
		body        []byte
		maxPeek     int64 // most bytes Decode may read ahead
	}{
		{"small JSON", "application/json", -2, small, int64(len(small)) + 1},
		{"small JSON, chunked", "application/json", -1, small, PeekLimit + 1},
		{"small JSON, no content type", "", -2, small, int64(len(small)) + 1},
		{"JSON at PeekLimit, chunked", "application/json", -1, atLimit, PeekLimit + 1},
		{"JSON over PeekLimit, chunked", "application/json", -1, overLimit, PeekLimit + 1},
		{"large JSON with length", "application/json", -2, large, 0},
		{"large JSON, chunked", "application/json", -1, large, PeekLimit + 1},
		{"event stream", "text/event-stream", -1, stream, 0},
		{"event stream with length", "text/event-stream", -2, stream, 0},
		{"ndjson", "application/x-ndjson", -1, []byte(`{"code":4009}` + "\n"), 0},
		{"stream+json", "application/stream+json", -1, []byte(`{"code":4009}` + "\n"), 0},
		{"geo+json-seq", "application/geo+json-seq", -1, []byte("\x1e" + `{"code":4009}` + "\n"), 0},
		{"unknown length, no content type", "", -1, small, 0},
		{"empty", "application/json", 0, nil, 0},
		{"binary", "application/octet-stream", -2, []byte{0, 1, 2, 0xff}, 0},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			name := tc.name
			if oneByte {
				name += "/one byte reads"
			}
			t.Run(name, func(t *testing.T) {
				length := tc.length
				if length == -2 {
					length = int64(len(tc.body))
				}
				var r io.Reader = bytes.NewReader(tc.body)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				resp, cb := response(200, tc.contentType, length, r)
				require.NoError(t, Decode(resp))
				assert.LessOrEqual(t, cb.n, tc.maxPeek, "bytes read ahead")
				if cb.closed {
					assert.Equal(t, int64(len(tc.body)), cb.n, "the original body is closed early only once read to its end")
				}

				got, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(tc.body, got), "body byte-exact from the first byte (got %d bytes, want %d)", len(got), len(tc.body))
				require.NoError(t, resp.Body.Close())
				assert.True(t, cb.closed, "Close reaches the original body")

				require.NoError(t, Decode(resp), "decoding again keeps the verdict")
			})
		}
	}
}

func TestDecodeSuccessReadTwiceByDecode(t *testing.T) {
	body := []byte(`{"success":true,"data":{"id":"m1"},"meta":{"request_id":"req_x"}}`)
	resp, _ := response(200, "application/json", int64(len(body)), bytes.NewReader(body))
	require.NoError(t, Decode(resp))
	require.NoError(t, Decode(resp))
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, string(body), string(got))
}

func TestDecodeSuccessReadError(t *testing.T) {
	boom := errors.New("connection reset")
	head := `{"code":0,"msg":"","data":{"te`
	resp, _ := response(200, "application/json", -1, io.MultiReader(strings.NewReader(head), iotest.ErrReader(boom)))
	require.NoError(t, Decode(resp), "a body that breaks is not an API error")
	got, err := io.ReadAll(resp.Body)
	assert.ErrorIs(t, err, boom, "the caller sees the same read error")
	assert.Equal(t, head, string(got), "after the bytes read before it")
}

func TestDecodeHEADAndNoBody(t *testing.T) {
	resp, cb := response(200, "application/json", 50, strings.NewReader(`{"code":4009}`))
	resp.Request.Method = http.MethodHead
	require.NoError(t, Decode(resp))
	assert.Zero(t, cb.n)

	resp = &http.Response{StatusCode: 204, Header: http.Header{}, Body: http.NoBody}
	require.NoError(t, Decode(resp))

	resp = &http.Response{StatusCode: 404, Header: http.Header{}}
	var e *Error
	require.ErrorAs(t, Decode(resp), &e)
	assert.Equal(t, Code{Generic, "404"}, Code{e.Vendor, e.Code})

	assert.Error(t, Decode(nil))
}

func TestDecoderVendorHint(t *testing.T) {
	body := `{"code":40300,"message":"Rate limit exceeded"}`
	resp, _ := response(200, "application/json", int64(len(body)), strings.NewReader(body))
	var e *Error
	require.ErrorAs(t, Decoder{Vendor: MemOS}.Decode(resp), &e)
	assert.Equal(t, MemOS, e.Vendor)
	assert.Equal(t, KindRateLimited, e.Kind)
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name   string
		vendor Vendor
		data   string
		want   *Error // nil: no error
	}{
		{name: "coze chat error event", data: `{"code":4009,"msg":"已达系统请求上限，请稍后重试"}`,
			want: &Error{Vendor: Coze, Code: "4009", Kind: KindUnavailable, Message: "已达系统请求上限，请稍后重试"}},
		{name: "data: prefix", data: `data: {"code":4000,"msg":"请求参数错误"}`,
			want: &Error{Vendor: Coze, Code: "4000", Kind: KindInvalidRequest, Message: "请求参数错误"}},
		{name: "data: prefix without space and with CRLF", data: "data:{\"code\":4011,\"msg\":\"余额不足\"}\r\n",
			want: &Error{Vendor: Coze, Code: "4011", Kind: KindInsufficientBalance, Message: "余额不足"}},
		{name: "workflow stream error", data: `{"error_code":4000,"error_message":"参数错误"}`,
			want: &Error{Vendor: Coze, Code: "4000", Kind: KindInvalidRequest, Message: "参数错误"}},
		{name: "workflow stream error with data: prefix", data: `data: {"error_code":5000,"error_message":"服务器内部错误"}`,
			want: &Error{Vendor: Coze, Code: "5000", Kind: KindInternal, Message: "服务器内部错误"}},
		{name: "workflow error code as string", data: `{"error_code":"4200","error_message":"资源未找到"}`,
			want: &Error{Vendor: Coze, Code: "4200", Kind: KindNotFound, Message: "资源未找到"}},
		{name: "explicit vendor", vendor: MemOS, data: `{"code":40300,"message":"Rate limit exceeded"}`,
			want: &Error{Vendor: MemOS, Code: "40300", Kind: KindRateLimited, Message: "Rate limit exceeded"}},
		{name: "explicit coze", vendor: Coze, data: `{"code":4008,"msg":"用户限流"}`,
			want: &Error{Vendor: Coze, Code: "4008", Kind: KindRateLimited, Message: "用户限流"}},
		{name: "code 0", data: `{"code":0,"msg":""}`},
		{name: "code 0 with data: prefix", data: `data: {"code":0,"msg":"success"}`},
		{name: "workflow code 0", data: `{"error_code":0,"error_message":""}`},
		{name: "a message delta is not an error", data: `data: {"id":"1","role":"assistant","content":"hi"}`},
		{name: "garbage", data: "not json at all",
			want: &Error{Vendor: Generic, Kind: KindUnknown, Message: "not json at all"}},
		{name: "truncated", data: `data: {"code":4009,"msg":"bu`,
			want: &Error{Vendor: Generic, Kind: KindUnknown}},
		{name: "end-of-stream marker", data: "data: [DONE]"},
		// Coze's "done" event may hold the marker as a JSON string:
		// coze-go's chats.go accepts "", [DONE] and "[DONE]".
		{name: "end-of-stream marker as a JSON string", data: `data:"[DONE]"`},
		{name: "empty", data: "",
			want: &Error{Vendor: Generic, Kind: KindUnknown, Message: "error event without data"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ParseEvent(tc.vendor, []byte(tc.data))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.want.Vendor, e.Vendor)
			assert.Equal(t, tc.want.Code, e.Code)
			assert.Equal(t, tc.want.Kind, e.Kind, "Kind: %v", e.Kind)
			assert.Equal(t, tc.want.Message, e.Message)
			assert.Equal(t, http.StatusOK, e.StatusCode, "stream errors arrive in HTTP 200")
			assertOneLine(t, e.Error())
		})
	}
}

func TestScanSkipsNestedValues(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
		code string
	}{
		{"escaped quote inside data", `{"data":{"s":"a\"}]"},"code":4009}`, true, "4009"},
		{"escaped backslash before the quote", `{"data":["a\\"],"code":4009}`, true, "4009"},
		{"three backslashes", `{"data":["a\\\"}"],"code":4009}`, true, "4009"},
		{"brackets in strings", `{"data":{"a":"{{[[","b":"]]}}"},"code":4009}`, true, "4009"},
		{"unicode escape", `{"data":{"a":"\u005c"},"code":4009}`, true, "4009"},
		{"unclosed string in data", `{"data":{"a":"x},"code":4009}`, false, ""},
		{"backslash at the end", `{"data":{"a":"x\`, false, ""},
		{"unclosed array", `{"data":[1,2,{"a":[]}`, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := profiles.Load()
			var f fields
			ok := scanFields([]byte(tc.body), set, &f)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.ok, json.Valid([]byte(tc.body)), "the fixture agrees with encoding/json")
			if ok {
				assert.Equal(t, tc.code, f.get(set.byVendor[Coze].envs[0].code).code())
			}
		})
	}
}

// TestDecodeAttemptsThroughTransport retries a 503, then gets a 2xx whose
// body holds a failure the Transport hands on (a failed chat it read ahead,
// an in-body error it did not read ahead because its length was unknown):
// the *Error of Decode and of Client.Do counts both attempts.
func TestDecodeAttemptsThroughTransport(t *testing.T) {
	bodies := map[string]string{
		"/chat": `{"code":0,"msg":"","data":{"id":"c1","status":"failed","last_error":{"code":4011,"msg":"no balance"}}}`,
		"/err":  `{"code":4000,"msg":"bad param"}`,
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		b := bodies[r.URL.Path]
		if r.URL.Query().Has("chunked") {
			w.Write([]byte(b[:3]))
			w.(http.Flusher).Flush() // no Content-Length: not read ahead
			b = b[3:]
		}
		w.Write([]byte(b))
	}))
	defer srv.Close()
	for _, path := range []string{"/chat", "/chat?chunked", "/err?chunked"} {
		t.Run(path, func(t *testing.T) {
			tr := NewTransport(nil, WithBackoff(time.Millisecond, 2*time.Millisecond))
			calls.Store(0)
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL + path)
			require.NoError(t, err)
			var e *Error
			require.ErrorAs(t, Decode(resp), &e)
			assert.Equal(t, 2, e.Attempts, "Decode")

			calls.Store(0)
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			_, err = NewClient(WithBackoff(time.Millisecond, 2*time.Millisecond)).Do(req)
			require.ErrorAs(t, err, &e)
			assert.Equal(t, 2, e.Attempts, "Client.Do")
		})
	}
}

// TestParseBrokenJSONNotQuoted gives error bodies that are JSON but not a
// whole object, behind a UTF-8 byte order mark (which some servers put
// first) or a JSON text sequence's record separator: the message is the
// status text, never the raw JSON; a text body behind a mark is quoted
// without it.
func TestParseBrokenJSONNotQuoted(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"BOM, object cut short", "\xef\xbb\xbf{\"code\":4009,\"msg\":\"busy\",\"data\":{\"x\":1", "Bad Request"},
		{"BOM, two objects", "\xef\xbb\xbf{\"code\":4009}\n{\"code\":1}", "Bad Request"},
		{"BOM, array", "\xef\xbb\xbf[{\"code\":4009}]", "Bad Request"},
		{"JSON text sequence", "\x1e{\"code\":4009,\"msg\":\"busy\"}\n", "Bad Request"},
		{"BOM, text", "\xef\xbb\xbfservice down\n", "service down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e *Error
			require.ErrorAs(t, Parse(Auto, http.StatusBadRequest, nil, []byte(tc.body)), &e)
			assert.Equal(t, Generic, e.Vendor)
			assert.Equal(t, tc.want, e.Message)
		})
	}
}

// TestDecodeDeclaredLengthIsNoAllocation decodes error responses that
// declare a huge Content-Length and send a few bytes, under a bound that
// does not stop it (WithMaxErrorBody and MaxErrorBody take any value,
// math.MaxInt64 included): memory follows the bytes that came, not the
// header's claim, which a server or proxy may get wrong. A claim of a
// terabyte must not end the process.
func TestDecodeDeclaredLengthIsNoAllocation(t *testing.T) {
	body := `{"code":5000,"msg":"oops"}`
	for _, declared := range []int64{64 << 20, 1 << 40} {
		resp, _ := response(500, "application/json", declared, strings.NewReader(body))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := Decoder{MaxErrorBody: math.MaxInt64}.Decode(resp)
		runtime.ReadMemStats(&after)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, Code{Coze, "5000"}, Code{e.Vendor, e.Code})
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "bytes allocated for a %d-byte claim (other goroutines count too)", declared)
	}
}
