package memerr

import (
	"bytes"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxErrorBody is how much of an error body Decode and the Transport
// read: 1 MiB. The rest is left unread.
const DefaultMaxErrorBody int64 = 1 << 20

// PeekLimit is the largest 2xx JSON body that is read to look for an in-body
// error (HTTP 200 with {"code":4009,...}). Larger 2xx bodies are success
// payloads and are never buffered.
const PeekLimit = 16 << 10

// Parse decodes a response that has already been read: it returns nil when
// the response is a success and an *Error otherwise. v names the vendor, or
// Auto to detect it from the body's shape, the X-Tt-Logid header and the
// code's range.
//
// A status of 400 or more is always a failure; a lower status is a failure
// only when the body is a known envelope reporting one (a non-zero Coze code,
// "success":false, an "error" object...). MemOS, Coze and memories.ai give
// their verdict in "code" and send it first: a 2xx body that opens with a
// success code (0, 200 or "0000") is a success, whatever follows; with v
// naming MemOS or Coze, a success code decides wherever it stands, unless a
// member before it reports a failure. Bodies
// that are not JSON become Generic errors classified by status. Parse never
// panics and never keeps a reference to body.
func Parse(v Vendor, status int, h http.Header, body []byte) error {
	if e := parse(v, status, h, body); e != nil {
		return e
	}
	return nil
}

func parse(v Vendor, status int, h http.Header, body []byte) *Error {
	if status < 400 && plainSuccess(body, v) {
		return nil
	}
	var env envelope
	ok := scanEnvelope(body, &env)
	if status < 400 {
		if !ok || !env.failure() {
			return nil
		}
	}
	e := &Error{StatusCode: status}
	if ok {
		e.fromEnvelope(v, status, h, &env)
	} else {
		e.Vendor = Generic
		e.Code = strconv.Itoa(status)
		e.Kind = KindForStatus(status)
		e.Message = textMessage(body, status)
	}
	if e.RequestID == "" {
		e.RequestID = headerRequestID(h)
	}
	if d, ok := ParseRetryAfter(h, timeNow()); ok {
		e.RetryAfter = d
	} else if d, ok := bodyRetryAfter(&env); ok {
		e.RetryAfter = d
	}
	return e
}

// failure reports whether a well-formed envelope reports an error.
func (env *envelope) failure() bool {
	switch {
	case env.errObj && (env.errCode.set || env.errMessage.set):
		return true
	case env.errMessage.set: // "error": "text"
		return true
	case env.detailObj && (env.detailCode.set || env.detailMsg.set):
		return true
	case env.wfCode.set && !env.wfCode.is("0"):
		return true
	case env.success == -1 || env.failed:
		return true
	case env.code.set:
		return !isSuccessCode(env.code)
	}
	return false
}

func isSuccessCode(c span) bool {
	if c.is("0") || c.is("200") || c.is("0000") {
		return true
	}
	// 0.0 or 2e2: the same code as code() renders it (rare; may allocate).
	if c.set && !c.str && bytes.ContainsAny(c.raw, ".eE") {
		s := c.code()
		return s == "0" || s == "200"
	}
	return false
}

// fromEnvelope fills e from a well-formed JSON body.
func (e *Error) fromEnvelope(v Vendor, status int, h http.Header, env *envelope) {
	var code, msg span
	switch {
	case env.wfCode.set && !env.wfCode.is("0"):
		code, msg = env.wfCode, env.wfMessage
	case env.errObj || env.errMessage.set:
		code, msg = env.errCode, env.errMessage
		e.Details = clone(env.errDetails)
	case env.detailObj && (env.detailCode.set || env.detailMsg.set):
		code, msg = env.detailCode, env.detailMsg
		if env.errDetails != nil {
			e.Details = clone(env.errDetails)
		} else if env.logid.set {
			e.Details = clone(env.detailRaw)
		}
	default:
		code = env.code
		msg = env.msg
		if !msg.set {
			msg = env.message
		}
		if !msg.set {
			msg = env.detailStr
		}
		if env.detailObj {
			e.Details = clone(env.detailRaw)
		}
	}
	if v == Auto {
		v = detect(env, h)
	}
	if isSuccessCode(code) {
		// The body says success but the status says failure (or
		// "success":false came with a success code): the status decides.
		code = span{}
	}
	e.Vendor = v
	e.Code = code.code()
	e.Message = msg.String()
	if env.requestID.set {
		e.RequestID = env.requestID.String()
	} else if env.logid.set {
		e.RequestID = env.logid.String()
	}
	if e.Code == "" && v == Generic {
		e.Code = strconv.Itoa(status)
	}
	e.Kind = classify(v, e.Code, status)
}

// detect names the vendor of a well-formed envelope.
func detect(env *envelope, h http.Header) Vendor {
	switch {
	case len(h["X-Tt-Logid"]) > 0, env.logid.set, env.wfCode.set:
		return Coze
	case env.errObj:
		// Tensorheart and Memory OS share this shape; Tensorheart sends
		// "success", Memory OS "meta.request_id"; codes unique to one
		// vendor settle the rest.
		c := env.errCode.String()
		_, th := registryIndex[Code{Tensorheart, c}]
		_, mo := registryIndex[Code{MemoryOS, c}]
		switch {
		case th && !mo:
			return Tensorheart
		case mo && !th:
			return MemoryOS
		case env.success != 0:
			return Tensorheart
		case env.requestID.set:
			return MemoryOS
		}
		return Tensorheart
	case env.detailObj && (env.detailCode.set || env.detailMsg.set):
		return Tensorheart // FastAPI deployments: {"detail":{"code","message"}}
	case env.code.set:
		if env.code.is("0000") || env.failed {
			return MemoriesAI
		}
		n, numeric := codeNumber(env.code)
		switch {
		case env.message.set && !env.msg.set:
			return MemOS // {"code","message","data"}
		case numeric && n >= 10000 && n < 100000:
			return MemOS
		case numeric && n >= 100 && n < 600:
			return MemoriesAI // the body code mirrors the HTTP status
		case numeric && (n == 0 || n >= 1000):
			return Coze
		}
		return Generic
	case env.detailStr.set && env.retryAfter.set:
		return MemOS // self-hosted rate limit: {"detail":"...","retry_after":N}
	case env.success != 0:
		return Tensorheart
	}
	return Generic
}

// codeNumber reads a code as an integer, in the integral form code() gives
// it ("4009", "4009.0", "4.009e3" and the string "4009" are all 4009), so
// detection and classification agree with the Code an Error carries.
func codeNumber(c span) (int64, bool) {
	if !c.set || c.esc {
		return 0, false
	}
	n, err := strconv.ParseInt(c.code(), 10, 64)
	return n, err == nil
}

// classify gives the Kind of a vendor code: the registry's if the code is
// known, else the HTTP status's, else the code's own class.
func classify(v Vendor, code string, status int) Kind {
	if k, ok := lookupKind(v, code); ok {
		return k
	}
	if status >= 400 {
		return KindForStatus(status)
	}
	n, err := strconv.ParseInt(code, 10, 64)
	numeric := err == nil
	switch {
	case v == MemOS && numeric && n >= 10000 && n < 100000:
		// 400xx parameters, 401xx authentication, 403xx quota and rate
		// limits, 500xx service, 501xx knowledge base operations.
		switch n / 100 {
		case 400:
			return KindInvalidRequest
		case 401:
			return KindUnauthenticated
		case 403:
			return KindQuotaExceeded
		}
		return KindForStatus(int(n / 100))
	case v == Coze && numeric && n >= 4000 && n < 6000:
		switch {
		case n >= 5000:
			return KindInternal
		case n >= 4100 && n < 4200:
			return KindPermissionDenied
		}
		return KindInvalidRequest
	case (v == MemoriesAI || v == Generic) && numeric:
		return KindForStatus(int(n))
	case !numeric:
		return kindByWords(code)
	}
	return KindUnknown
}

// kindByWords classifies an unknown string code ("PAYMENT_REQUIRED") by the
// words in it.
func kindByWords(code string) Kind {
	c := strings.ToUpper(code)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(c, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("QUOTA"):
		return KindQuotaExceeded
	case has("RATE_LIMIT", "RATELIMIT", "TOO_MANY", "THROTTL", "CONCURRENT"):
		return KindRateLimited
	case has("BALANCE", "CREDIT", "PAYMENT", "BILLING"):
		return KindInsufficientBalance
	case has("UNAUTHENTICATED", "UNAUTHORIZED", "API_KEY", "TOKEN"):
		return KindUnauthenticated
	case has("FORBIDDEN", "PERMISSION", "DENIED", "DISABLED"):
		return KindPermissionDenied
	case has("NOT_FOUND", "NOTFOUND"):
		return KindNotFound
	case has("EXISTS", "CONFLICT", "DUPLICATE"):
		return KindConflict
	case has("UNAVAILABLE", "OVERLOAD", "BUSY", "TIMEOUT"):
		return KindUnavailable
	case has("INTERNAL", "FAILED", "SERVER"):
		return KindInternal
	case has("INVALID", "VALIDATION", "BAD_REQUEST", "REQUIRED", "UNSUPPORTED"):
		return KindInvalidRequest
	}
	return KindUnknown
}

// headerRequestID returns the first request id header that is set.
func headerRequestID(h http.Header) string {
	for _, k := range [...]string{"X-Tt-Logid", "X-Request-Id", "Request-Id", "X-Trace-Id", "X-Amzn-Requestid"} {
		if v := headerValue(h, k); v != "" {
			return cleanLine(v, 128)
		}
	}
	return ""
}

// textMessage extracts a short message from a body that is not JSON: the
// <title> of an HTML page, the first line of text, or the status text.
func textMessage(body []byte, status int) string {
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '<' {
		lower := bytes.ToLower(b[:min(len(b), 4096)])
		if i := bytes.Index(lower, []byte("<title>")); i >= 0 {
			if j := bytes.Index(lower[i:], []byte("</title>")); j > 0 {
				if t := cleanLine(string(b[i+7:i+j]), maxMessageRunes); t != "" {
					return t
				}
			}
		}
		return http.StatusText(status)
	}
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		// Broken or foreign JSON: not worth quoting.
		return http.StatusText(status)
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 4*maxMessageRunes {
		b = b[:4*maxMessageRunes]
	}
	if t := cleanLine(string(b), maxMessageRunes); t != "" {
		return t
	}
	return http.StatusText(status)
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// ParseEvent decodes the data line of a server-sent error event, such as
// Coze's "event: error" with {"code":4000,"msg":"..."} or a workflow stream's
// {"error_code":4000,"error_message":"..."}. A leading "data:" is accepted.
// It returns nil when the data reports success (code 0), or is the "[DONE]"
// end marker, and a Generic *Error of KindUnknown quoting the text
// when the data is other text than JSON.
func ParseEvent(v Vendor, data []byte) error {
	data = bytes.TrimSpace(data)
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("data:")))
	if string(data) == "[DONE]" {
		return nil // the end-of-stream marker is no error
	}
	var env envelope
	if !scanEnvelope(data, &env) {
		return &Error{Vendor: Generic, StatusCode: http.StatusOK, Kind: KindUnknown, Message: textMessage(data, 0)}
	}
	if !env.failure() || plainSuccess(data, v) {
		return nil // as Parse: a success code sent first decides
	}
	if v == Auto && (env.code.set && env.msg.set || env.wfCode.set) {
		v = Coze // streams are Coze's
	}
	e := &Error{StatusCode: http.StatusOK}
	e.fromEnvelope(v, http.StatusOK, nil, &env)
	if d, ok := bodyRetryAfter(&env); ok {
		e.RetryAfter = d
	}
	return e
}

// bodyRetryAfter reads a body "retry_after": a JSON number of seconds, which
// may have a fraction or an exponent (1e20 is capped at MaxHint); strings,
// negative values and malformed numbers are ignored.
func bodyRetryAfter(env *envelope) (time.Duration, bool) {
	r := env.retryAfter
	if !r.set || r.str || len(r.raw) == 0 || r.raw[0] < '0' || r.raw[0] > '9' {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(r.raw), 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	if math.IsNaN(f) || f < 0 {
		return 0, false
	}
	return capSeconds(f), true
}

// Decoder decodes responses with a fixed vendor hint and error-body bound.
// The zero value detects the vendor and reads at most DefaultMaxErrorBody.
type Decoder struct {
	Vendor       Vendor // Auto: detect from each response
	MaxErrorBody int64  // bytes of an error body to read; 0 means DefaultMaxErrorBody
}

// Decode is Decoder{}.Decode: it returns nil for a successful response and
// an *Error for a failure.
//
// On success resp.Body is left readable from its first byte (a small JSON
// body may have been read ahead and is replayed). On failure the body has
// been read (at most DefaultMaxErrorBody bytes) and closed. A response
// that came through a memerr Transport is not read twice: the Transport's
// verdict, with its Attempts, is returned.
func Decode(resp *http.Response) error { return Decoder{}.Decode(resp) }

// Decode decodes resp; see the package function Decode.
func (d Decoder) Decode(resp *http.Response) error {
	if resp == nil {
		return errors.New("memerr: Decode of a nil response")
	}
	if ib, ok := resp.Body.(*inspectedBody); ok && ib.done {
		if ib.err != nil {
			resp.Body.Close()
			return ib.err
		}
		return nil
	}
	limit := d.MaxErrorBody
	if limit <= 0 {
		limit = DefaultMaxErrorBody
	}
	ib := &inspectedBody{}
	if e := ib.inspect(resp, d.Vendor, limit); e != nil {
		resp.Body.Close()
		return e
	}
	return nil
}
