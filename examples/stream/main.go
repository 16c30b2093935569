// Command stream reads Coze server-sent event streams and turns the
// failures reported inside them into *memerr.Error.
//
//	go run ./examples/stream
//
// A streaming call can fail in two places. Before the stream starts, the
// server answers with an ordinary JSON error (often in an HTTP 200), which
// memerr.Client.Do decodes like any other response. Once the stream has
// started, the HTTP status is long gone: the failure arrives as an event —
// "event: error" with {"code":4000,"msg":"..."} in a chat stream, a
// "conversation.chat.failed" chat with its last_error, or
// {"error_code":4009,"error_message":"..."} in a workflow stream — and
// memerr.ParseStreamEvent, given every event, finds it.
//
// The streams come from an httptest server in this program, written the
// way Coze writes them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/memerr/memerr"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stream:", err)
		os.Exit(1)
	}
}

// logid is the log id the fake server sends in X-Tt-Logid; Coze support
// asks for it.
const logid = "20250101120000010203040506070809C"

// chatStream is a chat that starts answering and then fails.
var chatStream = []string{
	"event: conversation.chat.created\ndata: {\"id\":\"chat_1\",\"status\":\"created\"}\n\n",
	"event: conversation.message.delta\ndata: {\"id\":\"msg_1\",\"role\":\"assistant\",\"type\":\"answer\",\"content\":\"You said you \"}\n\n",
	"event: conversation.message.delta\ndata: {\"id\":\"msg_1\",\"role\":\"assistant\",\"type\":\"answer\",\"content\":\"like green \"}\n\n",
	"event: error\ndata: {\"code\":4000,\"msg\":\"The requested parameter is invalid: additional_messages\"}\n\n",
}

// failedChatStream is a chat that fails without an error event: the
// failure is inside the chat of its "conversation.chat.failed" event.
var failedChatStream = []string{
	"event:conversation.chat.created\ndata:{\"id\":\"chat_2\",\"status\":\"created\",\"last_error\":{\"code\":0,\"msg\":\"\"}}\n\n",
	"event:conversation.chat.failed\ndata:{\"id\":\"chat_2\",\"status\":\"failed\",\"last_error\":{\"code\":5000,\"msg\":\"event interval error\"}}\n\n",
	"event:done\ndata:\"[DONE]\"\n\n",
}

// workflowStream is a workflow run that fails: workflow streams name the
// fields error_code and error_message.
var workflowStream = []string{
	"id: 0\nevent: Message\ndata: {\"content\":\"step 1 done\",\"node_title\":\"fetch memories\",\"node_is_finish\":true}\n\n",
	"id: 1\nevent: Error\ndata: {\"error_code\":4009,\"error_message\":\"The service is busy, please try again later\"}\n\n",
}

// fakeCoze serves the two streams, and a JSON error for a bad token before
// any stream starts.
func fakeCoze() http.Handler {
	mux := http.NewServeMux()
	serve := func(events []string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("X-Tt-Logid", logid)
			flusher, _ := w.(http.Flusher)
			for _, ev := range events {
				io.WriteString(w, ev)
				if flusher != nil {
					flusher.Flush()
				}
				time.Sleep(10 * time.Millisecond) // the model thinking
			}
		}
	}
	mux.Handle("/v3/chat", serve(chatStream))
	mux.Handle("/v3/chat/failing", serve(failedChatStream))
	mux.Handle("/v1/workflow/stream_run", serve(workflowStream))
	mux.HandleFunc("/v3/chat/bad-token", func(w http.ResponseWriter, r *http.Request) {
		// Rejected before streaming: plain JSON, HTTP 200, as Coze does.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Tt-Logid", logid)
		io.WriteString(w, `{"code":4100,"msg":"authentication is invalid","detail":{"logid":"`+logid+`"}}`)
	})
	return mux
}

func run(w io.Writer) error {
	srv := httptest.NewServer(fakeCoze())
	defer srv.Close()

	// A memerr Client decodes failures that come before the stream. It
	// never reads a text/event-stream body ahead, so events reach the
	// caller as they are sent.
	client := memerr.NewClient(memerr.WithVendor(memerr.Coze))

	fmt.Fprintln(w, "== A chat stream that fails midway ==")
	text, err := readStream(client, srv.URL+"/v3/chat", w)
	if err := expect(w, text, err, memerr.CozeInvalidParameter, memerr.KindInvalidRequest); err != nil {
		return err
	}

	fmt.Fprintln(w, "\n== A chat that fails without an error event ==")
	text, err = readStream(client, srv.URL+"/v3/chat/failing", w)
	if err := expect(w, text, err, memerr.CozeInternalError, memerr.KindInternal); err != nil {
		return err
	}

	fmt.Fprintln(w, "\n== A workflow stream that fails ==")
	text, err = readStream(client, srv.URL+"/v1/workflow/stream_run", w)
	if err := expect(w, text, err, memerr.CozeSystemBusy, memerr.KindUnavailable); err != nil {
		return err
	}

	fmt.Fprintln(w, "\n== A stream refused before it starts ==")
	text, err = readStream(client, srv.URL+"/v3/chat/bad-token", w)
	return expect(w, text, err, memerr.CozeInvalidToken, memerr.KindUnauthenticated)
}

// readStream opens a stream and reads it to its end. It returns the text
// received and the first failure, as a *memerr.Error.
func readStream(client *memerr.Client, url string, w io.Writer) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(`{"bot_id":"73","stream":true}`))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")

	// Do returns a *memerr.Error when the server refused the request.
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()

	// An EventReader reads the stream event by event, as the server-sent
	// events standard does, and decodes each: "error" and "Error" report a
	// failure whatever their data, a "conversation.chat.failed" carries its
	// failure inside a chat, and the others give nil. The response's
	// X-Tt-Logid becomes the request id when the data has none.
	var text strings.Builder
	events := memerr.NewEventReader(memerr.Coze, resp)
	for {
		ev, err := events.Next()
		if err == io.EOF {
			break
		}
		fmt.Fprintf(w, "  %-34s data: %s\n", "event: "+ev.Name, ev.Data)
		if err != nil {
			return text.String(), err
		}
		if ev.Name == "conversation.message.delta" || ev.Name == "Message" {
			text.WriteString(contentOf(string(ev.Data)))
		}
	}
	return text.String(), nil
}

// contentOf pulls "content" out of a data line the lazy way; a real
// program would unmarshal the event's JSON.
func contentOf(line string) string {
	const key = `"content":"`
	i := strings.Index(line, key)
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// expect prints the outcome of one stream and checks it is the failure
// wanted.
func expect(w io.Writer, text string, err error, code memerr.Code, kind memerr.Kind) error {
	fmt.Fprintf(w, "text received before the failure: %q\n", text)
	var e *memerr.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("want a *memerr.Error for %v, got %v", code, err)
	}
	fmt.Fprintf(w, "err: %v\n", err)
	fmt.Fprintf(w, "  code %s, kind %s, retryable %t, request id %s\n", e.Code, e.Kind, e.Retryable(), e.RequestID)
	if !errors.Is(err, code) || e.Kind != kind {
		return fmt.Errorf("got %v, want %v of kind %s", err, code, kind)
	}
	if info, ok := e.Info(); ok {
		fmt.Fprintf(w, "  what to do: %s\n", info.Resolution)
	}
	return nil
}
