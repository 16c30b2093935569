package main

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/memerr/memerr"
)

// isEventStream reports whether the response's Content-Type is
// text/event-stream.
func isEventStream(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "text/event-stream"
}

// decodeStream reads the events of a captured stream response with
// memerr.EventReader and reports the first failure among them, or a
// success with the number of events.
func decodeStream(v memerr.Vendor, c *capture, secrets []string) []field {
	resp := &http.Response{StatusCode: c.status, Header: c.header, Body: io.NopCloser(bytes.NewReader(c.body))}
	r := memerr.NewEventReader(v, resp)
	events := 0
	for {
		ev, err := r.Next()
		var e *memerr.Error
		switch {
		case errors.As(err, &e):
			name := ev.Name
			if name == "" {
				name = "(no name)"
			}
			fields := errorFields(e, c.header, secrets)
			// The event goes after the status: the rest reads as for a
			// response.
			return append(fields[:3:3], append([]field{{"event", safeText(name, secrets)}}, fields[3:]...)...)
		case err == io.EOF:
			return []field{
				{"result", "success"},
				{"http status", statusText(c.status)},
				{"events", strconv.Itoa(events)},
			}
		case err != nil: // an event beyond memerr.MaxEventSize
			return []field{
				{"result", "unreadable stream"},
				{"http status", statusText(c.status)},
				{"events", strconv.Itoa(events)},
				{"error", safeText(err.Error(), secrets)},
			}
		}
		events++
	}
}
