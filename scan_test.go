package memerr

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/bits"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBackslashBeforeInvalidUTF8 checks that a message whose backslash
// escapes a byte that is not UTF-8 (an invalid escape, so the text is kept
// as sent) still reaches the Error as valid UTF-8, each bad byte replaced.
func TestBackslashBeforeInvalidUTF8(t *testing.T) {
	for _, body := range []string{
		"{\"code\":1,\"msg\":\"\\\xff\"}",
		"{\"code\":1,\"msg\":\"a\\\xffb\"}",
		"{\"error\":{\"code\":\"X\",\"message\":\"\\\xe4\xb8\"}}",
	} {
		var e *Error
		require.True(t, errors.As(Parse(Auto, 400, nil, []byte(body)), &e), body)
		assert.True(t, utf8.ValidString(e.Message), "%q: message %q", body, e.Message)
		assert.Contains(t, e.Message, "\uFFFD", body)
	}
}

// firstStop is the plain definition the word-at-a-time tests must agree
// with: the index of the first byte of w (lowest first) that stop marks,
// or -1.
func firstStop(w uint64, stop func(byte) bool) int {
	for k := range 8 {
		if stop(byte(w >> (8 * k))) {
			return k
		}
	}
	return -1
}

// flagged reads a word test's answer as firstStop does.
func flagged(m uint64) int {
	if m == 0 {
		return -1
	}
	return bits.TrailingZeros64(m) / 8
}

func isQuoteOrBackslash(c byte) bool { return c == '"' || c == '\\' }
func isStringStop(c byte) bool       { return c < 0x20 || isQuoteOrBackslash(c) }

// TestWordTests checks stringStops and quotesOrBackslashes against the
// byte-by-byte definition: every byte value at every position of a word
// filled with every other byte value, every pair of byte values at every
// pair of positions (the borrow of one byte reaches the next), and random
// words.
func TestWordTests(t *testing.T) {
	check := func(w uint64) {
		if got, want := flagged(stringStops(w)), firstStop(w, isStringStop); got != want {
			t.Fatalf("stringStops(%#016x): first stop %d, want %d", w, got, want)
		}
		if got, want := flagged(quotesOrBackslashes(w)), firstStop(w, isQuoteOrBackslash); got != want {
			t.Fatalf("quotesOrBackslashes(%#016x): first stop %d, want %d", w, got, want)
		}
	}
	for fill := range 256 {
		for p := range 8 {
			for c := range 256 {
				w := uint64(fill)*lowBits&^(0xff<<(8*p)) | uint64(c)<<(8*p)
				check(w)
			}
		}
	}
	for _, fill := range []byte{'a', ' ', 0x7f, 0x80, 0xff} {
		for p := range 8 {
			for q := p + 1; q < 8; q++ {
				for c := range 256 {
					for d := range 256 {
						w := uint64(fill) * lowBits &^ (0xff<<(8*p) | 0xff<<(8*q))
						check(w | uint64(c)<<(8*p) | uint64(d)<<(8*q))
					}
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1 << 20 {
		check(r.Uint64())
	}
}

// strByByte is str's plain definition, one byte at a time.
func strByByte(b []byte, i int) (value, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return value{}, i, false
	}
	esc := false
	var or byte
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return value{raw: b[i+1 : j], kind: '"', esc: esc, notPlain: or >= utf8.RuneSelf}, j + 1, true
		case c == '\\':
			esc = true
			j++
			if j < len(b) {
				or |= b[j]
			}
		case c < 0x20:
			return value{}, i, false
		default:
			or |= c
		}
	}
	return value{}, i, false
}

// skipStringByByte is skipString's plain definition.
func skipStringByByte(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j + 1, true
		case '\\':
			j++
		}
	}
	return 0, false
}

// TestStringScanByByte checks str and skipString against their plain
// definitions on strings that end (or break off) at every position
// around a word's edge, whose stop bytes fall anywhere in a word or
// across two, with short and long tails, and on random strings.
func TestStringScanByByte(t *testing.T) {
	check := func(b []byte, i int) { checkStringScan(t, b, i) }
	// A text of n plain bytes with one special byte c at position p, as a
	// string after a prefix, closed or not, followed by tail bytes.
	special := []byte{'"', '\\', 0, 0x1f, 0x20, 0x7f, 0x80, 0xe4, 0xff, 'a'}
	for pre := range 3 {
		for n := range 20 {
			for p := -1; p < n; p++ {
				for _, c := range special {
					for _, closed := range []bool{true, false} {
						for tail := range 10 {
							b := append(bytes.Repeat([]byte{' '}, pre), '"')
							for k := range n {
								if k == p {
									b = append(b, c)
								} else {
									b = append(b, 'x')
								}
							}
							if closed {
								b = append(b, '"')
							}
							b = append(b, "}\"\\\xff\x01ab\"c"[:tail]...)
							check(b, pre)
						}
					}
				}
			}
		}
	}
	alphabet := []byte("ab \"\\\x00\x1f\x7f\x80\xc3\xa9\xe4\xff/u")
	r := rand.New(rand.NewPCG(3, 4))
	for range 50000 {
		b := make([]byte, 1+r.IntN(40))
		for k := range b {
			if r.IntN(4) == 0 {
				b[k] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[k] = byte('a' + r.IntN(26))
			}
		}
		b[0] = '"'
		check(b, 0)
	}
}

// checkStringScan compares str and skipString at b[i] with their plain
// definitions.
func checkStringScan(t *testing.T, b []byte, i int) {
	t.Helper()
	want, wantEnd, wantOK := strByByte(b, i)
	s := scanner{b: b, i: i}
	got, ok := s.str()
	if ok != wantOK || ok && (s.i != wantEnd || !bytes.Equal(got.raw, want.raw) || got.kind != want.kind ||
		got.esc != want.esc || got.notPlain != want.notPlain) {
		t.Fatalf("str(%q at %d) = %q esc %v notPlain %v, %v at %d; want %q esc %v notPlain %v, %v at %d", b, i,
			got.raw, got.esc, got.notPlain, ok, s.i, want.raw, want.esc, want.notPlain, wantOK, wantEnd)
	}
	if len(b) > i && b[i] == '"' {
		end, ok := skipString(b, i)
		wantEnd, wantOK := skipStringByByte(b, i)
		if ok != wantOK || ok && end != wantEnd {
			t.Fatalf("skipString(%q at %d) = %d %v, want %d %v", b, i, end, ok, wantEnd, wantOK)
		}
	}
}

// FuzzStringScan compares str and skipString with their plain
// definitions at every quote of the input.
func FuzzStringScan(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b"`, "\"\xe4\xb8\xad\x01\"", `"0123456\\"`, `"01234567"`, `"\`, `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for i, c := range b {
			if c == '"' {
				checkStringScan(t, b, i)
			}
		}
	})
}

// TestScanWhiteSpace inserts each kind of white space, and two bytes that
// are not, at every position of each vendor's error body: the scanner
// accepts what encoding/json accepts, reading the same members when the
// space falls between tokens, and rejects the rest, except inside a value
// it passes over (Tensorheart's details object), where it checks only
// brackets and strings.
func TestScanWhiteSpace(t *testing.T) {
	set := profiles.Load()
	for _, tc := range benchErrorBodies {
		body := []byte(tc.body)
		var want fields
		require.True(t, scanFields(body, set, &want), tc.body)
		skipFrom, skipTo := len(body), len(body)
		if i := bytes.Index(body, []byte(`"details":{`)); i >= 0 {
			start := i + len(`"details":`)
			end, _ := skipNested(body, start)
			skipFrom, skipTo = start+1, end-1 // inside its brackets
		}
		for i := 0; i <= len(body); i++ {
			for _, sp := range []byte(" \t\n\r\x0b\x00") {
				b := append(append(append([]byte(nil), body[:i]...), sp), body[i:]...)
				var f fields
				ok := scanFields(b, set, &f)
				if !json.Valid(b) {
					if i < skipFrom || i > skipTo {
						require.False(t, ok, "%q", b)
					}
					continue
				}
				require.True(t, ok, "%q", b)
				var compact bytes.Buffer
				if json.Compact(&compact, b) != nil || !bytes.Equal(compact.Bytes(), body) {
					continue // the space is inside a string
				}
				require.Equal(t, want.present, f.present, "%q", b)
				for id, w := range want.vals {
					v := f.vals[id]
					require.Equal(t, w.kind, v.kind, "%q: path %d", b, id)
					if v.kind == '{' || v.kind == '[' { // an object's text is as written, spaces and all
						compact.Reset()
						require.NoError(t, json.Compact(&compact, v.raw))
						v.raw = compact.Bytes()
					}
					require.Equal(t, string(w.raw), string(v.raw), "%q: path %d", b, id)
				}
			}
		}
	}
}

// TestTreeMostReadMembersFirst checks the order the scanner compares a
// key with the members of one length (see sortChildren): "code", which
// most vendors' bodies hold, comes before "data", "meta" and "type"; and
// each member is still found under its name.
func TestTreeMostReadMembersFirst(t *testing.T) {
	set := profiles.Load()
	top := set.tree.children[len("code")]
	require.NotEmpty(t, top)
	assert.Equal(t, "code", top[0].name)
	var walk func(n *pathNode)
	walk = func(n *pathNode) {
		for _, same := range n.children {
			for _, c := range same {
				assert.Same(t, c, n.child([]byte(c.name)))
				walk(c)
			}
		}
	}
	walk(set.tree)
}
