package memerr

import (
	"bytes"
	"encoding/json"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// value is one member's value as the body writes it, pointing into the
// body: a string without its quotes, a number, a literal, or an object's or
// array's whole text. It becomes a Go string only when an Error is built.
type value struct {
	raw      []byte
	kind     byte // '"' string, '0' number, 't' true, 'f' false, 'n' null, '{' object, '[' array; 0 absent
	esc      bool // a string holding backslash escapes
	notPlain bool // raw holds a byte of 0x80 or more, or a number a '.', 'e' or 'E'
}

// present reports a member that is there and not null.
func (v value) present() bool { return v.kind != 0 && v.kind != 'n' }

// scalar reports a string or number.
func (v value) scalar() bool { return v.kind == '"' || v.kind == '0' }

// String returns a string's text (unescaped, invalid UTF-8 replaced) or a
// number's digits; "" for anything else.
func (v value) String() string {
	if !v.scalar() {
		return ""
	}
	if v.esc {
		var out string
		q := make([]byte, 0, len(v.raw)+2)
		q = append(append(append(q, '"'), v.raw...), '"')
		if json.Unmarshal(q, &out) == nil {
			return out
		}
	}
	if v.notPlain && !utf8.Valid(v.raw) { // an ASCII string is valid UTF-8
		return string([]rune(string(v.raw))) // each invalid byte becomes U+FFFD, as encoding/json does
	}
	return string(v.raw)
}

// code renders a value used as a code: strings as sent, numbers in their
// integer form when they are integral ("4009.0" and "4.009e3" are "4009").
func (v value) code() string {
	if v.kind == '0' && v.notPlain { // a number with a fraction or an exponent
		f, err := strconv.ParseFloat(string(v.raw), 64)
		if err == nil && f == float64(int64(f)) && f > -1e15 && f < 1e15 {
			return strconv.FormatInt(int64(f), 10)
		}
	}
	return v.String()
}

// integer reads a code as an integer: a plain number, or a string of
// digits ("40300"), or an integral number written otherwise ("4009.0").
func (v value) integer() (int64, bool) {
	if v.kind != '0' && v.kind != '"' || len(v.raw) == 0 || len(v.raw) > 18 {
		return 0, false
	}
	var n int64
	neg := v.raw[0] == '-'
	digits := v.raw
	if neg {
		digits = digits[1:]
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			n, err := strconv.ParseInt(v.code(), 10, 64) // 4009.0, 4.009e3
			return n, err == nil
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, len(digits) > 0
}

// plain reports a string without escapes or an integer written plainly,
// in ASCII: its raw text is its code() form.
func (v value) plain() bool { return !v.esc && !v.notPlain }

// matches reports whether the value is one of lits: strings compared
// without quotes, numbers and literals as written.
func (v value) matches(lits []string) bool {
	if !v.present() || v.kind == '{' || v.kind == '[' {
		return false
	}
	s := string(v.raw)
	if v.esc {
		s = v.String()
	}
	for _, l := range lits {
		if s == l {
			return true
		}
	}
	return false
}

// fields holds the values of the member paths the profiles read, by path
// id, from one pass over a body.
type fields struct {
	vals    [maxPaths]value
	present uint64 // bit i: path i is present and not null
	dup     bool   // a member the profiles read appears twice: the body is ambiguous
}

// get returns the value of the path with id i; a zero value for -1.
func (f *fields) get(i int) value {
	if uint(i) >= maxPaths { // -1; and the index needs no second check
		return value{}
	}
	return f.vals[i]
}

// scanner reads a JSON object in one pass, recording the members the
// profiles read (set.tree) and passing over the rest. Objects are entered
// only along wanted paths, so nesting in a payload costs no stack; a
// skipped object or array is checked for balanced brackets and strings,
// every value read or skipped at the levels it walks is checked in full.
type scanner struct {
	b []byte
	i int
}

// scanFields fills f from body. It reports false when body is not a JSON
// object (HTML, text, an array, truncated or malformed JSON).
func scanFields(body []byte, set *profileSet, f *fields) bool {
	s := scanner{b: trimBOM(body)}
	if s.next() != '{' || !s.object(set.tree, f) {
		return false
	}
	s.next()
	return s.i == len(s.b)
}

// trimBOM drops a UTF-8 byte order mark, which some servers put before JSON.
func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) }

// isSpace reports JSON's white space; every such byte is ' ' or below, so
// most bytes are told apart by the first comparison.
func isSpace(c byte) bool { return c <= ' ' && (c == ' ' || c == '\n' || c == '\r' || c == '\t') }

// next passes over white space and returns the byte it stops at, 0 at
// the end of the body.
func (s *scanner) next() byte {
	for ; s.i < len(s.b); s.i++ {
		if c := s.b[s.i]; !isSpace(c) {
			return c
		}
	}
	return 0
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object walks the object at s.i, recording the members n wants.
func (s *scanner) object(n *pathNode, f *fields) bool {
	s.i++ // '{'
	if s.next() == '}' {
		s.i++
		return true
	}
	for {
		key, ok := s.str()
		if !ok || s.next() != ':' {
			return false
		}
		s.i++
		var child *pathNode
		if n != nil {
			if key.esc {
				child = n.child([]byte(key.String()))
			} else {
				child = n.child(key.raw)
			}
		}
		if !s.member(child, f) {
			return false
		}
		switch s.next() {
		case ',':
			s.i++
			s.next() // to the next key
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// member reads one member's value, recording it when n wants it and
// walking into it when n wants members inside it.
func (s *scanner) member(n *pathNode, f *fields) bool {
	c := s.next() // the value's first byte
	start := s.i
	var v value // a string's or number's, read by str or number
	var ok bool
	switch {
	case c == '"':
		v, ok = s.str()
	case c == '-' || c >= '0' && c <= '9':
		v, ok = s.number()
	case c == '{' && n != nil && n.children != nil:
		ok = s.object(n, f)
	default:
		ok = s.skip()
	}
	if !ok {
		return false
	}
	if n == nil || n.id < 0 {
		return true
	}
	if v.kind == 0 {
		v = value{raw: s.b[start:s.i], kind: c}
	}
	if f.vals[n.id].kind != 0 {
		f.dup = true
	}
	if c != 'n' {
		f.present |= 1 << n.id
	}
	f.vals[n.id] = v
	return true
}

// str reads the string at s.i: its text without quotes, noting escapes
// and bytes of 0x80 or more on the way. Most strings hold no byte it must
// stop at but their closing quote, and a message or an id runs for dozens
// of bytes: it reads eight bytes at a time (see stringStops), and only the
// body's last few bytes one by one.
func (s *scanner) str() (value, bool) {
	if s.peek() != '"' {
		return value{}, false
	}
	b := s.b
	esc := false
	var or uint64 // the text's bytes ORed together, a word at a time: a 0x80 bit is set if a byte is 0x80 or more
	for j := s.i + 1; j < len(b); {
		// Pass over eight bytes, or one of the body's last few, unless
		// they hold a stop byte: then j moves to the first.
		if j+8 <= len(b) {
			w := load8(b[j : j+8]) // b[j] in the lowest byte
			m := stringStops(w)
			if m == 0 {
				or |= w
				j += 8
				continue
			}
			k := bits.TrailingZeros64(m) / 8 // b[j+k] is the first stop byte
			or |= w & (1<<(8*k) - 1)         // the bytes before it
			j += k
		} else if !stringStop[b[j]] {
			or |= uint64(b[j])
			j++
			continue
		}
		switch b[j] {
		case '"':
			v := value{raw: b[s.i+1 : j], kind: '"', esc: esc, notPlain: or&highBits != 0}
			s.i = j + 1
			return v, true
		case '\\':
			esc = true
			if j+1 < len(b) { // the escaped byte cannot end the string, but counts for or
				or |= uint64(b[j+1])
			}
			j += 2
		default:
			return value{}, false // control characters must be escaped
		}
	}
	return value{}, false
}

// stringStop marks the bytes str stops at in a string: the closing quote,
// a backslash, and the control characters JSON requires escaped.
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// Word-at-a-time tests. Eight bytes of the body are read as one uint64
// w, b[j] in its lowest byte, and tested together. A byte x is below n
// (n <= 0x80) when x - n borrows: subtracting lowBits*n from w subtracts n
// from every byte, and while no byte under it has borrowed, byte x comes
// out with its high bit set when x < n (it wrapped around) or when
// x >= 0x80+n, a case that &^ w clears. A byte that borrowed takes one
// from the byte above it, which may then be flagged wrongly, so only the
// lowest flag counts: the tests return zero when no byte matches, else a
// word whose lowest set bit is the high bit of the first byte that does.
// A byte equal to c is one that is below 1 after an exclusive or with c.
const (
	lowBits  = 0x0101010101010101 // 0x01 in each byte of a word
	highBits = 0x8080808080808080 // 0x80 in each byte of a word
)

// load8 returns the first eight bytes of b as a word, b[0] in its lowest
// byte (the compiler makes it one load). It takes strings too, for the
// secret test and cleanLine.
func load8[T ~string | ~[]byte](b T) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// quotesOrBackslashes flags the bytes of w that are '"' or '\\'. The
// exclusive ors with them (both below 0x80) leave each byte's high bit as
// in w, so one &^ w serves both tests.
func quotesOrBackslashes(w uint64) uint64 {
	q := w ^ lowBits*'"'  // a zero byte where w has '"'
	e := w ^ lowBits*'\\' // a zero byte where w has '\\'
	return ((q - lowBits) | (e - lowBits)) &^ w & highBits
}

// stringStops flags the bytes of w that stringStop marks.
func stringStops(w uint64) uint64 {
	return quotesOrBackslashes(w) | (w-lowBits*0x20)&^w&highBits
}

// skip passes over one value: scalars are checked in full, objects and
// arrays for balanced brackets and strings.
func (s *scanner) skip() bool {
	switch c := s.peek(); {
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '{' || c == '[':
		var ok bool
		s.i, ok = skipNested(s.b, s.i)
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, ok := s.number()
		return ok
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	// Inlined with a constant lit, the comparison is a load or two.
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// number reads the number at s.i as JSON's grammar has it,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, noting a fraction or an
// exponent.
func (s *scanner) number() (value, bool) {
	b := s.b
	i := s.i
	v := value{kind: '0'}
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return value{}, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return value{}, false
		}
		v.notPlain = true
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return value{}, false
		}
		v.notPlain = true
	}
	v.raw = b[s.i:i]
	s.i = i
	return v, true
}

// skipNested passes over the object or array starting at b[i] and returns
// the index just after it. It is the read-ahead's hot loop: it looks at
// each byte outside strings for a bracket, and passes over strings by
// their closing quote. ok is false when the value is not closed.
func skipNested(b []byte, i int) (int, bool) {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			j, ok := skipString(b, i)
			if !ok {
				return len(b), false
			}
			i = j - 1 // the closing quote
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return len(b), false
}

// skipString passes over the string at b[i] (which holds '"') and returns
// the index just after its closing quote. It reads eight bytes at a time
// as str does, but looks for quotes and backslashes only: inside a skipped
// value, strings are checked for their end and nothing else.
func skipString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); {
		if j+8 <= len(b) {
			m := quotesOrBackslashes(load8(b[j : j+8]))
			if m == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(m) / 8
		} else if b[j] != '"' && b[j] != '\\' {
			j++
			continue
		}
		if b[j] == '"' {
			return j + 1, true
		}
		j += 2 // a backslash: the escaped byte cannot end the string
	}
	return 0, false
}

// authoritySuccess is the success path's shortcut for a profile with an
// Authority member: true when the body's first or last top-level member is
// that member holding a success value, which the full decode would also
// find decisive, whatever the members between. It reads a few bytes at
// each end of the body and never the payload.
//
// The last member is read backwards. In a JSON object that ends with
// `,"code":0}` (or `{"code":0}`), the final brace closes the top-level
// object, so the scalar before it is the last top-level member's value and
// the quoted word before the colon is its key: a quote inside a string is
// escaped, and so preceded by a backslash rather than by a comma or brace.
// A body that is not JSON at all is a success for the full decode too.
func authoritySuccess(p *profile, body []byte) bool {
	return authorityFirst(p, body) || authorityLast(p, body)
}

// authorityLast is authoritySuccess's test of the last member.
func authorityLast(p *profile, body []byte) bool {
	key := p.Authority
	if key == "" {
		return false
	}
	b := trimBOM(body)
	// Last member: ,"key":value} or {"key":value}
	end := len(b)
	for end > 0 && isSpace(b[end-1]) {
		end--
	}
	if end == 0 || b[end-1] != '}' {
		return false
	}
	j := end - 1
	for j > 0 && isSpace(b[j-1]) {
		j--
	}
	start := j
	for start > 0 && b[start-1] != ':' && !isSpace(b[start-1]) && b[start-1] != ',' && b[start-1] != '{' {
		start--
	}
	v, vend, ok := scalarAt(b, start)
	if !ok || vend != j || !p.successValue(v) {
		return false
	}
	k := start
	for k > 0 && isSpace(b[k-1]) {
		k--
	}
	if k == 0 || b[k-1] != ':' {
		return false
	}
	k--
	for k > 0 && isSpace(b[k-1]) {
		k--
	}
	q := k - len(key) - 2
	if q < 1 || b[q] != '"' || string(b[q+1:k-1]) != key || b[k-1] != '"' {
		return false
	}
	for q > 0 && isSpace(b[q-1]) {
		q--
	}
	return q > 0 && (b[q-1] == ',' || b[q-1] == '{')
}

// authorityFirst is authoritySuccess's test of the first member:
// {"key":value, or {"key":value} with a success value. It reads no byte
// past the comma or brace after the value, so a prefix of the body
// answers as the whole body would; a prefix that ends before that byte
// answers false.
func authorityFirst(p *profile, body []byte) bool {
	key := p.Authority
	if key == "" {
		return false
	}
	b := trimBOM(body)
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	k, ok := quotedAt(b, i, key)
	if !ok {
		return false
	}
	j := skipSpace(b, k)
	if j >= len(b) || b[j] != ':' {
		return false
	}
	v, end, ok := scalarAt(b, skipSpace(b, j+1))
	if !ok || !p.successValue(v) {
		return false
	}
	e := skipSpace(b, end)
	return e < len(b) && (b[e] == ',' || b[e] == '}')
}

// quotedAt reports whether b[i:] starts with key in quotes, and where it
// ends.
func quotedAt(b []byte, i int, key string) (int, bool) {
	n := i + len(key) + 2
	if n > len(b) || b[i] != '"' || b[n-1] != '"' || string(b[i+1:n-1]) != key {
		return 0, false
	}
	return n, true
}

// scalarAt reads a short string without escapes, a number or true at b[i].
func scalarAt(b []byte, i int) (value, int, bool) {
	s := scanner{b: b, i: i}
	switch c := s.peek(); {
	case c == '"':
		if v, ok := s.str(); ok && !v.esc {
			return v, s.i, true
		}
	case c == 't':
		if s.literal("true") {
			return value{raw: b[i:s.i], kind: 't'}, s.i, true
		}
	case c == '-' || c >= '0' && c <= '9':
		if v, ok := s.number(); ok {
			return v, s.i, true
		}
	}
	return value{}, 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}
