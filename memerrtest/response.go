package memerrtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memerr/memerr"
)

// respKind says how a Response is produced.
type respKind uint8

const (
	kindRaw     respKind = iota // status, headers and body as given
	kindError                   // a vendor's error envelope, built from the registry
	kindSuccess                 // a vendor's success envelope around a data payload
	kindDrop                    // hijack the connection and close it without a response
	kindReset                   // hijack the connection and abort it with a TCP reset
)

// headerOp sets (value != "") or removes (value == "") one header.
type headerOp struct{ key, value string }

// Response is one scripted reply of a Server: a vendor envelope, a raw
// status and body, or a fault. Build one with Error, Success, Status, JSON,
// HTMLBadGateway or DropConnection, and adjust it with the With methods.
//
// A Response is a value: every With method returns a modified copy and
// leaves the receiver unchanged, so one Response may be enqueued many times
// and shared between goroutines. Envelopes are rendered when served, so each
// served copy gets a fresh request id.
//
// The zero Response is an HTTP 200 with an empty body.
type Response struct {
	kind      respKind
	vendor    memerr.Vendor
	code      string          // kindError: the vendor's code
	data      json.RawMessage // kindSuccess: the payload
	status    int             // 0: the vendor's default for the code
	message   string
	msgSet    bool
	body      []byte // kindRaw: the body; any kind: the replacement body when bodySet
	bodySet   bool
	details   json.RawMessage
	requestID string
	headers   []headerOp // applied in order, after the envelope's own headers
	delay     time.Duration
	chunk     int           // WithSlowBody: bytes per write; 0 sends the body at once
	every     time.Duration // WithSlowBody: pause before each chunk
	truncate  int           // WithTruncatedBody: bytes of the body sent, when truncSet
	truncSet  bool
}

// Error returns what the vendor of code sends for it, built from the
// vendor's registered profile (memerr.LookupProfile) and code table
// (memerr.Lookup), so a vendor registered with memerr.Register is served
// as the built-ins are. The body is the envelope the code's registry entry
// names (CodeInfo.Envelope: the profile's first for most codes) with its
// members filled in: its When member holding the first of its Is values
// (or true), a Success flag false, a Failed flag true, the code (a JSON
// number when it is an integer), the message, details when WithDetails
// gave some, its Null member as null, and a request id in the envelope's
// first request id member and the profile's first request id header. For
// example:
//
//   - MemOS: HTTP 200, {"code":40300,"message":"...","data":null}
//   - Tensorheart: the registry's status (429 ...),
//     {"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"..."},"meta":{"request_id":"req_..."}}
//     and X-Request-Id
//   - Memory OS: the registry's status,
//     {"error":{"code":"RATE_LIMITED","message":"..."},"meta":{"request_id":"req_..."}}
//   - memories.ai: HTTP status equal to the code, {"code":429,"msg":"...","data":null}
//   - Coze: HTTP 200 (401 for 700012006), {"code":4009,"msg":"...","detail":{"logid":"..."}}
//     and the same id in X-Tt-Logid; its OAuth codes with their status (400, 401) and
//     {"error_code":"slow_down","error_message":"...","detail":{"logid":"..."}}
//   - Generic: the code as HTTP status with a one-line text/plain body, as a
//     proxy or a bare server would send
//
// The message is the registry's English Meaning (use WithMessage to send
// another, such as a vendor's Chinese text). The status is the registry's
// for the code; else the code itself when it is an HTTP status
// (memories.ai's codes, and self-hosted MemOS's {"code":422,...} sent with
// HTTP 422), HTTP 200 for a vendor that reports errors inside 2xx
// responses (MemOS, Coze), and 400 otherwise; WithStatus changes it. A
// code missing from the registry is still sent, with the message
// "unregistered code".
// JSON bodies have Content-Type application/json.
func Error(code memerr.Code) Response {
	return Response{kind: kindError, vendor: code.Vendor, code: code.Value}
}

// Success returns vendor v's success envelope around data, which is
// marshalled with encoding/json (pass a json.RawMessage to send JSON
// verbatim; nil sends null), built from the vendor's profile: its first
// envelope's Success flag true, its Code member holding the first success
// code with an empty message (unless the envelope has a When), its
// Authority holding a success value, "data", and the request id in the
// profile's first request id header and in the envelope's first request
// id member, unless that member lies in a part only errors have (Coze's
// detail.logid, or a member of Tensorheart's "error" object). A body with
// none of those members nor a detection member of the vendor is a plain
// resource to the decoder: such a vendor's success is data itself. For
// example:
//
//   - MemOS: {"code":0,"message":"","data":...}
//   - Tensorheart: {"success":true,"data":...,"meta":{"request_id":"req_..."}}
//     and the same id in X-Request-Id
//   - Memory OS: {"data":...,"meta":{"request_id":"req_..."}}
//   - memories.ai: {"code":200,"msg":"","data":...}
//   - Coze: {"code":0,"msg":"","data":...} and an X-Tt-Logid header
//   - Generic and Auto: data itself as the body
//
// All with HTTP 200 and Content-Type application/json. Success panics if
// data cannot be marshalled, as a test helper should fail loudly.
func Success(v memerr.Vendor, data any) Response {
	raw, err := marshal(data)
	if err != nil {
		panic(fmt.Sprintf("memerrtest: Success: cannot marshal data: %v", err))
	}
	return Response{kind: kindSuccess, vendor: v, data: raw}
}

// Status returns a raw response: the given HTTP status with body as
// text/plain. Use it for bodies no vendor envelope describes, such as an
// empty 503 (Status(503, "")) or a plain-text error; it decodes as Generic.
func Status(code int, body string) Response {
	r := Response{kind: kindRaw, status: code, body: []byte(body), bodySet: true}
	if body != "" {
		r.headers = []headerOp{{"Content-Type", "text/plain; charset=utf-8"}}
	}
	return r
}

// JSON returns a raw response: the given HTTP status with v marshalled as
// an application/json body. Use it for envelopes the registry does not
// produce, such as self-hosted MemOS's {"detail":"...","retry_after":3}.
// It panics if v cannot be marshalled.
func JSON(status int, v any) Response {
	raw, err := marshal(v)
	if err != nil {
		panic(fmt.Sprintf("memerrtest: JSON: cannot marshal value: %v", err))
	}
	return Response{kind: kindRaw, status: status, body: raw, bodySet: true,
		headers: []headerOp{{"Content-Type", "application/json"}}}
}

// htmlBadGateway is the page a common reverse proxy serves when its
// upstream fails.
const htmlBadGateway = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n" +
	"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

// HTMLBadGateway returns what a reverse proxy in front of a vendor sends
// when the vendor is down: HTTP 502 with a text/html error page and a
// "Server: nginx" header. memerr decodes it as Vendor Generic, code "502",
// KindUnavailable.
func HTMLBadGateway() Response {
	return Response{kind: kindRaw, status: http.StatusBadGateway, body: []byte(htmlBadGateway), bodySet: true,
		headers: []headerOp{{"Content-Type", "text/html"}, {"Server", "nginx"}}}
}

// DropConnection returns a fault: the server takes over the connection
// and closes it without sending a byte, so the client's request fails with
// a network error (EOF) and no response; ResetConnection sends a TCP
// reset instead. WithDelay delays the close, like a server that times out.
//
// Note that net/http's Transport transparently resends an idempotent
// request (GET, HEAD, or one with an Idempotency-Key header) that fails
// this way on a reused keep-alive connection; the resend is served the
// next Response. Drop the first request on a fresh connection to see the
// error.
func DropConnection() Response {
	return Response{kind: kindDrop}
}

// ResetConnection returns a fault: the server takes over the connection
// and aborts it with a TCP reset (RST) instead of closing it, as a crashed
// server or a load balancer cutting the flow does, so the client's request
// fails with "connection reset by peer" (errors.Is(err,
// syscall.ECONNRESET)) and no response. WithDelay delays the reset. The
// note on DropConnection about net/http's resends applies too.
func ResetConnection() Response {
	return Response{kind: kindReset}
}

// Repeat returns n copies of r, for Enqueue(Repeat(r, 3)...). n below 1
// gives none.
func Repeat(r Response, n int) []Response {
	out := make([]Response, 0, max(n, 0))
	for i := 0; i < n; i++ {
		out = append(out, r)
	}
	return out
}

// WithStatus returns r sent with HTTP status code instead of its default;
// 0 restores the default. Use a final status, 200 to 999: net/http's
// server panics on a code below 100 and treats 1xx as informational.
func (r Response) WithStatus(code int) Response {
	r.status = code
	return r
}

// WithMessage returns r with the envelope's message replaced by msg (the
// "message", "msg" or "error.message" field, whichever the vendor uses).
// It has no effect on raw responses and on a body set by WithBody.
func (r Response) WithMessage(msg string) Response {
	r.message, r.msgSet = msg, true
	return r
}

// WithDetails returns r whose error envelope carries v, marshalled as
// JSON, in the member its vendor's first envelope names for details
// (Envelope.Details): "error.details" for Tensorheart and Memory OS,
// "detail" for MemOS and Coze (for Coze, v replaces the object that holds
// the logid, which is then sent in the X-Tt-Logid header only).
// memories.ai has no such member and ignores it. It panics if v cannot be
// marshalled.
func (r Response) WithDetails(v any) Response {
	raw, err := marshal(v)
	if err != nil {
		panic(fmt.Sprintf("memerrtest: WithDetails: cannot marshal value: %v", err))
	}
	r.details = raw
	return r
}

// WithRequestID returns r with a fixed request id instead of a fresh one
// per response, sent where the vendor's profile says (see Error and
// Success): Coze's X-Tt-Logid and detail.logid, Tensorheart's X-Request-Id
// and meta.request_id, Memory OS's meta.request_id. MemOS and memories.ai
// send none.
func (r Response) WithRequestID(id string) Response {
	r.requestID = id
	return r
}

// WithBody returns r with its body replaced by b, verbatim (a copy is
// kept). The status and headers, including Content-Type, stay those of r;
// use it for broken JSON or a vendor's exact bytes.
func (r Response) WithBody(b []byte) Response {
	r.body = append([]byte{}, b...)
	r.bodySet = true
	return r
}

// WithHeader returns r with header key set to value, replacing any value
// r would send under that name (compared case-insensitively). The key is
// written as given. An empty value removes the header, for example
// WithHeader("X-Tt-Logid", "") to test detection without it.
// Content-Length cannot be changed; see WithTruncatedBody.
func (r Response) WithHeader(key, value string) Response {
	r.headers = append(r.headers[:len(r.headers):len(r.headers)], headerOp{key, value})
	return r
}

// WithRetryAfter returns r with a Retry-After header of d in whole
// seconds, rounded up (delta-seconds, as RFC 9110 defines it).
func (r Response) WithRetryAfter(d time.Duration) Response {
	return r.WithHeader("Retry-After", strconv.FormatInt(ceilDiv(d, time.Second), 10))
}

// WithRetryAfterMS returns r with a retry-after-ms header of d in whole
// milliseconds, rounded up, spelled in lower case as the APIs that use it
// send it.
func (r Response) WithRetryAfterMS(d time.Duration) Response {
	return r.WithHeader("retry-after-ms", strconv.FormatInt(ceilDiv(d, time.Millisecond), 10))
}

// WithRateLimitReset returns r with an X-RateLimit-Reset header holding
// t as Unix seconds, the moment the rate-limit window resets. The server's
// Date header is sent as usual, so a client can measure t against it.
func (r Response) WithRateLimitReset(t time.Time) Response {
	return r.WithHeader("X-RateLimit-Reset", strconv.FormatInt(t.Unix(), 10))
}

// WithDelay returns r served only after d has passed, before any header is
// written: a slow server. A client deadline shorter than d fails the
// request; Close ends the wait at once.
func (r Response) WithDelay(d time.Duration) Response {
	r.delay = d
	return r
}

// WithSlowBody returns r whose headers are sent at once and whose body
// then trickles: chunk bytes at a time, each after a pause of every. A
// chunk below 1 sends the body at once. Close ends the trickle and the
// connection.
func (r Response) WithSlowBody(chunk int, every time.Duration) Response {
	r.chunk, r.every = chunk, every
	return r
}

// WithTruncatedBody returns r that declares its full Content-Length but
// sends only the first n bytes of the body and then closes the connection,
// so the client's read of the body ends in io.ErrUnexpectedEOF. n is
// clamped to the body's length minus one (an empty body cannot be
// truncated and is sent whole); n below 0 counts as 0.
func (r Response) WithTruncatedBody(n int) Response {
	r.truncate, r.truncSet = max(n, 0), true
	return r
}

// rendered is a Response ready to be written.
type rendered struct {
	status int
	header http.Header
	body   []byte
}

// render builds the status, headers and body of r; ids makes request ids.
func (r Response) render(ids *idSource) rendered {
	out := rendered{header: http.Header{}}
	switch r.kind {
	case kindError:
		r.renderError(&out, ids)
	case kindSuccess:
		r.renderSuccess(&out, ids)
	default:
		out.status = http.StatusOK
		out.body = r.body
	}
	if r.status != 0 {
		out.status = r.status
	}
	if r.bodySet {
		out.body = r.body
	}
	for _, op := range r.headers {
		setHeader(out.header, op.key, op.value)
	}
	return out
}

func (r Response) msg(def string) string {
	if r.msgSet {
		return r.message
	}
	return def
}

func (r Response) renderError(out *rendered, ids *idSource) {
	info, known := memerr.Lookup(r.vendor, r.code)
	msg := r.msg("unregistered code")
	if known {
		msg = r.msg(info.Meaning)
	}
	p, ok := memerr.LookupProfile(r.vendor)
	if !ok || p.Vendor == memerr.Generic {
		// Generic, Auto and unknown vendors: the code is an HTTP status,
		// sent as a proxy or a bare server would.
		n, err := strconv.Atoi(r.code)
		if err != nil || n < 100 || n > 599 {
			n = http.StatusInternalServerError
		}
		out.status = n
		text := strconv.Itoa(n) + " " + http.StatusText(n)
		if known || r.msgSet {
			text = strconv.Itoa(n) + " " + r.msg(info.Meaning)
		}
		out.header.Set("Content-Type", "text/plain; charset=utf-8")
		out.body = []byte(text + "\n")
		return
	}
	// The envelope the vendor sends the code in (the first for a code
	// missing from the registry), filled in member by member.
	env := p.Envelopes[info.Envelope]
	var body object
	if env.When != "" && len(env.Is) > 0 {
		body.set(env.When, selector(env.Is[0])) // the shape applies only then
	}
	if env.Success != "" {
		body.set(env.Success, json.RawMessage("false"))
	}
	if env.Failed != "" {
		body.set(env.Failed, json.RawMessage("true"))
	}
	body.set(env.Code, jsonCode(r.code))
	if len(env.Message) > 0 {
		body.set(env.Message[0], mustJSON(msg))
	}
	if env.Details != "" && r.details != nil {
		body.set(env.Details, r.details)
	}
	if env.Null != "" && !body.has(env.Null) {
		body.set(env.Null, jsonNull) // "data":null, as the vendor sends it
	}
	if env.When != "" && !body.has(env.When) {
		body.set(env.When, json.RawMessage("true")) // present, as the shape asks
	}
	r.setRequestID(out, &body, p, env, ids)
	out.body = mustJSON(&body)
	out.header.Set("Content-Type", "application/json")

	switch n, err := strconv.Atoi(r.code); {
	case known && info.Status != 0:
		out.status = info.Status
	case err == nil && n >= 100 && n <= 599:
		out.status = n // the code is the HTTP status
	case p.ErrorsIn2xx:
		out.status = http.StatusOK
	default:
		out.status = http.StatusBadRequest
	}
}

// setRequestID puts a request id where the vendor sends one: its first
// request id header and the envelope's first request id member.
func (r Response) setRequestID(out *rendered, body *object, p memerr.Profile, env memerr.Envelope, ids *idSource) {
	if len(p.RequestIDHeaders) == 0 && len(env.RequestID) == 0 {
		return
	}
	id := r.id(ids.req)
	if len(p.RequestIDHeaders) > 0 {
		out.header.Set(p.RequestIDHeaders[0], id)
	}
	if len(env.RequestID) > 0 {
		body.set(env.RequestID[0], mustJSON(id))
	}
}

func (r Response) renderSuccess(out *rendered, ids *idSource) {
	out.status = http.StatusOK
	out.header.Set("Content-Type", "application/json")
	p, ok := memerr.LookupProfile(r.vendor)
	if !ok || p.Vendor == memerr.Generic {
		out.body = r.data
		return
	}
	env := p.Envelopes[0]
	var body object
	if env.Success != "" {
		body.set(env.Success, json.RawMessage("true"))
	}
	if env.Code != "" && env.When == "" && len(p.SuccessCodes) > 0 {
		// A shape with a When is an error's only: its code member has
		// no place in a success.
		body.set(env.Code, jsonCode(p.SuccessCodes[0]))
		if len(env.Message) > 0 {
			body.set(env.Message[0], mustJSON(r.msg("")))
		}
	}
	if a := p.Authority; a != "" && !body.has(a) {
		// The member that settles a success: a success flag's true, or
		// the first success code.
		v := json.RawMessage("true")
		if !slices.ContainsFunc(p.Envelopes, func(e memerr.Envelope) bool { return e.Success == a }) && len(p.SuccessCodes) > 0 {
			v = jsonCode(p.SuccessCodes[0])
		}
		body.set(a, v)
	}
	body.set("data", r.data)
	if len(env.RequestID) > 0 && inErrorPart(env.RequestID[0], env) {
		env.RequestID = nil // a success has no such part; the header carries the id
	}
	r.setRequestID(out, &body, p, env, ids)
	out.body = mustJSON(&body)
	if !slices.ContainsFunc(append([]string{env.Success, env.Code, p.Authority}, p.Detect.Members...), body.has) {
		// Nothing in it is the vendor's: the decoder takes such a body
		// for a plain resource and hands it on whole, so the data is
		// the body.
		out.body = r.data
	}
}

// inErrorPart reports whether member path lies in a part of the body only
// env's errors have: its details (Coze's detail.logid) or the object
// holding its code (Tensorheart's "error").
func inErrorPart(path string, env memerr.Envelope) bool {
	parts := []string{env.Details}
	if i := strings.LastIndexByte(env.Code, '.'); i > 0 {
		parts = append(parts, env.Code[:i])
	}
	for _, p := range parts {
		if p != "" && (path == p || strings.HasPrefix(path, p+".")) {
			return true
		}
	}
	return false
}

// object is a JSON object that keeps its members in the order they were
// set; a dotted path sets a member of a nested object.
type object struct {
	keys []string
	vals []any // json.RawMessage or *object
}

func (o *object) set(path string, v json.RawMessage) {
	if path == "" {
		return
	}
	key, rest, nested := strings.Cut(path, ".")
	for i, k := range o.keys {
		if k == key {
			if inner, ok := o.vals[i].(*object); ok && nested {
				inner.set(rest, v)
			} else if !nested {
				o.vals[i] = v
			}
			return
		}
	}
	o.keys = append(o.keys, key)
	if !nested {
		o.vals = append(o.vals, v)
		return
	}
	inner := &object{}
	inner.set(rest, v)
	o.vals = append(o.vals, inner)
}

// has reports whether the member at path is set.
func (o *object) has(path string) bool {
	key, rest, nested := strings.Cut(path, ".")
	for i, k := range o.keys {
		if k == key {
			if !nested {
				return true
			}
			inner, ok := o.vals[i].(*object)
			return ok && inner.has(rest)
		}
	}
	return false
}

// MarshalJSON writes the members in order.
func (o *object) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, k := range o.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, mustJSON(k)...)
		b = append(b, ':')
		v, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// id returns r's fixed request id or a fresh one from next.
func (r Response) id(next func() string) string {
	if r.requestID != "" {
		return r.requestID
	}
	return next()
}

var jsonNull = json.RawMessage("null")

// selector writes a value of Envelope.Is (strings without quotes; true,
// false and numbers as written) as JSON.
func selector(s string) json.RawMessage {
	if s == "true" || s == "false" || s != "null" && json.Valid([]byte(s)) && s[0] != '"' && s[0] != '{' && s[0] != '[' {
		return json.RawMessage(s)
	}
	return mustJSON(s)
}

// jsonCode writes a code as a JSON number when it is a plain integer (as
// MemOS, memories.ai and Coze send it) and as a string otherwise.
func jsonCode(s string) json.RawMessage {
	if isInteger(s) {
		return json.RawMessage(s)
	}
	return mustJSON(s)
}

func isInteger(s string) bool {
	if s == "" || len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func marshal(v any) (json.RawMessage, error) {
	if raw, ok := v.(json.RawMessage); ok {
		if raw == nil {
			return jsonNull, nil
		}
		if !json.Valid(raw) {
			return nil, fmt.Errorf("invalid JSON %q", truncateForError(raw))
		}
		return append(json.RawMessage{}, raw...), nil
	}
	return json.Marshal(v)
}

func truncateForError(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// mustJSON marshals values built here, which always marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("memerrtest: internal error: " + err.Error())
	}
	return b
}

// setHeader replaces every spelling of key in h by key: value, or removes
// them when value is empty.
func setHeader(h http.Header, key, value string) {
	for k := range h {
		if strings.EqualFold(k, key) {
			delete(h, k)
		}
	}
	if value != "" {
		h[key] = []string{value}
	}
}

// ceilDiv returns d in units, rounded up; negative durations give 0.
func ceilDiv(d, unit time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(math.Ceil(float64(d) / float64(unit)))
}
