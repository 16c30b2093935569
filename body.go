package memerr

import (
	"io"
	"net/http"
	"strings"
)

// inspectedBody replaces a response body that memerr has read ahead: it
// replays the bytes read, then the rest of the original body.
type inspectedBody struct {
	buf  []byte
	off  int
	rest io.ReadCloser // the original body; nil once it was read to EOF and closed
	err  *Error        // the verdict: nil for success
	done bool          // a verdict was reached

}

func (b *inspectedBody) Read(p []byte) (int, error) {
	if b.off < len(b.buf) {
		n := copy(p, b.buf[b.off:])
		b.off += n
		return n, nil
	}
	if b.rest == nil {
		return 0, io.EOF
	}
	return b.rest.Read(p)
}

func (b *inspectedBody) Close() error {
	b.off = len(b.buf)
	if b.rest != nil {
		err := b.rest.Close()
		b.rest = nil
		return err
	}
	return nil
}

// wantsPeek reports whether a sub-400 response may carry an in-body error
// that is cheap to look for: a JSON body of known or unknown length no
// larger than PeekLimit. Streams are never read ahead.
func wantsPeek(resp *http.Response) bool {
	if resp.Body == nil || resp.Body == http.NoBody || resp.ContentLength == 0 || resp.ContentLength > PeekLimit {
		return false
	}
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		return false
	}
	ct := resp.Header["Content-Type"]
	if len(ct) == 0 {
		return resp.ContentLength > 0
	}
	t := ct[0]
	if t == "application/json" || strings.HasPrefix(t, "application/json;") {
		return true // the common case, without three searches
	}
	return strings.Contains(t, "json") && !strings.Contains(t, "stream") && !strings.Contains(t, "ndjson")
}

// inspect decides success or failure of resp, reading its body ahead when
// it is a failure status or a small JSON body (wantsPeek). It returns the
// verdict; when it read, resp.Body is b.
func (b *inspectedBody) inspect(resp *http.Response, v Vendor, limit int64) *Error {
	if resp.StatusCode < 400 && !wantsPeek(resp) {
		return nil
	}
	return b.readAhead(resp, v, limit)
}

// readAhead reads resp's body (at most limit bytes of a failure, PeekLimit
// of a success status), decodes the verdict and puts b in place of the
// body. The caller has decided that the body is worth reading.
func (b *inspectedBody) readAhead(resp *http.Response, v Vendor, limit int64) *Error {
	if resp.StatusCode < 400 {
		limit = PeekLimit
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	full, err := b.fill(resp.Body, resp.ContentLength, limit)
	b.done = true
	if resp.StatusCode < 400 && !full {
		// Larger than PeekLimit: a success payload. Replay what was read.
		resp.Body = b
		return nil
	}
	if err != nil && resp.StatusCode < 400 {
		// The body broke while it was read ahead: hand it back as it is so
		// the caller sees the same read error.
		b.rest = &errReader{err: err, c: b.rest}
		resp.Body = b
		return nil
	}
	body := b.buf
	if int64(len(body)) > limit {
		body = body[:limit]
	}
	b.err = parse(v, resp.StatusCode, resp.Header, body)
	resp.Body = b
	return b.err
}

// fill reads up to limit+1 bytes of rc into b.buf. full reports that the
// body ended within limit bytes (then rc is closed and dropped).
func (b *inspectedBody) fill(rc io.ReadCloser, length, limit int64) (full bool, err error) {
	size := limit + 1
	if length >= 0 && length < size {
		size = length + 1 // +1 to see EOF without a second allocation
	} else if size > 4096 {
		size = 4096
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				break
			}
			grow := int64(cap(buf)) * 2
			if grow >= limit {
				grow = limit + 1 // straight to the bound: no step of exactly limit bytes
			}
			nb := make([]byte, len(buf), grow)
			copy(nb, buf)
			buf = nb
		}
		n, rerr := rc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			b.buf = buf
			rc.Close()
			return true, nil
		}
		if rerr != nil {
			b.buf = buf
			b.rest = rc
			return int64(len(buf)) <= limit, rerr
		}
	}
	b.buf = buf
	b.rest = rc
	return false, nil
}

// errReader returns err after the replayed bytes, and closes c.
type errReader struct {
	err error
	c   io.Closer
}

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }
func (r *errReader) Close() error {
	if r.c != nil {
		return r.c.Close()
	}
	return nil
}
