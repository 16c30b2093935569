package memerr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamResponse is a 200 text/event-stream response with body and the
// given header pairs.
func streamResponse(body io.Reader, header ...string) *http.Response {
	h := hdr(append([]string{"Content-Type", "text/event-stream"}, header...)...)
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(body)}
}

// readEvents reads every event of r to its end: the events, the first
// failure and the error that ended the reading (nil for io.EOF).
func readEvents(r *EventReader) (events []Event, failure *Error, end error) {
	for {
		ev, err := r.Next()
		var e *Error
		switch {
		case errors.As(err, &e):
			if failure == nil {
				failure = e
			}
		case err == io.EOF:
			return events, failure, nil
		case err != nil:
			return events, failure, err
		}
		events = append(events, ev)
	}
}

// A failure in the middle of a real stream is its event's *Error, with
// the response's log id; the events before it are returned as they came.
func TestEventReaderFailures(t *testing.T) {
	tests := []struct {
		name    string
		vendor  Vendor
		header  []string
		stream  string
		names   []string // the events' names, in order
		code    string
		kind    Kind
		message string
		id      string
	}{
		{
			// coze-py tests/testdata/chat_failed_resp.txt: the chat
			// fails inside a "conversation.chat.failed" event, no
			// space after the colons, the end marker quoted.
			name:   "coze failed chat",
			vendor: Coze,
			header: []string{"X-Tt-Logid", "20240711194445C1A4D6E1F1A6E5A0E9F2"},
			stream: "event:conversation.chat.created\ndata:{\"id\":\"7390342853760696354\",\"last_error\":{\"code\":0,\"msg\":\"\"},\"status\":\"created\"}\n\n" +
				"event:conversation.chat.failed\ndata:{\"id\":\"7390342853760696354\",\"last_error\":{\"code\":5000,\"msg\":\"event interval error\"},\"status\":\"failed\"}\n\n" +
				"event:done\ndata:\"[DONE]\"\n\n",
			names: []string{"conversation.chat.created", "conversation.chat.failed", "done"},
			code:  "5000", kind: KindInternal, message: "event interval error", id: "20240711194445C1A4D6E1F1A6E5A0E9F2",
		},
		{
			// The open-source Coze server's chat stream (coze-dev/coze-studio,
			// openapi_agent_run.go): "event: error" with {code,msg}; CRLF
			// line ends and a keep-alive comment.
			name:   "coze error event, CRLF",
			vendor: Auto,
			header: []string{"X-Tt-Logid", "2025LOGID"},
			stream: ": ping\r\n\r\nevent: conversation.message.delta\r\ndata: {\"id\":\"m\",\"content\":\"hi\"}\r\n\r\n" +
				"event: error\r\ndata: {\"code\":4009,\"msg\":\"busy\"}\r\n\r\nevent: conversation.stream.done\r\n\r\n",
			names: []string{"conversation.message.delta", "error", "conversation.stream.done"},
			code:  "4009", kind: KindUnavailable, message: "busy", id: "2025LOGID",
		},
		{
			// A workflow stream (coze-py tests/testdata/workflow_run_stream_resp.txt):
			// id lines, "Error" with error_code; CR alone ends its lines.
			name:   "coze workflow Error, CR line ends",
			vendor: Coze,
			stream: "id: 0\revent: Message\rdata: {\"content\":\"x\",\"node_is_finish\":true}\r\r" +
				"id: 1\revent: Error\rdata: {\"error_code\":4000,\"error_message\":\"Request parameter error\"}\r\r" +
				"id: 2\revent: Done\rdata: {}\r\r",
			names: []string{"Message", "Error", "Done"},
			code:  "4000", kind: KindInvalidRequest, message: "Request parameter error",
		},
		{
			// The MemOS chat stream (MemTensor/MemOS,
			// src/memos/api/handlers/chat_handler.py): unnamed data
			// frames, the failure a {"type":"error"} frame; a text frame
			// that is not JSON is no failure. The last event has no
			// blank line after it.
			name:   "memos error frame",
			vendor: Auto,
			stream: "data: {\"type\": \"status\", \"data\": \"0\"}\n\ndata: plain text\n\n" +
				"data: {\"type\": \"error\", \"content\": \"model timed out\"}",
			names: []string{"", "", ""},
			kind:  KindUnavailable, message: "model timed out",
		},
		{
			// One event's data over two lines joins with a newline.
			name:   "multi-line data",
			vendor: Coze,
			stream: "event: error\ndata: {\"code\":4011,\ndata: \"msg\":\"no balance\"}\n\n",
			names:  []string{"error"},
			code:   "4011", kind: KindInsufficientBalance, message: "no balance",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, and one byte per read: a line end split between
			// reads (CR, then LF) is read the same.
			for _, body := range []io.Reader{strings.NewReader(tt.stream), iotest.OneByteReader(strings.NewReader(tt.stream))} {
				events, e, end := readEvents(NewEventReader(tt.vendor, streamResponse(body, tt.header...)))
				require.NoError(t, end)
				var names []string
				for _, ev := range events {
					names = append(names, ev.Name)
				}
				assert.Equal(t, tt.names, names)
				require.NotNil(t, e, "the stream's failure")
				assert.Equal(t, tt.code, e.Code)
				assert.Equal(t, tt.kind, e.Kind)
				assert.Equal(t, tt.message, e.Message)
				assert.Equal(t, tt.id, e.RequestID)
			}
		})
	}
}

// A stream without failure reads to io.EOF with no error; its events'
// data come joined and copied (a later read does not change them).
func TestEventReaderSuccess(t *testing.T) {
	stream := "event: conversation.message.delta\ndata: {\"content\":\"hi\"}\n\n" +
		"event: conversation.chat.completed\ndata: {\"status\":\"completed\",\"last_error\":{\"code\":0,\"msg\":\"\"}}\n\n" +
		"retry: 10\n: comment\n\nevent: done\ndata\ndata: [DONE]\n\n\n\n"
	events, e, end := readEvents(NewEventReader(Coze, streamResponse(strings.NewReader(stream))))
	require.NoError(t, end)
	assert.Nil(t, e)
	assert.Equal(t, []Event{
		{Name: "conversation.message.delta", Data: []byte(`{"content":"hi"}`)},
		{Name: "conversation.chat.completed", Data: []byte(`{"status":"completed","last_error":{"code":0,"msg":""}}`)},
		{Name: "done", Data: []byte("\n[DONE]")}, // "data" alone is an empty data line
	}, events)

	_, err := NewEventReader(Coze, streamResponse(strings.NewReader(""))).Next()
	assert.Equal(t, io.EOF, err, "an empty body")
}

// A line or an event beyond MaxEventSize ends the reading with
// ErrTooLarge, having held no more than that; an error reading the
// body is returned as it is.
func TestEventReaderBounds(t *testing.T) {
	long := io.MultiReader(strings.NewReader("event: error\ndata: "), neverEnding('x'))
	_, err := NewEventReader(Coze, streamResponse(long)).Next()
	assert.ErrorIs(t, err, ErrTooLarge, "a line without end")

	line := "data: " + strings.Repeat("y", 1000) + "\n"
	many := io.MultiReader(strings.NewReader("event: error\n"), neverEndingString(line))
	_, err = NewEventReader(Coze, streamResponse(many)).Next()
	assert.ErrorIs(t, err, ErrTooLarge, "data lines without a blank line")

	broken := io.MultiReader(strings.NewReader("event: delta\ndata: {}\n\nevent: err"), iotest.ErrReader(io.ErrUnexpectedEOF))
	r := NewEventReader(Coze, streamResponse(broken))
	ev, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, "delta", ev.Name)
	_, err = r.Next()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// neverEnding is an endless body of one byte.
type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// neverEndingString is an endless body repeating a string.
func neverEndingString(s string) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		n := 0
		for n < len(p) {
			n += copy(p[n:], s)
		}
		return n, nil
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// FuzzEventReader: whatever the stream, Next never panics, ends, and
// reads a stream the same whole or one byte at a time.
func FuzzEventReader(f *testing.F) {
	f.Add([]byte("event: error\r\ndata: {\"code\":4009,\"msg\":\"busy\"}\r\n\r\n"))
	f.Add([]byte("data: a\rdata: b\r\rdata: {\"type\":\"error\"}\n"))
	f.Add([]byte(":\n\nevent\ndata\n\n\r\n\r"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		read := func(body io.Reader) (out []string) {
			r := NewEventReader(Auto, streamResponse(body, "X-Tt-Logid", "id"))
			for i := 0; ; i++ {
				require.Less(t, i, len(stream)+2, "Next ends")
				ev, err := r.Next()
				if err == io.EOF {
					return out
				}
				out = append(out, ev.Name+"\x00"+string(ev.Data)+"\x00"+errText(err))
			}
		}
		assert.Equal(t, read(bytes.NewReader(stream)), read(iotest.OneByteReader(bytes.NewReader(stream))))
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A stream may open with a UTF-8 byte order mark, which the server-sent
// events standard drops before reading the first line: the first event's
// name is still its name, so a failure it reports is not missed. A BOM
// anywhere else is text.
func TestEventReaderBOM(t *testing.T) {
	// coze-py tests/testdata/chat_error_resp.txt ("event:error\ndata:{}",
	// no blank line at the end), behind a BOM.
	stream := "\xEF\xBB\xBFevent:error\ndata:{}"
	for _, body := range []io.Reader{strings.NewReader(stream), iotest.OneByteReader(strings.NewReader(stream))} {
		r := NewEventReader(Coze, streamResponse(body, "X-Tt-Logid", "20241210152726A1B2C3"))
		ev, err := r.Next()
		assert.Equal(t, "error", ev.Name)
		var e *Error
		require.ErrorAs(t, err, &e, "the failure behind the BOM")
		assert.Equal(t, "20241210152726A1B2C3", e.RequestID)
		_, err = r.Next()
		assert.Equal(t, io.EOF, err)
	}

	// Only the first BOM goes: one on a later line is part of that line.
	r := NewEventReader(Coze, streamResponse(strings.NewReader("\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFevent: error\ndata: b\n\n")))
	ev, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, Event{Data: []byte("a")}, ev)
	ev, err = r.Next()
	require.NoError(t, err, "a field named BOM+\"event\" is no event name")
	assert.Equal(t, Event{Data: []byte("b")}, ev)
}

// An error that ends the reading (an event over MaxEventSize, a broken
// body) ends it for good: the next Next returns it again rather than
// reading on from the middle of the event it gave up, whose remaining
// lines would come back as an event of their own (without its name, so a
// failure would pass for data).
func TestEventReaderErrorEnds(t *testing.T) {
	big := "event: error\n" + strings.Repeat("data: "+strings.Repeat("y", 1000)+"\n", MaxEventSize/1000+8) +
		"data: {\"code\":4009,\"msg\":\"busy\"}\n\nevent: conversation.message.delta\ndata: {\"content\":\"hi\"}\n\n"
	r := NewEventReader(Coze, streamResponse(strings.NewReader(big)))
	_, err := r.Next()
	require.ErrorIs(t, err, ErrTooLarge)
	for i := 0; i < 3; i++ {
		ev, err := r.Next()
		assert.ErrorIs(t, err, ErrTooLarge, "call %d after the event over MaxEventSize", i+2)
		assert.True(t, ev.Name == "" && ev.Data == nil, "call %d returned an event of %d bytes", i+2, len(ev.Data))
	}

	long := "data: " + strings.Repeat("x", MaxEventSize+10) + "\":1}\n\nevent: done\ndata: [DONE]\n\n"
	r = NewEventReader(Coze, streamResponse(strings.NewReader(long)))
	_, err = r.Next()
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = r.Next()
	assert.ErrorIs(t, err, ErrTooLarge, "after a line over MaxEventSize")

	// A body that fails once and would then go on: the event cut by the
	// failure is not finished from what comes after.
	fails := true
	body := io.MultiReader(strings.NewReader("event: error\ndata: {\"co"), readerFunc(func([]byte) (int, error) {
		if fails {
			fails = false
			return 0, io.ErrUnexpectedEOF
		}
		return 0, io.EOF
	}), strings.NewReader("de\":4009}\n\n"))
	r = NewEventReader(Coze, streamResponse(body))
	_, err = r.Next()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	ev, err := r.Next()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the reading ended")
	assert.Equal(t, Event{}, ev)
}

// A stream error echoing the caller's key, one the key patterns do not
// know (a self-hosted server's own token, say), has it scrubbed from
// every field, as the same error sent as a JSON body has through
// Client.Do: the reader takes the secrets from the response's request.
func TestEventReaderScrubsRequestSecrets(t *testing.T) {
	const key = "s3cr3t-Value-42"
	echo := `{"code":4100,"msg":"invalid token ` + key + `","detail":{"logid":"L1","token":"` + key + `"}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/json" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, echo)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: conversation.chat.created\ndata: {\"id\":\"1\",\"status\":\"created\"}\n\n")
		io.WriteString(w, "event: error\ndata: "+echo+"\n\n")
	}))
	defer srv.Close()
	c := NewClient(WithVendor(Coze), WithoutBreaker())

	get := func(path string) *http.Request {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		return req
	}
	_, err := c.Do(get("/json"))
	var plain *Error
	require.ErrorAs(t, err, &plain)

	resp, err := c.Do(get("/stream"))
	require.NoError(t, err)
	defer resp.Body.Close()
	_, e, end := readEvents(NewEventReader(Coze, resp))
	require.NoError(t, end)
	require.NotNil(t, e, "the stream's failure")
	for _, got := range []*Error{plain, e} {
		assert.Equal(t, "4100", got.Code)
		assert.Equal(t, "L1", got.RequestID)
		for _, s := range []string{got.Error(), fmt.Sprintf("%+v", got), fmt.Sprintf("%#v", got), got.Message, string(got.Details)} {
			assert.NotContains(t, s, key)
		}
	}
}

// The MemOS chat streams report a failure as {"type":"error","content":
// traceback.format_exc()} (MemTensor/MemOS, src/memos/api/handlers/
// chat_handler.py, the except branch of each stream generator): the whole
// Python traceback. Its frames name files and quote source lines, whose
// words say nothing of the failure ("concurrent/futures" is no rate
// limit); the exception lines do. An exception whose words say nothing is
// still a fault of the server. Error() quotes the exception, which comes
// last, not the first frames.
func TestEventReaderMemOSTraceback(t *testing.T) {
	// A memory search worker failing inside the chat stream: recall.py
	// runs its searches on a thread pool, so the traceback passes through
	// concurrent/futures; the graph database is down.
	recall := "Traceback (most recent call last):\n" +
		"  File \"/app/src/memos/api/handlers/chat_handler.py\", line 277, in generate_chat_response\n" +
		"    search_response = self.search_handler.handle_search_memories(search_req)\n" +
		"  File \"/app/src/memos/memories/textual/tree_text_memory/retrieve/recall.py\", line 173, in retrieve\n" +
		"    graph_results = future_graph.result()\n" +
		"  File \"/usr/local/lib/python3.11/concurrent/futures/_base.py\", line 449, in result\n" +
		"    return self.__get_result()\n" +
		"  File \"/usr/local/lib/python3.11/concurrent/futures/thread.py\", line 58, in run\n" +
		"    result = self.fn(*self.args, **self.kwargs)\n" +
		"neo4j.exceptions.ServiceUnavailable: Couldn't connect to neo4j:7687\n"
	// The model call timing out (src/memos/llms/openai.py), the
	// exceptions chained.
	timeout := "Traceback (most recent call last):\n" +
		"  File \"/app/src/memos/llms/openai.py\", line 144, in generate_stream\n" +
		"    response = self.client.chat.completions.create(**request_body)\n" +
		"httpx.ReadTimeout: The read operation timed out\n\n" +
		"The above exception was the direct cause of the following exception:\n\n" +
		"Traceback (most recent call last):\n" +
		"  File \"/app/src/memos/api/handlers/chat_handler.py\", line 351, in generate_chat_response\n" +
		"    for chunk in response_stream:\n" +
		"openai.APITimeoutError: Request timed out.\n"
	// A bug: nothing in its words, still the server's fault.
	bug := "Traceback (most recent call last):\n" +
		"  File \"/app/src/memos/api/handlers/chat_handler.py\", line 292, in generate_chat_response\n" +
		"    text_mem_results = search_response.data[\"text_mem\"]\n" +
		"KeyError: 'text_mem'\n"
	for _, tc := range []struct {
		name, traceback string
		kind            Kind
		exception       string // what Error() shows of the traceback
	}{
		{"search worker", recall, KindUnavailable, "neo4j.exceptions.ServiceUnavailable: Couldn't connect to neo4j:7687"},
		{"model timeout", timeout, KindUnavailable, "openai.APITimeoutError: Request timed out"},
		{"bug", bug, KindInternal, "KeyError: 'text_mem'"},
	} {
		frame, err := json.Marshal(map[string]string{"type": "error", "content": tc.traceback})
		require.NoError(t, err)
		stream := "data: {\"type\": \"status\", \"data\": \"0\"}\n\ndata: " + string(frame) + "\n\n"
		for _, v := range []Vendor{MemOS, Auto} {
			_, e, end := readEvents(NewEventReader(v, streamResponse(strings.NewReader(stream))))
			require.NoError(t, end)
			require.NotNil(t, e, "%s, %s: the stream's failure", tc.name, v)
			assert.Equal(t, MemOS, e.Vendor)
			assert.Equal(t, tc.kind, e.Kind, "%s, %s: %v", tc.name, v, e.Kind)
			assert.Equal(t, tc.traceback, e.Message, "the message as sent")
			// Error() has room for a line: the exception's, not the
			// traceback's first frames.
			assert.Equal(t, "memerr: memos 200 "+tc.kind.String()+": "+tc.exception, e.Error())
		}
	}
}

// A nil response, or one without a body, is a clear error from Next, not
// a panic.
func TestEventReaderNilResponse(t *testing.T) {
	for name, resp := range map[string]*http.Response{"nil response": nil, "nil body": {StatusCode: http.StatusOK, Header: http.Header{}}} {
		var err error
		require.NotPanics(t, func() { _, err = NewEventReader(Coze, resp).Next() }, name)
		require.Error(t, err, name)
		assert.NotErrorIs(t, err, io.EOF, "%s: an empty stream is not what happened", name)
		var e *Error
		assert.False(t, errors.As(err, &e), "%s: no vendor failure", name)
	}
}

// A stream ended by the caller — its context cancelled, or its body
// closed from another goroutine while Next waits — ends the reading with
// an error (the context's, for a cancellation), every later Next too; it
// is never mistaken for the end of the stream.
func TestEventReaderCancelAndClose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Tt-Logid", "LOG")
		io.WriteString(w, "event: conversation.message.delta\ndata: {\"content\":\"hi\"}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	}))
	defer srv.Close()
	c := NewClient(WithVendor(Coze), WithoutBreaker())
	open := func(ctx context.Context) (*http.Response, *EventReader) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v3/chat", strings.NewReader(`{}`))
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		r := NewEventReader(Coze, resp)
		ev, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, "conversation.message.delta", ev.Name)
		return resp, r
	}

	ctx, cancel := context.WithCancel(context.Background())
	resp, r := open(ctx)
	cancel()
	for i := 0; i < 2; i++ {
		_, err := r.Next()
		assert.ErrorIs(t, err, context.Canceled, "call %d after the cancellation", i+1)
	}
	resp.Body.Close()

	resp, r = open(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Next()
		done <- err
	}()
	resp.Body.Close()
	err := <-done
	assert.Error(t, err)
	assert.NotErrorIs(t, err, io.EOF, "a closed body is not the stream's end")
	_, again := r.Next()
	assert.Equal(t, err, again, "the reading stays ended")
}

// "event: error" is how server-sent event streams at large report a
// failure: read as Generic (an API memerr has no profile for) or Auto, it
// is a failure whatever its data, as it is for Coze, and its error says
// what happened even when the data does not.
func TestGenericErrorEvent(t *testing.T) {
	for _, v := range []Vendor{Generic, Auto} {
		for _, data := range []string{`{}`, `oops`, ``, `{"id":"evt_1"}`} {
			stream := "event: delta\ndata: {\"text\":\"hi\"}\n\nevent: error\ndata: " + data + "\n\n"
			_, e, end := readEvents(NewEventReader(v, streamResponse(strings.NewReader(stream))))
			require.NoError(t, end)
			if !assert.NotNil(t, e, "%s, data %q: the stream's failure", v, data) {
				continue
			}
			assert.Equal(t, Generic, e.Vendor)
			assert.Equal(t, KindUnknown, e.Kind)
			assert.NotEmpty(t, e.Message, "%s, data %q: %v", v, data, e)
		}
	}
	// The message of a generic error event is read as in a body.
	err := ParseStreamEvent(Generic, nil, "error", []byte(`{"error":{"message":"Overloaded"}}`))
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "Overloaded", e.Message)
	assert.Equal(t, KindUnavailable, e.Kind)
	// Other events of a generic stream are data.
	assert.NoError(t, ParseStreamEvent(Generic, nil, "delta", []byte(`oops`)))
	assert.NoError(t, ParseStreamEvent(Generic, nil, "delta", []byte(`{}`)))
}

// Read as Auto, an error event whose data is text belongs to the vendor
// the response's headers name (X-Tt-Logid: Coze), as one with JSON data
// does, with that vendor's request id.
func TestAutoTextErrorEventVendor(t *testing.T) {
	// Coze Studio's workflow stream sends an internal failure as text
	// (see TestStreamErrorEvents); behind the Coze cloud's gateway the
	// response carries X-Tt-Logid, and may carry a generic X-Request-Id.
	stream := "event: Message\ndata: {\"content\":\"x\",\"node_is_finish\":false}\n\nevent: Error\ndata: code=720700801 message=database error\n\n"
	for _, h := range [][]string{{"X-Tt-Logid", "LOG1"}, {"X-Request-Id", "gw-7", "X-Tt-Logid", "LOG1"}} {
		_, e, end := readEvents(NewEventReader(Auto, streamResponse(strings.NewReader(stream), h...)))
		require.NoError(t, end)
		require.NotNil(t, e, "the stream's failure")
		assert.Equal(t, Coze, e.Vendor, "%v", h)
		assert.Equal(t, "LOG1", e.RequestID, "%v", h)
		assert.Equal(t, "code=720700801 message=database error", e.Message)
	}
	// Without a vendor's header it stays Generic.
	_, e, _ := readEvents(NewEventReader(Auto, streamResponse(strings.NewReader("event: error\ndata: oops\n\n"), "X-Request-Id", "gw-7")))
	require.NotNil(t, e)
	assert.Equal(t, Generic, e.Vendor)
	assert.Equal(t, "gw-7", e.RequestID)
}
