package memerr

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// span is the raw text of a JSON string (without quotes) or number. It points
// into the body and is turned into a Go string only when an Error is built,
// so telling a success from a failure allocates nothing.
type span struct {
	raw []byte
	esc bool // contains a backslash escape
	str bool // was a JSON string (else a number)
	set bool
}

func (s span) String() string {
	if !s.set {
		return ""
	}
	if s.esc {
		var out string
		q := make([]byte, 0, len(s.raw)+2)
		q = append(q, '"')
		q = append(q, s.raw...)
		q = append(q, '"')
		if json.Unmarshal(q, &out) == nil {
			return out
		}
	}
	if !utf8.Valid(s.raw) {
		return string(bytes.ToValidUTF8(s.raw, []byte("\uFFFD")))
	}
	return string(s.raw)
}

// code renders a span used as a code: strings as sent, numbers in their
// integer form when they are integral ("4009.0" and "4.009e3" become "4009").
func (s span) code() string {
	if !s.set {
		return ""
	}
	if s.str {
		return s.String()
	}
	for _, c := range s.raw {
		if c == '.' || c == 'e' || c == 'E' {
			f, err := strconv.ParseFloat(string(s.raw), 64)
			if err == nil && f == float64(int64(f)) && f > -1e15 && f < 1e15 {
				return strconv.FormatInt(int64(f), 10)
			}
			break
		}
	}
	return string(s.raw)
}

// is reports whether the span holds exactly lit.
func (s span) is(lit string) bool { return s.set && !s.esc && string(s.raw) == lit }

// envelope is the union of the top-level fields of every vendor's envelope.
type envelope struct {
	code       span // "code": number or string
	msg        span // "msg" (memories.ai, Coze)
	message    span // "message" (MemOS)
	success    int8 // "success": 0 absent, 1 true, -1 false
	failed     bool // "failed": true (memories.ai's older API)
	hasData    bool
	data       []byte // the raw "data" value, for DoJSON
	errObj     bool   // "error" is an object (Tensorheart, Memory OS)
	errCode    span
	errMessage span // error.message, or "error" when it is a string
	errDetails []byte
	detailObj  bool // "detail" is an object (FastAPI, Coze)
	detailCode span
	detailMsg  span
	detailRaw  []byte
	logid      span // detail.logid (Coze)
	detailStr  span // "detail" is a string (FastAPI)
	requestID  span // meta.request_id or request_id
	retryAfter span // "retry_after" (MemOS self-hosted), a number of seconds
	wfCode     span // "error_code" (Coze workflow streams)
	wfMessage  span // "error_message"
}

// scanner reads just enough JSON to fill an envelope. It never recurses, so
// deep nesting cannot exhaust the stack, and it skips values it does not
// need (the success payload) without parsing them.
type scanner struct {
	b []byte
	i int
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func (s *scanner) ws() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a JSON string at s.i (which holds '"') in one pass, noting
// whether it holds escapes.
func (s *scanner) str() (span, bool) {
	b := s.b
	start := s.i + 1
	esc := false
	for j := start; j < len(b); j++ {
		switch b[j] {
		case '"':
			s.i = j + 1
			return span{raw: b[start:j], esc: esc, str: true, set: true}, true
		case '\\':
			esc = true
			j++ // the escaped byte cannot end the string
		}
	}
	return span{}, false
}

// scalar reads a string or a number; other values are skipped and unset.
func (s *scanner) scalar() (span, bool) {
	switch c := s.peek(); {
	case c == '"':
		return s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		start := s.i
		for s.i < len(s.b) {
			c := s.b[s.i]
			if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				s.i++
				continue
			}
			break
		}
		return span{raw: s.b[start:s.i], set: true}, true
	}
	return span{}, s.skip()
}

// boolean reads true or false: 1, -1; anything else is skipped as 0.
func (s *scanner) boolean() (int8, bool) {
	if bytes.HasPrefix(s.b[s.i:], []byte("true")) {
		s.i += 4
		return 1, true
	}
	if bytes.HasPrefix(s.b[s.i:], []byte("false")) {
		s.i += 5
		return -1, true
	}
	return 0, s.skip()
}

// skip passes over one value of any kind without recursion.
func (s *scanner) skip() bool {
	switch c := s.peek(); c {
	case '"':
		_, ok := s.str()
		return ok
	case '{', '[':
		ok := false
		s.i, ok = skipNested(s.b, s.i)
		return ok
	case 0, ',', '}', ']', ':':
		return false
	default:
		// number, true, false, null
		start := s.i
		for s.i < len(s.b) {
			c := s.b[s.i]
			if c == ',' || c == '}' || c == ']' || isSpace(c) {
				break
			}
			s.i++
		}
		return s.i > start
	}
}

// object walks the members of an object at s.i, calling f with each key;
// f must consume the value. It reports whether the object was well formed.
func (s *scanner) object(f func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		if s.peek() != '"' {
			return false
		}
		k, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !f(k.raw) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// raw skips a value and returns its text.
func (s *scanner) raw() ([]byte, bool) {
	start := s.i
	ok := s.skip()
	return s.b[start:s.i], ok
}

// scanEnvelope fills env from body. It reports false when body is not a
// well-formed JSON object (HTML, text, truncated JSON, an array).
func scanEnvelope(body []byte, env *envelope) bool {
	s := scanner{b: body}
	s.ws()
	if !s.object(func(key []byte) bool { return s.top(key, env) }) {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

func (s *scanner) top(key []byte, env *envelope) bool {
	var ok bool
	switch string(key) {
	case "code":
		env.code, ok = s.scalar()
	case "msg":
		env.msg, ok = s.scalar()
	case "message":
		env.message, ok = s.scalar()
	case "success":
		env.success, ok = s.boolean()
	case "failed":
		var f int8
		f, ok = s.boolean()
		env.failed = f == 1
	case "data":
		env.hasData = s.peek() != 'n'
		env.data, ok = s.raw()
	case "error":
		switch s.peek() {
		case '{':
			env.errObj = true
			ok = s.object(func(k []byte) bool {
				var ok bool
				switch string(k) {
				case "code":
					env.errCode, ok = s.scalar()
				case "message", "msg":
					env.errMessage, ok = s.scalar()
				case "details":
					env.errDetails, ok = s.raw()
				default:
					ok = s.skip()
				}
				return ok
			})
		case '"':
			env.errMessage, ok = s.str()
		default:
			ok = s.skip()
		}
	case "detail":
		switch s.peek() {
		case '{':
			start := s.i
			env.detailObj = true
			ok = s.object(func(k []byte) bool {
				var ok bool
				switch string(k) {
				case "code":
					env.detailCode, ok = s.scalar()
				case "message", "msg":
					env.detailMsg, ok = s.scalar()
				case "logid":
					env.logid, ok = s.scalar()
				case "details":
					env.errDetails, ok = s.raw()
				default:
					ok = s.skip()
				}
				return ok
			})
			env.detailRaw = s.b[start:s.i]
		case '"':
			env.detailStr, ok = s.str()
		default:
			ok = s.skip()
		}
	case "meta":
		if s.peek() == '{' {
			ok = s.object(func(k []byte) bool {
				if string(k) == "request_id" {
					var ok bool
					env.requestID, ok = s.scalar()
					return ok
				}
				return s.skip()
			})
		} else {
			ok = s.skip()
		}
	case "request_id":
		env.requestID, ok = s.scalar()
	case "retry_after":
		env.retryAfter, ok = s.scalar()
	case "error_code":
		env.wfCode, ok = s.scalar()
	case "error_message":
		env.wfMessage, ok = s.scalar()
	default:
		ok = s.skip()
	}
	return ok
}

// skipNested passes over the object or array starting at b[i] and returns
// the index just after it. It is the success check's hot loop: it works on
// locals, steps over strings byte by byte (an escape skips the next byte,
// as str's backslash count does) and never builds a span. ok is false when
// the value is not closed.
func skipNested(b []byte, i int) (int, bool) {
	depth := 0
	for i < len(b) {
		// Step over bytes that cannot change the nesting.
		for i < len(b) && !structural[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		switch b[i] {
		case '"':
			// Find the closing quote: the next quote not escaped by an odd
			// run of backslashes before it.
			start := i + 1
			j := start
			for {
				k := bytes.IndexByte(b[j:], '"')
				if k < 0 {
					return len(b), false
				}
				j += k
				n := 0
				for p := j - 1; p >= start && b[p] == '\\'; p-- {
					n++
				}
				if n%2 == 0 {
					break
				}
				j++
			}
			i = j + 1
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
		i++
	}
	return len(b), false
}

// structural marks the bytes skipNested must look at.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}
