package main

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strconv"

	"github.com/memerr/memerr"
)

// sseEvent is one event of a text/event-stream body: its name ("" when
// it had no "event:" line) and its data lines joined with "\n".
type sseEvent struct {
	name string
	data []byte
}

// isEventStream reports whether the response's Content-Type is
// text/event-stream.
func isEventStream(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "text/event-stream"
}

// splitEvents reads an event stream as the server-sent events standard
// does: lines end in CRLF, LF or CR; a line starting with ":" is a comment;
// "field: value" loses one space after the colon (also "field:value");
// the data lines of one event join with "\n"; a blank line ends the event.
// Unlike a browser it keeps an event that has a name but no data (an
// error event without details) and the last event of a capture cut before
// its blank line.
func splitEvents(body []byte) []sseEvent {
	var out []sseEvent
	var cur sseEvent
	seen := false // cur has a name or a data line
	flush := func() {
		if seen {
			out = append(out, cur)
		}
		cur, seen = sseEvent{}, false
	}
	for len(body) > 0 {
		i := bytes.IndexAny(body, "\r\n")
		line := body
		if i < 0 {
			body = nil
		} else {
			line = body[:i]
			if body[i] == '\r' && i+1 < len(body) && body[i+1] == '\n' {
				i++
			}
			body = body[i+1:]
		}
		switch {
		case len(line) == 0:
			flush()
			continue
		case line[0] == ':':
			continue // a comment, such as a keep-alive
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			cur.name, seen = string(value), true
		case "data":
			if cur.data == nil {
				cur.data = []byte{}
			} else {
				cur.data = append(cur.data, '\n')
			}
			cur.data = append(cur.data, value...)
			seen = true
		}
	}
	flush()
	return out
}

// decodeStream decodes the events of a stream response with
// memerr.ParseStreamEvent and reports the first failure among them, or a
// success with the number of events.
func decodeStream(v memerr.Vendor, c *capture, secrets []string) []field {
	events := splitEvents(c.body)
	for _, ev := range events {
		if ev.name == "" && !bytes.HasPrefix(bytes.TrimSpace(ev.data), []byte("{")) {
			continue // an unnamed text frame: no envelope to read
		}
		var e *memerr.Error
		if !errors.As(memerr.ParseStreamEvent(v, c.header, ev.name, ev.data), &e) {
			continue
		}
		name := ev.name
		if name == "" {
			name = "(no name)"
		}
		fields := errorFields(e, c.header, secrets)
		// The event goes after the status: the rest reads as for a
		// response.
		return append(fields[:3:3], append([]field{{"event", safeText(name, secrets)}}, fields[3:]...)...)
	}
	return []field{
		{"result", "success"},
		{"http status", statusText(c.status)},
		{"events", strconv.Itoa(len(events))},
	}
}
