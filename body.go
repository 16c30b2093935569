package memerr

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"
	"sync"
)

// inspectedBody replaces a response body that memerr has read ahead: it
// replays the bytes read, then the rest of the original body.
//
// The bytes read sit in a pooled buffer, which goes back to the pool when
// the body is closed or its bytes have all been read; a Read after the
// last byte finds io.EOF. A mutex keeps a Close from another goroutine (the
// way net/http lets a caller abort a Read) from recycling the buffer under
// a Read; WriteTo does not hold it while it writes, so such a Close never
// waits on a slow writer, and the buffer goes back when the write returns.
// A Read or WriteTo after Close fails with http.ErrBodyReadAfterClose, as
// net/http's bodies fail, so a read cut short never looks like a whole body.
type inspectedBody struct {
	mu       sync.Mutex
	a        *ahead        // the bytes read ahead; nil once handed back
	rest     io.ReadCloser // the original body; nil once read to EOF and closed
	busy     bool          // a's buffer is in use unlocked: WriteTo writes from it, or resourceState reads into it
	closed   bool          // Close was called
	err      *Error        // the verdict: nil for success
	done     bool          // a verdict was reached
	vendor   Vendor        // decoded without a named vendor: the vendor detected for sure, or ""
	call     bool          // the verdict judged the call alone: Resource shapes unread
	cut      error         // the read error that cut the read-ahead short; nil if none
	attempts int           // the attempts behind the response, when the Transport made several
}

// ahead holds the bytes read ahead of a body.
type ahead struct {
	buf []byte // full capacity kept, for reuse
	n   int    // bytes read
	off int    // bytes handed on
}

// maxPooled is the largest buffer kept for reuse: a success body read
// ahead fits in it; larger error bodies get a buffer of their own.
const maxPooled = PeekLimit + 1

var aheadPool = sync.Pool{New: func() any { return new(ahead) }}

func putAhead(a *ahead) {
	if cap(a.buf) <= maxPooled {
		a.n, a.off = 0, 0
		aheadPool.Put(a)
	}
}

// recycle detaches the buffer and gives it back to the pool, unless it is
// in use unlocked (b.busy: whoever uses it then gives it back); b.mu is
// held.
func (b *inspectedBody) recycle() {
	if a := b.a; a != nil {
		b.a = nil
		if !b.busy {
			putAhead(a)
		}
	}
}

func (b *inspectedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, http.ErrBodyReadAfterClose
	}
	if a := b.a; a != nil {
		if a.off < a.n {
			n := copy(p, a.buf[a.off:a.n])
			a.off += n
			if a.off == a.n && b.rest == nil {
				b.recycle()
				b.mu.Unlock()
				return n, io.EOF
			}
			b.mu.Unlock()
			return n, nil
		}
		b.recycle()
	}
	rest := b.rest
	b.mu.Unlock()
	if rest == nil {
		return 0, io.EOF
	}
	return rest.Read(p)
}

// WriteTo lets io.Copy write the bytes read ahead straight to w, without
// the intermediate buffer it would otherwise take from a pool.
func (b *inspectedBody) WriteTo(w io.Writer) (int64, error) {
	var n int64
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, http.ErrBodyReadAfterClose
	}
	if a := b.a; a != nil && !b.busy {
		if a.off < a.n {
			more := b.rest != nil // the body goes on after the bytes read ahead
			b.busy = true
			p := a.buf[a.off:a.n]
			b.mu.Unlock()
			m, err := w.Write(p)
			if err == nil && m < len(p) {
				err = io.ErrShortWrite // as io.Copy says of a writer that takes less
			}
			b.mu.Lock()
			b.busy = false
			a.off = min(a.off+max(m, 0), a.n)
			n = int64(m)
			if b.a != a {
				putAhead(a) // closed while writing
			}
			if err == nil && b.closed && more {
				err = http.ErrBodyReadAfterClose // the rest is lost
			}
			if err != nil {
				b.mu.Unlock()
				return n, err
			}
		}
		b.recycle()
	}
	rest := b.rest
	b.mu.Unlock()
	if rest == nil {
		return n, nil
	}
	m, err := io.Copy(w, rest)
	return n + m, err
}

func (b *inspectedBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.recycle()
	rest := b.rest
	b.rest = nil
	b.mu.Unlock()
	if rest != nil {
		return rest.Close()
	}
	return nil
}

// wantsPeek reports whether the Transport reads ahead a sub-400 response
// to look for an in-body error: a complete JSON body (jsonBody), its length
// declared and no larger than PeekLimit. It is read whole, or only its
// first peekPrefix bytes when they confirm it (see readAhead). A body of
// unknown length (chunked, or gzip that net/http decompresses) may be a
// stream that pauses: it is not read ahead, so the caller gets each part
// as soon as it would through a bare transport (Client.Do and Decode still
// check it, without retry).
func wantsPeek(resp *http.Response) bool {
	return resp.ContentLength > 0 && resp.ContentLength <= PeekLimit && jsonBody(resp)
}

// jsonBody reports whether resp has a body that may be a JSON document:
// its media type (any case, any parameters) is JSON but not a sequence or
// lines of JSON (json-seq, jsonl, ndjson) nor a stream, or it has none and
// a body. HEAD responses have no body.
func jsonBody(resp *http.Response) bool {
	if resp.Body == nil || resp.Body == http.NoBody || resp.ContentLength == 0 {
		return false
	}
	if resp.Request != nil && resp.Request.Method == http.MethodHead {
		return false
	}
	ct := resp.Header["Content-Type"]
	if len(ct) == 0 {
		return resp.ContentLength > 0
	}
	mt := mediaType(ct[0])
	switch {
	case mt == "application/json":
		return true
	case strings.Contains(mt, "stream"), strings.Contains(mt, "json-seq"),
		strings.Contains(mt, "jsonl"), strings.Contains(mt, "ndjson"):
		return false // before +json: application/stream+json is lines of JSON
	}
	return strings.Contains(mt, "json")
}

// mediaType is the media type of a Content-Type value, lower-case, as
// mime.ParseMediaType gives it (also when only its parameters are
// malformed), or "" when it has none. The common JSON types, in any case
// and with any parameters, are recognised without mime's allocations.
func mediaType(ct string) string {
	base, _, _ := strings.Cut(ct, ";")
	if base = strings.TrimSpace(base); base == "application/json" || strings.EqualFold(base, "application/json") {
		return "application/json"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil && err != mime.ErrInvalidMediaParameter {
		return ""
	}
	return mt
}

// inspect decides success or failure of resp, reading its body ahead when
// it is a failure status or a JSON body of at most PeekLimit bytes, its
// length declared or not (Decode's caller waits for the verdict, unlike
// the Transport's, see wantsPeek). It returns the verdict; when it read,
// resp.Body is b.
func (b *inspectedBody) inspect(resp *http.Response, v, learned Vendor, limit int64) *Error {
	if resp.StatusCode < 400 && (!jsonBody(resp) || resp.ContentLength > PeekLimit) {
		return nil
	}
	return b.readAhead(resp, v, learned, limit, false)
}

// readAhead reads resp's body (at most limit bytes of a failure, PeekLimit
// of a success status), decodes the verdict and puts b in place of the
// body. The caller has decided that the body is worth reading. learned is
// the vendor a Transport detected earlier for the host, when v is Auto
// (see decodeBody); call judges the call alone (the Transport's verdict,
// see Envelope.Resource).
//
// A success status whose vendor has an Authority member that may confirm
// the body (prefixProfile) is read in two steps: the first peekPrefix
// bytes, then, unless the body's first member is that member holding a
// success value, the rest up to PeekLimit. A body so confirmed is handed
// on with the rest unread, as decodeBody would confirm it from the same
// member; Decode reads on for the Resource shapes (resourceState). A body
// read whole whose last member confirms it needs no decodeBody either.
func (b *inspectedBody) readAhead(resp *http.Response, v, learned Vendor, limit int64, call bool) *Error {
	var short *profile // confirms a success from a prefix of the body
	if resp.StatusCode < 400 {
		limit = PeekLimit
		short = prefixProfile(v, learned, call)
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	rc := resp.Body
	a := aheadPool.Get().(*ahead)
	b.a = a
	var eof bool
	var err error
	if short != nil {
		if eof, err = a.fill(rc, resp.ContentLength, limit, peekPrefix); !eof && err == nil && authorityFirst(short, a.buf[:a.n]) {
			b.rest, b.done, b.call = rc, true, call
			resp.Body = b
			return nil
		}
	}
	if !eof && err == nil {
		eof, err = a.fill(rc, resp.ContentLength, limit, 0)
	}
	if eof {
		rc.Close()
	} else {
		b.rest = rc
	}
	// Whole: ended, or broken, within limit bytes. A reader may give
	// io.EOF with the byte past limit (a gzip body net/http decompresses
	// does): that body is over the limit all the same.
	full := (eof || err != nil) && int64(a.n) <= limit
	b.done, b.cut = true, err
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
	body := a.buf[:a.n]
	if int64(len(body)) > limit {
		body = body[:limit]
	}
	body = decoded(resp, body, limit)
	b.call = call
	if short != nil && authorityLast(short, body) {
		// Whole, and confirmed by its last member: its first did not
		// confirm it, and decodeBody would find the same.
		resp.Body = b
		return nil
	}
	b.err, b.vendor = decodeBody(v, learned, resp.StatusCode, resp.Header, body, call)
	if b.err != nil && resp.Request != nil {
		scrubError(b.err, requestSecrets(resp.Request)) // a server may echo the request's key
	}
	resp.Body = b
	return b.err
}

// peekPrefix is the first step of reading a success body ahead (see
// readAhead): enough for the first member of every success envelope
// (`{"code":0,` is ten bytes), behind a byte order mark and the white
// space of a pretty-printed body; small enough that copying it costs
// little next to the rest of a request. Smaller bodies are read whole in
// one step, as before, and so are most error envelopes.
const peekPrefix = 512

// prefixProfile is the profile whose Authority member, first in a 2xx
// body, confirms the body a success, or nil: the vendor named (v), else
// the one known for the host (learned), as decodeBody's shortcut picks
// it, under the same condition (a verdict on the call alone, or a vendor
// without Resource shapes).
//
// A compressed body needs no exception: a gzip stream's first byte is
// not '{', so its prefix never confirms it and it is read whole and
// decoded as before; a body in any other encoding is not decoded at all
// (see decoded), so it is a success whatever its bytes.
func prefixProfile(v, learned Vendor, call bool) *profile {
	set := profiles.Load()
	var p *profile
	if v != Auto && v != Generic {
		p = set.byVendor[v]
	}
	if p == nil && learned != "" {
		p = set.byVendor[learned]
	}
	if p == nil || p.Authority == "" || !call && p.resources {
		return nil
	}
	return p
}

// resourceState judges a 2xx body that the Transport read ahead and found
// a successful call by the Resource shapes it left unread (a chat that
// failed), when the vendor (v, learned, or the one the Transport detected)
// may have any. A body the Transport confirmed from its prefix is read on
// here, up to PeekLimit, while none of it has been handed on; a Close from
// another goroutine is not held up by that read (b.busy). The body stays
// readable from its first byte.
func (b *inspectedBody) resourceState(resp *http.Response, v, learned Vendor) *Error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.call = false
	if learned == "" {
		learned = b.vendor
	}
	if !mayReportResources(v, learned) {
		return nil
	}
	a := b.a
	if a == nil || a.off > 0 || b.busy {
		return nil // read already
	}
	if rc := b.rest; rc != nil {
		b.busy = true
		b.mu.Unlock()
		eof, err := a.fill(rc, resp.ContentLength, PeekLimit, 0)
		b.mu.Lock()
		b.busy = false
		switch {
		case b.a != a:
			putAhead(a) // closed while reading
			return nil
		case err != nil:
			b.rest = &errReader{err: err, c: rc} // the caller sees the same read error
			return nil
		case !eof:
			return nil // larger than PeekLimit: a success payload
		}
		rc.Close()
		b.rest = nil
	}
	e, _ := decodeBody(v, learned, resp.StatusCode, resp.Header, decoded(resp, a.buf[:a.n], PeekLimit), false)
	if e != nil && resp.Request != nil {
		scrubError(e, requestSecrets(resp.Request))
	}
	return e
}

// mayReportResources reports whether a body may hold a Resource shape:
// the vendor named (v), else the one known for the host (learned), has
// one; with neither known, any registered vendor might.
func mayReportResources(v, learned Vendor) bool {
	set := profiles.Load()
	p := set.byVendor[v]
	if p == nil || p.Vendor == Generic {
		p = set.byVendor[learned]
	}
	return p == nil || p.Vendor == Generic || p.resources
}

// decoded is body as the server meant it: a body the caller asked to get
// compressed (its own Accept-Encoding, so net/http left it as sent) is
// gunzipped, up to limit bytes, for decoding only; the caller still gets
// the bytes sent. Other encodings (br, zstd, deflate) are not decoded: the
// response is then classified by its status alone, and its bytes never
// become a message. A success status's body that decompresses to more
// than limit bytes is a success payload, as one sent uncompressed is:
// decoded returns nil for it, not its first limit bytes.
func decoded(resp *http.Response, body []byte, limit int64) []byte {
	enc := headerValue(resp.Header, "Content-Encoding") // a canonical key: no Header.Get, which canonicalises it each time
	if enc == "" || strings.EqualFold(enc, "identity") {
		return body
	}
	if !strings.EqualFold(enc, "gzip") && !strings.EqualFold(enc, "x-gzip") {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil
	}
	limit = min(limit, PeekLimit+DefaultMaxErrorBody)
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil && len(out) == 0 {
		return nil
	}
	if int64(len(out)) > limit {
		if resp.StatusCode < 400 {
			return nil // over the limit: a success payload, not judged
		}
		out = out[:limit]
	}
	return out
}

// fill reads rc into a's buffer, after the a.n bytes already in it,
// until rc ends (eof), more than limit bytes are in, or (upto > 0) upto
// bytes are in, or a read fails (err). It neither closes rc nor reads a
// byte more than it needs: the caller hands rc on with the bytes read.
//
// A declared length (length ≥ 0) sizes the buffer up to a pooled one's
// size; beyond that the buffer grows with the bytes that come, towards
// it: the header is the server's claim, and a claim of a terabyte under
// a large limit must not be allocated before a byte arrives. An upto that
// the declared length does not exceed reads the body whole in one step.
func (a *ahead) fill(rc io.Reader, length, limit, upto int64) (eof bool, err error) {
	limit = min(limit, math.MaxInt64-1) // any limit works; limit+1 must not overflow
	size := limit + 1
	if length >= 0 && length < size {
		size = length + 1 // +1 to see EOF without a second buffer
	}
	if upto >= size-1 {
		upto = 0 // the body fits: read it whole, and see its end
	}
	if first := min(size, maxPooled); int64(cap(a.buf)) < first {
		nb := make([]byte, first) // a fresh ahead's first buffer
		copy(nb, a.buf[:a.n])
		a.buf = nb
	}
	a.buf = a.buf[:cap(a.buf)]
	buf := a.buf[:a.n:min(int64(cap(a.buf)), size)]
	for upto == 0 || int64(len(buf)) < upto {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return false, nil
			}
			grow := int64(cap(buf)) * 2
			if c := int64(cap(buf)); c < size {
				grow = min(grow, size) // towards the declared length
			}
			if grow >= limit {
				grow = limit + 1 // straight to the bound: no step of exactly limit bytes
			}
			nb := make([]byte, len(buf), grow)
			copy(nb, buf)
			a.buf, buf = nb[:grow], nb
		}
		stop := cap(buf)
		if upto > 0 {
			stop = min(stop, int(upto))
		}
		n, rerr := rc.Read(buf[len(buf):stop])
		buf = buf[:len(buf)+n]
		a.n = len(buf)
		if rerr == io.EOF {
			return true, nil
		}
		if rerr != nil {
			return false, rerr
		}
	}
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
