package memerr

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/bits"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxErrorBody is how much of an error body Decode and the Transport
// read: 1 MiB. The rest is left unread.
const DefaultMaxErrorBody int64 = 1 << 20

// PeekLimit is the largest 2xx JSON body that is read to look for an in-body
// error (HTTP 200 with {"code":4009,...}). Larger 2xx bodies are success
// payloads and are never buffered. A body whose first member is its
// vendor's Authority member holding a success value (`{"code":0,...`) is
// read ahead only as far as its first few hundred bytes: that member
// decides the call.
const PeekLimit = 16 << 10

// Parse decodes a response that has already been read: it returns nil when
// the response is a success and an *Error otherwise. v names the vendor, or
// Auto to detect it (see Detection); a vendor that is not registered is
// detected too.
//
// A status of 400 or more is always a failure. A lower status is a failure
// only when the body is a JSON object in which one of the vendor's
// envelopes reports one (see Envelope): a code that is not a success code,
// "success":false, an error object, a failed chat... The order of the
// members never matters. Bodies that are not JSON objects (HTML, text,
// malformed JSON) are Generic errors classified by status, or successes
// below 400. Parse never panics and never keeps a reference to body.
func Parse(v Vendor, status int, h http.Header, body []byte) error {
	if e := parse(v, status, h, body); e != nil {
		return e
	}
	return nil
}

func parse(v Vendor, status int, h http.Header, body []byte) *Error {
	e, _ := decodeBody(v, "", status, h, body, false)
	return e
}

// decodeBody is parse, and when call is set and v is not a registered
// vendor it also returns the vendor detected for sure (see detectSure), ""
// otherwise.
//
// learned, when v is not registered, is the vendor a Transport detected for
// sure in an earlier response of the same host. It only ever confirms a
// success: a 2xx body that its Authority member confirms, or that is in its
// shapes and a success by them, is a success without detection. Anything
// else is decoded as under Auto, so a host that serves two vendors (a test
// server) is still read right.
//
// call judges the call alone, as the Transport does: the Resource shapes
// are not read (see Envelope.Resource), and the vendor detected for sure
// is reported, for the Transport to remember for the host. Parse and
// Decode need only the vendor, which detection then finds without
// checking for ties.
func decodeBody(v, learned Vendor, status int, h http.Header, body []byte, call bool) (*Error, Vendor) {
	set := profiles.Load()
	var p *profile
	// Auto is never registered; Generic is what no envelope gives, not a
	// hint.
	if v != Auto && v != Generic {
		p = set.byVendor[v]
	}
	if status < 400 {
		short := p
		if short == nil && learned != "" {
			short = set.byVendor[learned]
		}
		if short != nil && (call || !short.resources) && authoritySuccess(short, body) {
			return nil, ""
		}
	}
	var f fields
	if !scanFields(body, set, &f) || f.dup {
		// Not JSON, or a member the envelopes read is written twice and
		// could mean either: the status decides.
		if status < 400 {
			return nil, ""
		}
		e := &Error{StatusCode: status, Vendor: Generic, Code: strconv.Itoa(status), Kind: KindForStatus(status)}
		e.Message = textMessage(body, status)
		e.RequestID = requestID(p, h, nil, &f)
		e.RetryAfter = headerRetryAfter(h, e.Kind)
		scrubError(e, nil)
		return e, ""
	}
	code := codeFacts{set: set, id: -1}
	if p == nil && learned != "" && status < 400 {
		if lp := set.byVendor[learned]; lp != nil && lp.speaks(&f) && lp.failing(&f, call, &code) == nil {
			return nil, ""
		}
	}
	var sure Vendor
	if p == nil {
		var ok bool
		if p, ok = set.rank(&f, h, &code, call); ok && call {
			sure = p.Vendor
		}
	} else if !p.speaks(&f) {
		p = set.detect(&f, h, &code)
	}
	env := p.failing(&f, call, &code)
	if env == nil {
		if status < 400 {
			return nil, sure
		}
		env = p.describing(&f)
	}
	return p.build(env, status, h, &f, &code), sure
}

// speaks reports whether the body is in one of p's shapes: its Authority
// member or an envelope that applies (see reports). A vendor named for a
// body it does not describe (a proxy's error, another vendor's host)
// leaves the body to detection.
func (p *profile) speaks(f *fields) bool {
	if f.get(p.authority).present() {
		return true
	}
	for i := range p.envs {
		if p.envs[i].applies(f) {
			return true
		}
	}
	return false
}

// failing returns the envelope of p that reports a failure in the fields
// of a 2xx body, or nil when the body is a success for p. call leaves out
// the Resource shapes; an Authority member holding a success value leaves
// only them. code serves the facts of the code members (see codeFacts).
func (p *profile) failing(f *fields, call bool, code *codeFacts) *envelope {
	succeeded := p.succeeds(f, p.authority, code)
	for i := range p.envs {
		e := &p.envs[i]
		if e.Resource && call || !e.Resource && succeeded {
			continue
		}
		if failed, _ := p.reports(e, f, code); failed {
			return e
		}
	}
	return nil
}

// reports applies one envelope to the fields (see Envelope): whether it
// speaks at all, and whether it reports a failure.
func (p *profile) reports(e *envelope, f *fields, code *codeFacts) (failed, applies bool) {
	switch e.decidedBy(f) {
	case byWhen, byMessage:
		return !e.StatusOnly, true
	case bySuccess:
		return f.get(e.success).kind == 'f', true
	case byFailed:
		return true, true
	case byCode:
		return !p.succeeds(f, e.code, code) && !e.StatusOnly, true
	}
	return false, false
}

// applies reports whether the envelope speaks for the fields at all: what
// reports says without working out whether it is a failure. Most
// envelopes have none of their deciding members in a body, which the
// mask tells without a call.
func (e *envelope) applies(f *fields) bool {
	return e.decides&f.present != 0 && e.decidedBy(f) != byNothing
}

// decider is the member that decides what an envelope reports.
type decider uint8

const (
	byNothing decider = iota // the envelope does not apply
	byWhen                   // its When member selects it
	bySuccess                // its Success flag is true or false
	byFailed                 // its Failed flag is true
	byCode                   // its Code member is present
	byMessage                // a shape that is only a message has a non-empty one
)

// decidedBy finds the member that decides what e reports, in the order
// Envelope describes.
func (e *envelope) decidedBy(f *fields) decider {
	if e.decides&f.present == 0 {
		return byNothing // none of the members that decide is in the body
	}
	if e.when >= 0 { // a shape with a When speaks only when selected
		if selected(e, f) {
			return byWhen
		}
		return byNothing
	}
	if s := f.get(e.success); s.kind == 't' || s.kind == 'f' {
		return bySuccess
	}
	if f.get(e.failed).kind == 't' {
		return byFailed
	}
	if f.get(e.code).present() {
		return byCode
	}
	if e.code < 0 && e.success < 0 && e.failed < 0 && len(message(e, f).raw) > 0 {
		return byMessage
	}
	return byNothing
}

// selected reports whether the fields satisfy the envelope's When.
func selected(e *envelope, f *fields) bool {
	if e.when < 0 {
		return true
	}
	w := f.get(e.when)
	if len(e.Is) == 0 {
		return w.present()
	}
	return w.matches(e.Is)
}

// succeeds reports whether the member with path id (-1: none) holds a
// value that means success for p (see successValue); a code is looked up
// in code, which keeps the facts for build.
func (p *profile) succeeds(f *fields, id int, code *codeFacts) bool {
	v := f.get(id)
	if v.kind == 't' {
		return true
	}
	if !v.scalar() {
		return false
	}
	i, known := code.at(id, v).of(p)
	return known && i < 0
}

// successValue reports whether a code or flag value means success: true,
// or one of the profile's success codes.
func (p *profile) successValue(v value) bool {
	if v.kind == 't' {
		return true
	}
	return v.scalar() && p.isSuccessCode(v)
}

// isSuccessCode reports whether a code is one of p's success codes (a
// short list: compared in place, without allocating for plain codes).
func (p *profile) isSuccessCode(v value) bool {
	if !v.plain() {
		return slices.Contains(p.SuccessCodes, v.code())
	}
	for _, c := range p.SuccessCodes {
		if string(v.raw) == c {
			return true
		}
	}
	return false
}

// message returns the first message member of e present as a string or
// number.
func message(e *envelope, f *fields) value {
	for _, id := range e.message {
		if m := f.get(id); m.scalar() {
			return m
		}
	}
	return value{}
}

// describing returns the envelope of p that describes a failed response
// best: the first that applies (see reports), else the first with any of
// its members in the body, else nil.
func (p *profile) describing(f *fields) *envelope {
	for i := range p.envs {
		if p.envs[i].applies(f) {
			return &p.envs[i]
		}
	}
	for i := range p.envs {
		if e := &p.envs[i]; selected(e, f) && e.found(f) > 0 {
			return e
		}
	}
	return nil
}

// found counts the envelope's members present in the body.
func (e *envelope) found(f *fields) int { return bits.OnesCount64(e.mask & f.present) }

// build makes the Error of a failure of p described by env (nil: no
// envelope of p found anything, and the status decides). code holds the
// facts of the code member detection read last, if any: when env reads
// the same member, its value is not looked up again.
func (p *profile) build(env *envelope, status int, h http.Header, f *fields, code *codeFacts) *Error {
	e := &Error{StatusCode: status, Vendor: p.Vendor}
	known := KindUnknown // the Kind p's table gives e.Code
	if env != nil {
		if c := f.get(env.code); c.scalar() {
			e.Code, known = p.codeOf(c, code.at(env.code, c))
		}
		e.Message = message(env, f).String()
		if d := f.get(env.details); d.kind == '"' {
			e.Details, _ = json.Marshal(d.String())
		} else if d.present() {
			e.Details = clone(d.raw)
		}
	}
	if e.Code == "" && p.Vendor == Generic {
		e.Code = strconv.Itoa(status)
		known = p.tableKind(e.Code)
	}
	e.Kind = p.kind(e.Code, known, e.Message, status)
	e.RequestID = requestID(p, h, env, f)
	scrubError(e, nil)
	e.RetryAfter = headerRetryAfter(h, e.Kind)
	if e.RetryAfter == 0 && env != nil {
		e.RetryAfter = bodyRetryAfter(f.get(env.retryAfter))
	}
	return e
}

// codeOf returns the text (see value.code) of a code value c whose facts
// are facts, and the Kind p's table gives it (KindUnknown when it is not
// in the table). A code of the table is returned as the table's own
// string, without allocating; one of p's success codes reports no failure
// and gives "".
func (p *profile) codeOf(c value, facts *codeFacts) (string, Kind) {
	i, known := facts.of(p)
	switch {
	case !known:
		return c.code(), KindUnknown
	case i < 0:
		return "", KindUnknown
	}
	return p.Codes[i].Code.Value, p.Codes[i].Kind
}

// tableKind is the Kind p's table gives code, KindUnknown if none.
func (p *profile) tableKind(code string) Kind {
	if i, ok := p.codes[code]; ok {
		return p.Codes[i].Kind
	}
	return KindUnknown
}

// kind gives the Kind of a code of p whose table gives it known: the
// profile's Classify first (a value that is not a Kind counts as
// KindUnknown), then known, then the HTTP status, then the words of a
// string code or of the message.
func (p *profile) kind(code string, known Kind, msg string, status int) Kind {
	if p.Classify != nil {
		if k := p.Classify(code, msg, status, known); k != KindUnknown && k < numKinds {
			return k
		}
	}
	switch {
	case known != KindUnknown:
		return known
	case status >= 400:
		return KindForStatus(status)
	}
	if _, err := strconv.ParseInt(code, 10, 64); err != nil && code != "" {
		if k := kindByWords(code); k != KindUnknown {
			return k
		}
	}
	return kindByWords(msg)
}

// detect names the vendor of a JSON body when none is given: each
// profile's score adds its detection signals (a header 4, a member 3) to
// the members found by its best envelope that applies, plus 3 when that
// envelope's code is in its table (or a success code) or 2 when the code is
// in its ranges; the highest score wins, ties going to the profile
// registered first. With no score at all the body is Generic.
//
// code gathers the facts of the code members read (see codeFacts).
func (set *profileSet) detect(f *fields, h http.Header, code *codeFacts) *profile {
	p, _ := set.rank(f, h, code, false)
	return p
}

// detectSure is detect, and reports whether the vendor is known for sure:
// a signal of its own (a header, a member, a code of its table or one of
// its success codes) and a score no other vendor ties. A Transport
// remembers a host's vendor only then.
//
// Scoring a profile looks at each of its envelopes and looks up its
// headers; its bound (see bound) costs two bit counts. The profile whose
// members can score most is scored first, then each other one in turn only
// when its bound reaches the best score so far: one that cannot reach it
// can neither win nor tie, so the result is that of scoring every profile.
func (set *profileSet) detectSure(f *fields, h http.Header, code *codeFacts) (*profile, bool) {
	return set.rank(f, h, code, true)
}

// rank is detectSure; without ties it finds the same winner, but its
// report of sure means nothing: a profile registered after the best so far
// is scored only when it may beat it, since a tie would not make it the
// winner, only the winner unsure.
func (set *profileSet) rank(f *fields, h http.Header, code *codeFacts, ties bool) (*profile, bool) {
	first, most := -1, 0
	for i, p := range set.detecting {
		if b := p.bound(f); b > most {
			first, most = i, b
		}
	}
	best, bestScore, sure := -1, 0, false
	if first >= 0 { // its bound is 1 or more: it is scored
		bestScore, sure, _ = set.detecting[first].score(f, h, 1, code)
		best = first
	}
	for i, p := range set.detecting {
		if i == first || p.bound(f)+p.headerScore < max(bestScore, 1) {
			continue // p cannot reach the best score
		}
		need := max(bestScore, 1)
		if !ties && i > best {
			need = bestScore + 1 // p must beat the best: a tie goes to the best
		}
		score, strong, ok := p.score(f, h, need, code)
		switch {
		case !ok:
		case score > bestScore:
			best, bestScore, sure = i, score, strong
		case score == bestScore: // a tie: the first registered wins, not for sure
			best, sure = min(best, i), false
		}
	}
	if bestScore == 0 {
		return set.byVendor[Generic], false
	}
	return set.detecting[best], sure
}

// bound is the most p can score with the members of f (see detect),
// headers left out: 3 for each of its detection members, and when one of
// its envelopes may apply (a member that decides one is present), the
// members of all its envelopes and 3 for a code.
func (p *profile) bound(f *fields) int {
	b := 0
	if s := p.signals & f.present; s != 0 {
		b = 3 * bits.OnesCount64(s)
	}
	if p.decides&f.present != 0 {
		b += bits.OnesCount64(p.fits&f.present) + 3
	}
	return b
}

// score is p's detection score on f and h and whether p has a signal of
// its own (see detectSure); ok is false, and p is not scored, when its
// bound and headers show it cannot reach atLeast.
func (p *profile) score(f *fields, h http.Header, atLeast int, code *codeFacts) (score int, strong, ok bool) {
	bound := p.bound(f)
	if p.headerScore > 0 && bound+p.headerScore >= atLeast && headerSignal(h, p.Detect.Headers) {
		bound += p.headerScore
		score, strong = p.headerScore, true
	}
	if bound < atLeast {
		return 0, false, false
	}
	if n := bits.OnesCount64(p.signals & f.present); n > 0 {
		score += 3 * n
		strong = true
	}
	fit := 0
	for i := range p.envs {
		e := &p.envs[i]
		if !e.applies(f) {
			continue
		}
		n := e.found(f)
		if c := f.get(e.code); c.scalar() {
			if _, known := code.at(e.code, c).of(p); known {
				n += 3
				strong = true
			} else if len(p.Detect.CodeRanges) > 0 && code.inRanges(p.Detect.CodeRanges) {
				n += 2
			}
		}
		fit = max(fit, n)
	}
	return score + fit, strong, true
}

// codeFacts is what one Parse learns from the value of a code member:
// what the profiles of set know of it (see knownCode) and whether it is
// in a profile's CodeRanges. Most shapes of most vendors read the same
// member ("code"), so the facts of the last member read serve the next
// shape that reads it, in detection and then in build: the value is
// looked up once.
type codeFacts struct {
	set     *profileSet
	id      int // the member's path id; -1 before the first
	v       value
	knownBy []knownCode
	n       int64 // the value as an integer, when isInt; read only for CodeRanges
	intRead bool
	isInt   bool
}

// at returns the facts of the member with path id, whose value is v: c,
// made those facts first unless it holds them already.
func (c *codeFacts) at(id int, v value) *codeFacts {
	if c.id != id {
		c.read(id, v)
	}
	return c
}

// read makes c the facts of the member with path id and value v.
func (c *codeFacts) read(id int, v value) {
	*c = codeFacts{set: c.set, id: id, v: v}
	if v.plain() {
		c.knownBy = c.set.knownBy[string(v.raw)]
	} else {
		c.knownBy = c.set.knownBy[v.code()]
	}
}

// of returns p's entry for the code: its index in p.Codes, or -1 for one
// of p's success codes (see knownCode); known is false when p knows the
// code as neither.
func (c *codeFacts) of(p *profile) (i int, known bool) {
	for _, k := range c.knownBy {
		if k.p == p {
			return k.i, true
		}
	}
	return 0, false
}

// inRanges reports whether the code is an integer in one of ranges.
func (c *codeFacts) inRanges(ranges [][2]int64) bool {
	if len(ranges) == 0 {
		return false
	}
	if !c.intRead {
		c.n, c.isInt = c.v.integer()
		c.intRead = true
	}
	if !c.isInt {
		return false
	}
	for _, r := range ranges {
		if c.n >= r[0] && c.n <= r[1] {
			return true
		}
	}
	return false
}

// kindByWords classifies an unknown string code ("PAYMENT_REQUIRED") or a
// message ("temporarily unavailable") by the words in it.
func kindByWords(s string) Kind {
	if s == "" {
		return KindUnknown
	}
	c := strings.ToUpper(strings.ReplaceAll(strings.ReplaceAll(s, " ", "_"), "-", "_"))
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
	case has("RATE_LIMIT", "RATELIMIT", "TOO_MANY", "THROTTL", "CONCURRENT", "SLOW_DOWN"):
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
	case has("UNAVAILABLE", "OVERLOAD", "BUSY", "TIMEOUT", "TIMED_OUT"):
		return KindUnavailable
	case has("INTERNAL", "FAILED", "SERVER"):
		return KindInternal
	case has("INVALID", "VALIDATION", "BAD_REQUEST", "REQUIRED", "UNSUPPORTED", "NOT_SUPPORTED"):
		return KindInvalidRequest
	}
	return KindUnknown
}

// requestID returns the request id: the envelope's members, then the
// vendor's headers, then the common ones (commonIDHeaders); with no vendor
// or Generic, every vendor's headers, then the common ones.
func requestID(p *profile, h http.Header, env *envelope, f *fields) string {
	if env != nil {
		for _, id := range env.requestID {
			if v := f.get(id); v.scalar() {
				return cleanLine(v.String(), 128)
			}
		}
	}
	headers := profiles.Load().requestIDHeaders
	if p != nil {
		headers = p.idHeaders // canonical keys (see compile)
	}
	for _, k := range headers {
		if v := headerValue(h, k); v != "" {
			return cleanLine(v, 128)
		}
	}
	return ""
}

// headerRetryAfter is the headers' wait hint for a failure of kind k. An
// X-RateLimit-Reset counts only for a rate-limit or quota failure, or when
// X-RateLimit-Remaining is 0: some servers send the header on every
// response, where it says when the window turns, not how long to wait.
func headerRetryAfter(h http.Header, k Kind) time.Duration {
	reset := k == KindRateLimited || k == KindQuotaExceeded || headerValue(h, "X-Ratelimit-Remaining") == "0"
	d, _ := parseHint(h, timeNow, reset)
	return d
}

// textMessage extracts a short message from a body that is not JSON: the
// <title> of an HTML page, the first line of text, or the status text. A
// leading byte order mark is not part of the text.
func textMessage(body []byte, status int) string {
	b := bytes.TrimSpace(trimBOM(bytes.TrimSpace(body)))
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
	if len(b) > 0 && (b[0] == '{' || b[0] == '[' || b[0] == 0x1e) {
		// Broken or foreign JSON, or a JSON text sequence (RFC 7464's
		// records start with 0x1E): not worth quoting.
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

// clone copies b (nil stays nil) into a slice of its own length.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// ParseEvent decodes the data line of a server-sent error event, such as
// Coze's "event: error" with {"code":4000,"msg":"..."}, a workflow stream's
// {"error_code":4000,"error_message":"..."}, a "conversation.chat.failed"
// chat with its last_error, or a MemOS {"type":"error",...} frame. A leading
// "data:" is accepted. It returns nil when the data reports success or is
// the [DONE] end marker (bare or as a JSON string), and a Generic *Error of KindUnknown quoting the
// text when the data is not JSON. Use ParseStreamEvent when the event name
// is known: an error event is a failure even when its data says nothing.
func ParseEvent(v Vendor, data []byte) error {
	return ParseStreamEvent(v, nil, "", data)
}

// ParseStreamEvent decodes one server-sent event of a stream response: its
// event name (the "event:" line, "" if none) and its data. h is the stream
// response's header, whose request id (Coze's X-Tt-Logid) the error
// carries when the data has none; it may be nil. An event the vendor's
// profile names in ErrorEvents ("error", "conversation.chat.failed") is
// always a failure: data that is empty, {} or not JSON gives an *Error of
// KindUnknown rather than nil. Other events are failures only when their
// data reports one, as with ParseEvent.
func ParseStreamEvent(v Vendor, h http.Header, event string, data []byte) error {
	data = bytes.TrimSpace(data)
	data = bytes.TrimSpace(bytes.TrimPrefix(data, []byte("data:")))
	if string(data) == "[DONE]" || string(data) == `"[DONE]"` {
		return nil // the end-of-stream marker (Coze may quote it) is no error
	}
	set := profiles.Load()
	p := set.byVendor[v]
	errorEvent := event != "" && (p != nil && p.events[event] || p == nil && set.errorEvent(event))
	var f fields
	if !scanFields(data, set, &f) || f.dup {
		if event != "" && !errorEvent {
			return nil // a text frame of a stream, such as a delta
		}
		if p == nil {
			// No body to detect the vendor from: its headers may name
			// it (X-Tt-Logid), and then where its request id is.
			if d := set.detect(&fields{}, h, &codeFacts{set: set, id: -1}); d.Vendor != Generic {
				p = d
			}
		}
		e := &Error{Vendor: Generic, StatusCode: http.StatusOK, Kind: KindUnknown, Message: textMessage(data, 0)}
		if len(data) == 0 {
			e.Message = "error event without data"
		}
		if p != nil {
			e.Vendor = p.Vendor
		}
		e.RequestID = requestID(p, h, nil, &f)
		scrubError(e, nil)
		return e
	}
	code := codeFacts{set: set, id: -1}
	if p == nil || p.Vendor == Generic || !p.speaks(&f) {
		p = set.detect(&f, h, &code)
	}
	env := p.failing(&f, false, &code)
	if env == nil {
		if !errorEvent {
			return nil
		}
		env = p.describing(&f)
	}
	e := p.build(env, http.StatusOK, h, &f, &code)
	if e.Message == "" && (e.Code == "" || e.Vendor == Generic) {
		// An error event with {}, or a failed chat without its
		// last_error: say so rather than print nothing (a Generic
		// code is only the stream's HTTP status).
		e.Message = "error event without details"
	}
	return e
}

// errorEvent reports whether any profile names event as an error event.
func (set *profileSet) errorEvent(event string) bool {
	for _, p := range set.list {
		if p.events[event] {
			return true
		}
	}
	return false
}

// bodyRetryAfter reads a body "retry_after": a JSON number of seconds, which
// may have a fraction or an exponent (1e20 is capped at MaxHint); strings,
// negative values and malformed numbers are ignored.
func bodyRetryAfter(r value) time.Duration {
	if r.kind != '0' || r.raw[0] == '-' {
		return 0
	}
	f, err := strconv.ParseFloat(string(r.raw), 64)
	if err != nil && !isRangeErr(err) || math.IsNaN(f) || f < 0 {
		return 0
	}
	return capSeconds(f)
}

// Decoder decodes responses with a fixed vendor hint and error-body bound.
// The zero value detects the vendor and reads at most DefaultMaxErrorBody.
type Decoder struct {
	Vendor       Vendor // Auto: detect from each response
	MaxErrorBody int64  // bytes of an error body to read; 0 means DefaultMaxErrorBody

	learned Vendor // Client.Do: the vendor its Transport detected for the host (see decodeBody)
}

// Decode is Decoder{}.Decode: it returns nil for a successful response and
// an *Error for a failure.
//
// On success resp.Body is left readable from its first byte (a small JSON
// body may have been read ahead and is replayed); a 2xx body longer than
// PeekLimit is taken for a success payload without being judged. On failure the body has
// been read (at most DefaultMaxErrorBody bytes) and closed. A response
// that came through a memerr Transport is not read twice: the Transport's
// verdict, with its Attempts, is returned; a success by that verdict is
// still checked, in the bytes the Transport read ahead, for the vendor's
// Resource shapes (a chat that failed), which the Transport leaves alone.
// An *Error Decode finds itself carries the Attempts of the Transport
// behind the response when it made several; after a single attempt whose
// body it did not read ahead, Attempts is 0, as without a Transport.
func Decode(resp *http.Response) error { return Decoder{}.Decode(resp) }

// Decode decodes resp; see the package function Decode.
func (d Decoder) Decode(resp *http.Response) error {
	if resp == nil {
		return errors.New("memerr: Decode of a nil response")
	}
	if ib, ok := resp.Body.(*inspectedBody); ok && ib.done {
		if ib.err == nil && ib.call {
			if ib.err = ib.resourceState(resp, d.Vendor, d.learned); ib.err != nil {
				ib.err.Attempts = max(ib.attempts, 1) // read ahead by a Transport
			}
		}
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
	attempts := 0 // a single attempt of a Transport leaves no mark on a body it did not read
	if ab, ok := resp.Body.(*attemptsBody); ok {
		attempts = ab.attempts
	}
	ib := &inspectedBody{}
	if e := ib.inspect(resp, d.Vendor, d.learned, limit); e != nil {
		e.Attempts = attempts
		resp.Body.Close()
		return e
	}
	return nil
}

// successData returns the payload of a success body: the "data" member of
// a vendor's envelope, named or detected, or the whole body when no vendor
// is recognised in it (a plain resource such as {"id":"m1","data":{...}}).
func successData(v Vendor, h http.Header, body []byte) []byte {
	set := profiles.Load()
	var f fields
	if !scanFields(body, set, &f) {
		return body
	}
	p := set.byVendor[v]
	if p == nil || p.Vendor == Generic || !p.speaks(&f) {
		p = set.detect(&f, h, &codeFacts{set: set, id: -1})
	}
	if d := f.get(set.data); p.Vendor != Generic && d.kind != 0 {
		return d.raw
	}
	return body
}
