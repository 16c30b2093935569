package memerr

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxEventSize bounds the lines and the data of one event an EventReader
// reads: a larger event ends the reading with an error wrapping
// ErrTooLarge.
const MaxEventSize = 1 << 20

// ErrTooLarge is wrapped by the error of a read that passed its bound: a
// response body DoJSON reads (MaxJSONBody), a stream event an EventReader
// reads (MaxEventSize). What was read is dropped.
var ErrTooLarge = errors.New("memerr: too large")

// errEventTooLarge is the error of an event beyond MaxEventSize.
var errEventTooLarge = fmt.Errorf("%w: a stream event or line over MaxEventSize (%d bytes)", ErrTooLarge, MaxEventSize)

// Event is one server-sent event of a text/event-stream response.
type Event struct {
	Name string // its "event:" field; "" when it had none
	Data []byte // its "data:" lines joined with "\n"; nil when it had none
}

// EventReader reads the events of a text/event-stream response one at a
// time, the way the server-sent events standard reads them (lines ending in
// LF, CRLF or CR; "data:" lines joined; comments skipped), and decodes each
// with ParseStreamEvent, so that a vendor's failure reported in the middle
// of a stream — Coze's "event: error", a "conversation.chat.failed" chat,
// a workflow's {"error_code",...}, a MemOS {"type":"error"} frame — comes
// back as a *Error carrying the response's request id (X-Tt-Logid), with
// the credentials of resp.Request scrubbed from it if the server echoed
// them.
//
// Use it on a response that Client.Do or Decode has found successful (a
// stream refused before it starts is an ordinary error response). It reads
// resp.Body and never closes it.
type EventReader struct {
	v      Vendor
	h      http.Header
	req    *http.Request // whose credentials a failure echoing them is scrubbed of
	r      *bufio.Reader
	line   []byte
	skipLF bool  // the last line ended in CR: an LF right after it ends nothing
	begun  bool  // a line has been read: a byte order mark is no longer dropped
	err    error // the error that ended the reading, returned from then on
}

// NewEventReader returns a reader of resp's events; v names the vendor
// (Auto detects it from each event). For a nil resp, or one without a
// body, Next returns an error.
func NewEventReader(v Vendor, resp *http.Response) *EventReader {
	if resp == nil || resp.Body == nil {
		return &EventReader{v: v, err: errors.New("memerr: NewEventReader of a nil response or body")}
	}
	return &EventReader{v: v, h: resp.Header, req: resp.Request, r: bufio.NewReader(resp.Body)}
}

// Next returns the next event. When the event reports a failure, the error
// is its *Error (see ParseStreamEvent); the reader may go on, but a stream
// that failed usually ends. At the end of the stream it returns io.EOF; a
// last event cut off before its blank line is still returned. An event
// with no name whose data is not a JSON object (the text frames some
// streams send) is returned as it is, never as a failure. Errors from
// reading the body are returned as they are, and one wrapping ErrTooLarge
// for an event beyond MaxEventSize; either ends the reading: every later
// call returns it again, and the event it cut is dropped. A UTF-8 byte
// order mark opening the stream is dropped, as the standard says.
func (er *EventReader) Next() (Event, error) {
	if er.err != nil {
		return Event{}, er.err
	}
	var ev Event
	seen := false // a name or a data line
	for {
		line, err := er.readLine()
		if err == io.EOF && seen {
			return er.decode(ev)
		}
		if err != nil {
			er.err = err
			return Event{}, err
		}
		if !er.begun {
			er.begun = true
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
		}
		switch {
		case len(line) == 0: // a blank line ends the event
			if seen {
				return er.decode(ev)
			}
			continue
		case line[0] == ':': // a comment, such as a keep-alive
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Name, seen = string(value), true
		case "data":
			if ev.Data == nil {
				ev.Data = []byte{} // "data:" alone is an empty data line
			} else {
				ev.Data = append(ev.Data, '\n')
			}
			if len(ev.Data)+len(value) > MaxEventSize {
				er.err = errEventTooLarge
				return Event{}, er.err
			}
			ev.Data = append(ev.Data, value...)
			seen = true
		}
		// "id:", "retry:" and unknown fields are no concern of errors.
	}
}

// decode returns ev and what ParseStreamEvent says of it.
func (er *EventReader) decode(ev Event) (Event, error) {
	if ev.Name == "" && !bytes.HasPrefix(bytes.TrimSpace(ev.Data), []byte("{")) {
		return ev, nil // a text frame: no envelope to read
	}
	err := ParseStreamEvent(er.v, er.h, ev.Name, ev.Data)
	if e, ok := err.(*Error); ok && er.req != nil {
		scrubError(e, requestSecrets(er.req)) // a server may echo the request's key
	}
	return ev, err
}

// readLine returns the next line without its end (LF, CRLF or CR). The
// line is valid until the next call. At the end of the body a last line
// without an end is returned, then io.EOF.
func (er *EventReader) readLine() ([]byte, error) {
	er.line = er.line[:0]
	for {
		b, err := er.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(er.line) > 0 {
				return er.line, nil
			}
			return nil, err
		}
		if er.skipLF {
			er.skipLF = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return er.line, nil
		case '\r':
			er.skipLF = true
			return er.line, nil
		}
		if len(er.line) >= MaxEventSize {
			return nil, errEventTooLarge
		}
		er.line = append(er.line, b)
	}
}
