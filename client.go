package memerr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client sends requests through a Transport and turns every failure into a
// *Error. Its HTTPClient can be handed to any SDK that accepts an
// *http.Client.
type Client struct {
	t      *Transport
	hc     *http.Client
	header http.Header
}

// NewClient returns a Client whose http.Client uses NewTransport(nil, opts...)
// (WithBaseTransport sets the transport under it).
func NewClient(opts ...Option) *Client {
	t := NewTransport(nil, opts...)
	return &Client{t: t, hc: &http.Client{Transport: t}, header: t.cfg.header}
}

// HTTPClient returns the client's *http.Client, whose Transport is the
// client's *Transport. It follows redirects like any http.Client.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Transport returns the client's Transport.
func (c *Client) Transport() *Transport { return c.t }

// Do sends req, with the headers of WithHeader that it does not set itself
// (on a copy: req is never modified). On success it returns the response,
// its body unread. A 2xx body is judged as Decode judges it: a body longer
// than PeekLimit is a success payload, not read (DoJSON judges it whole).
// On any failure it returns a nil response and a *Error carrying
// Attempts: the vendor's decoded error for a failed response (its body
// read and closed), or, when no response was obtained, an *Error of
// Vendor Generic whose Unwrap gives the cause — the network error,
// ErrCircuitOpen (with a *BreakerError), a *BodyError, or the context's
// error — with KindUnavailable, or KindUnknown when the request's own
// context was cancelled or timed out or its own body could not be read.
// Its message never contains the request's URL, query or credentials.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	req = c.withHeader(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.failure(req, err)
	}
	if err := (Decoder{Vendor: c.t.vendorFor(resp.Request.URL), MaxErrorBody: c.t.cfg.maxErrorBody, learned: c.t.vendorForRequest(resp.Request)}).Decode(resp); err != nil {
		if e, ok := err.(*Error); ok && e.Attempts == 0 {
			// Found by Decode in a body the Transport left unmarked: it
			// marks those of several attempts (attemptsBody).
			e.Attempts = 1
		}
		return nil, err
	}
	return resp, nil
}

// attemptsOf is the number of attempts behind a response with body b, as
// the Transport noted it (1 when it made one).
func attemptsOf(b io.ReadCloser) int {
	if ib, ok := b.(*inspectedBody); ok {
		if ib.attempts > 0 {
			return ib.attempts
		}
		b = ib.rest
	}
	if ab, ok := b.(*attemptsBody); ok {
		return ab.attempts
	}
	return 1
}

// withHeader is req with the WithHeader headers it lacks, on a copy when
// one is missing.
func (c *Client) withHeader(req *http.Request) *http.Request {
	copied := false
	for k, vs := range c.header {
		if len(req.Header.Values(k)) > 0 {
			continue
		}
		if !copied {
			r := *req
			r.Header = req.Header.Clone()
			if r.Header == nil {
				r.Header = http.Header{}
			}
			req, copied = &r, true
		}
		req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	return req
}

// failure turns an error without response into a *Error.
func (c *Client) failure(req *http.Request, err error) *Error {
	err = withoutURL(err)
	e := &Error{Vendor: Generic, Attempts: 1, Kind: KindUnavailable}
	var ae *attemptsError
	if errors.As(err, &ae) {
		e.Attempts = ae.attempts
		err = ae.err
	}
	// The transport's errors are scrubbed already; the client's own, such
	// as a redirect's, may quote a Location header that echoes a key.
	err = safeError(err, req)
	var be *BreakerError
	var bodyErr *BodyError
	if errors.As(err, &bodyErr) {
		// The caller's own request body failed: nothing is known of the
		// server.
		e.Kind = KindUnknown
	}
	if errors.As(err, &be) {
		e.Vendor = c.t.vendorFor(req.URL)
		if e.Vendor == Auto {
			e.Vendor = Generic
		}
	}
	var he *HoldError
	if errors.As(err, &he) {
		// Not sent: an earlier response asked for a longer wait.
		e.Vendor, e.Code, e.Kind, e.RetryAfter = he.Vendor, he.Code, he.Kind, he.Remaining
		switch he.Code {
		case circuitOpenCode:
			e.Vendor, e.Code = c.t.vendorFor(req.URL), "" // as for an open breaker here
		case quotaCode:
			e.Code = "" // not the vendor's: the quota is the client's own
		}
		if e.Vendor == Auto {
			e.Vendor = Generic
		}
	}
	if req.Context().Err() != nil {
		// The caller's own context ended (cancelled or past its
		// deadline): nothing is known of the server.
		e.Kind = KindUnknown
	}
	e.Message = strings.TrimPrefix(err.Error(), "memerr: ")
	e.cause = err
	return e
}

// MaxJSONBody bounds the success body DoJSON reads: 64 MiB.
const MaxJSONBody = 64 << 20

// DoJSON sends a request with in marshalled as its JSON body (no body when
// in is nil) and decodes the vendor's data payload of a successful response
// into out (nothing when out is nil): the "data" member of every vendor's
// success envelope, or the whole body when it has no envelope. Failures are
// *Error as from Do. DoJSON judges the whole body it reads as Parse does,
// whatever its media type and size, where Do reads ahead JSON bodies of
// at most PeekLimit: an error envelope served as text/plain, or a failed
// chat past PeekLimit, is a failure. A body that cannot be decoded into out
// gives an error wrapping the json error.
func (c *Client) DoJSON(ctx context.Context, method, rawURL string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("memerr: encoding request body: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return fmt.Errorf("memerr: building request: %w", withoutURL(err))
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	attempts := attemptsOf(resp.Body)
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxJSONBody+1))
	if err != nil {
		return c.failure(req, err)
	}
	if len(data) > MaxJSONBody {
		return fmt.Errorf("%w: a response body over MaxJSONBody (%d bytes)", ErrTooLarge, MaxJSONBody)
	}
	// Do judged the 2xx bodies it reads ahead: JSON media types, up to
	// PeekLimit. DoJSON holds the whole body, so it judges it as Parse
	// does, whatever its media type and size: an error envelope served as
	// text/plain, or a chat that failed in a body past PeekLimit, is a
	// failure, not data.
	e, _ := decodeBody(c.t.vendorFor(resp.Request.URL), c.t.vendorForRequest(resp.Request), resp.StatusCode, resp.Header, data, false)
	if e != nil {
		scrubError(e, requestSecrets(resp.Request))
		e.Attempts = attempts
		return e
	}
	if out == nil {
		return nil
	}
	payload := successData(c.t.vendorFor(req.URL), resp.Header, data)
	if len(bytes.TrimSpace(payload)) == 0 || string(payload) == "null" {
		return nil
	}
	if err := json.Unmarshal(payload, out); err != nil {
		return fmt.Errorf("memerr: decoding response data: %w", err)
	}
	return nil
}
