package memerr

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Vendor names a memory API whose error envelope memerr understands.
type Vendor string

// Auto is only an input ("detect the vendor from the response"); Generic
// is only an output ("no known envelope: classified by HTTP status"). The
// five built-in vendors (MemOS, Tensorheart, MemoryOS, MemoriesAI, Coze)
// are declared with their profiles, one file each.
const (
	Auto    Vendor = ""        // input only: detect the vendor from the response
	Generic Vendor = "generic" // no known envelope: classified by HTTP status
)

// String returns the vendor's name; Auto prints as "auto".
func (v Vendor) String() string {
	if v == Auto {
		return "auto"
	}
	return string(v)
}

// Kind is the class of a failure: what a caller should do about it, whatever
// the vendor. Every vendor code maps to exactly one Kind.
type Kind uint8

// The Kinds. Values are never renumbered.
const (
	KindUnknown             Kind = iota // not classified
	KindInvalidRequest                  // bad parameters, validation, unsupported type, too large: fix the request
	KindUnauthenticated                 // missing, invalid, expired key: fix the credentials
	KindPermissionDenied                // scope, disabled org, IP not allowed, risk control
	KindNotFound                        // the resource does not exist
	KindConflict                        // already exists, duplicate, operation already running
	KindRateLimited                     // slow down and retry after a wait
	KindQuotaExceeded                   // daily/total/token quota: waiting seconds will not help
	KindInsufficientBalance             // payment required, credits exhausted
	KindUnavailable                     // temporarily unavailable, overloaded, bad gateway
	KindInternal                        // server fault
	numKinds
)

var kindNames = [numKinds]string{
	KindUnknown:             "unknown",
	KindInvalidRequest:      "invalid request",
	KindUnauthenticated:     "unauthenticated",
	KindPermissionDenied:    "permission denied",
	KindNotFound:            "not found",
	KindConflict:            "conflict",
	KindRateLimited:         "rate limited",
	KindQuotaExceeded:       "quota exceeded",
	KindInsufficientBalance: "insufficient balance",
	KindUnavailable:         "unavailable",
	KindInternal:            "internal",
}

// String returns the Kind in lowercase words ("rate limited"); an unknown
// value prints as "Kind(N)".
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Retryable reports whether an automatic retry of a failure of this Kind can
// succeed: true for KindRateLimited, KindUnavailable and KindInternal.
func (k Kind) Retryable() bool {
	return k == KindRateLimited || k == KindUnavailable || k == KindInternal
}

// Err returns the sentinel error of the Kind (ErrRateLimited for
// KindRateLimited, ...), or nil for KindUnknown and values out of range.
func (k Kind) Err() error {
	if k == KindUnknown || k >= numKinds {
		return nil
	}
	return sentinels[k]
}

// kindError is the type of the Kind sentinels.
type kindError struct{ kind Kind }

func (e *kindError) Error() string { return "memerr: " + e.kind.String() }

// Sentinels, one per Kind: errors.Is(err, ErrRateLimited) holds for any
// *Error whose Kind is KindRateLimited, whatever its vendor or code.
var (
	ErrInvalidRequest      error = &kindError{KindInvalidRequest}
	ErrUnauthenticated     error = &kindError{KindUnauthenticated}
	ErrPermissionDenied    error = &kindError{KindPermissionDenied}
	ErrNotFound            error = &kindError{KindNotFound}
	ErrConflict            error = &kindError{KindConflict}
	ErrRateLimited         error = &kindError{KindRateLimited}
	ErrQuotaExceeded       error = &kindError{KindQuotaExceeded}
	ErrInsufficientBalance error = &kindError{KindInsufficientBalance}
	ErrUnavailable         error = &kindError{KindUnavailable}
	ErrInternal            error = &kindError{KindInternal}
)

var sentinels = [numKinds]error{
	KindInvalidRequest:      ErrInvalidRequest,
	KindUnauthenticated:     ErrUnauthenticated,
	KindPermissionDenied:    ErrPermissionDenied,
	KindNotFound:            ErrNotFound,
	KindConflict:            ErrConflict,
	KindRateLimited:         ErrRateLimited,
	KindQuotaExceeded:       ErrQuotaExceeded,
	KindInsufficientBalance: ErrInsufficientBalance,
	KindUnavailable:         ErrUnavailable,
	KindInternal:            ErrInternal,
}

// Error is a failure reported by a memory API, in one shape for every vendor.
//
// Parse, Decode, ParseEvent and Client.Do return it; reach it with errors.As:
//
//	var e *memerr.Error
//	if errors.As(err, &e) { log.Print(e.Vendor, e.Code, e.RequestID) }
//
// and test it with errors.Is against a Kind sentinel (ErrRateLimited), a Code
// (CozeSystemBusy, or a template such as Code{Vendor: Coze, Value: "4011"}),
// or another *Error used as a template.
type Error struct {
	Vendor     Vendor          // who sent it; Generic when the body had no known envelope
	StatusCode int             // HTTP status of the final response (200 for in-body errors)
	Code       string          // the vendor's code as sent ("40300", "RATE_LIMIT_EXCEEDED", "4011"); the HTTP status for Generic
	Kind       Kind            // the class of failure
	Message    string          // the server's message, verbatim (Coze's may be Chinese)
	Details    json.RawMessage // error.details or equivalent, verbatim; nil if none
	RequestID  string          // meta.request_id, detail.logid, X-Tt-Logid, X-Request-ID ...
	RetryAfter time.Duration   // the server's wait hint, 0 if none
	Attempts   int             // attempts the transport made (1 when it did not retry; 0 when no transport was involved)

	cause error // for failures without a response: the network or context error
}

// Unwrap returns the cause of a failure that got no response (a network
// error, a *BreakerError, a context error), nil for decoded responses.
func (e *Error) Unwrap() error { return e.cause }

// maxMessageRunes bounds the server message quoted in Error().
const maxMessageRunes = 200

// maxTextScan bounds the bytes of a text memerr reads to show a part of
// it: the message Error() quotes maxMessageRunes of, the text of a network
// error it passes on. A mebibyte of message costs no more to print than a
// line.
const maxTextScan = 4 << 10

// cutWords is s if it is at most maxTextScan bytes long, else its words up
// to that length, whole, so that redact judges each as it would in the
// full text, then "…".
func cutWords(s string) string {
	if len(s) <= maxTextScan {
		return s
	}
	cut := maxTextScan
	for cut > 0 && !isSep(s[cut]) {
		cut--
	}
	return s[:cut] + " …"
}

// isTraceback reports whether msg is a Python traceback, as a server
// that sends an unhandled exception's report as its message gives it.
func isTraceback(msg string) bool {
	return strings.HasPrefix(strings.TrimSpace(msg), "Traceback (most recent call last):")
}

// tracebackTail is what a one-line rendering of msg quotes: msg itself,
// or, for a Python traceback (which servers such as MemOS's stream as
// their error message), the exception after its last frame; the frames
// come first, and would fill the line. Only the last maxTextScan bytes are
// searched.
func tracebackTail(msg string) string {
	if !isTraceback(msg) {
		return msg
	}
	tail := msg[max(0, len(msg)-maxTextScan):]
	i := strings.LastIndex(tail, "\n  File ")
	if i < 0 {
		return msg
	}
	rest := tail[i+1:]
	// The frame's line, then its source line and any markers under it,
	// all indented.
	for rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		_, rest, _ = strings.Cut(rest, "\n")
	}
	if strings.TrimSpace(rest) == "" {
		return msg
	}
	return rest
}

// Error returns one lowercase line: origin, vendor, code, kind, the server's
// message (cleaned to one line, shortened, with anything that looks like a
// credential removed; of a Python traceback, the exception after its
// frames) and the request id. It never contains a body dump or a
// header.
func (e *Error) Error() string {
	var b strings.Builder
	b.Grow(64 + min(len(e.Message), 4*maxMessageRunes))
	b.WriteString("memerr: ")
	if e.Vendor == Generic || e.Vendor == Auto {
		b.WriteString("http")
	} else {
		b.WriteString(string(e.Vendor))
	}
	if e.Code != "" {
		b.WriteByte(' ')
		b.WriteString(cleanLine(e.Code, 64))
	} else if e.StatusCode != 0 {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	b.WriteByte(' ')
	b.WriteString(e.Kind.String())
	if m := strings.TrimRight(cleanLine(redact(cutWords(tracebackTail(e.Message))), maxMessageRunes), ".。 "); m != "" {
		b.WriteString(": ")
		b.WriteString(m)
	}
	var paren []string
	if e.RequestID != "" {
		paren = append(paren, "request id "+cleanLine(e.RequestID, 80))
	}
	if e.RetryAfter > 0 {
		paren = append(paren, "retry after "+e.RetryAfter.Round(time.Millisecond).String())
	}
	if e.Attempts > 1 {
		paren = append(paren, strconv.Itoa(e.Attempts)+" attempts")
	}
	if len(paren) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(paren, ", "))
		b.WriteByte(')')
	}
	return b.String()
}

// Is reports whether e matches target:
//   - a Kind sentinel (ErrRateLimited, ...): e's Kind is that Kind;
//   - a Code or *Code: its Vendor (when set) and Value (when set) equal e's;
//   - an *Error used as a template: every field set among Vendor, Code and
//     Kind equals e's.
//
// A template with nothing set matches nothing.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case *kindError:
		return t.kind == e.Kind
	case Code:
		return t.matches(e)
	case *Code:
		return t != nil && t.matches(e)
	case *Error:
		if t == nil || (t.Vendor == Auto && t.Code == "" && t.Kind == KindUnknown) {
			return false
		}
		return (t.Vendor == Auto || t.Vendor == e.Vendor) &&
			(t.Code == "" || t.Code == e.Code) &&
			(t.Kind == KindUnknown || t.Kind == e.Kind)
	}
	return false
}

// Retryable reports whether retrying the same request later can succeed:
// true for KindRateLimited, KindUnavailable and KindInternal.
func (e *Error) Retryable() bool { return e.Kind.Retryable() }

// Info returns the registry entry for e's vendor and code.
func (e *Error) Info() (CodeInfo, bool) { return Lookup(e.Vendor, e.Code) }

// Code identifies one code of one vendor. It is an error value so that
// errors.Is(err, memerr.CozeInsufficientBalance) works; as a template, a
// zero Vendor matches any vendor. Being an error, a Code printed with %v
// shows its Error text; String gives the short "coze/4011" form.
type Code struct {
	Vendor Vendor // the vendor whose code it is; Auto in a template matches any vendor
	Value  string // the code as the vendor sends it ("4011", "RATE_LIMIT_EXCEEDED"); "" in a template matches any code
}

func (c Code) matches(e *Error) bool {
	if c.Value == "" && c.Vendor == Auto {
		return false
	}
	return (c.Vendor == Auto || c.Vendor == e.Vendor) && (c.Value == "" || c.Value == e.Code)
}

// Error describes the code, with its registry meaning when known:
// "memerr: coze 4011 (the Coze token balance is too low)".
func (c Code) Error() string {
	s := "memerr: " + c.Vendor.String() + " " + c.Value
	if info, ok := Lookup(c.Vendor, c.Value); ok {
		s += " (" + info.Meaning + ")"
	}
	return s
}

// String returns "vendor/value", e.g. "coze/4011".
func (c Code) String() string { return c.Vendor.String() + "/" + c.Value }

// CodeInfo is the registry entry of one vendor code.
type CodeInfo struct {
	Code       Code   // the vendor and the code as sent
	Kind       Kind   // the class of failure the code reports
	Status     int    // the HTTP status the vendor pairs with it (200-599), 0 if none
	Meaning    string // short, English, our own words
	Resolution string // what the caller should do, our own words
	Retryable  bool   // whether an automatic retry can help (Kind.Retryable())

	// Envelope is the index, in its vendor's Profile.Envelopes, of the
	// shape the vendor sends this code in: 0, the first, for most codes
	// (Coze's OAuth codes come in its error_code shape). That shape must
	// have a Code member (Register refuses the profile otherwise).
	// memerrtest renders the code in it.
	Envelope int
}

// cleanLine turns s into one printable line of at most max runes: control
// characters and runs of white space become one space, invalid UTF-8 is
// replaced, and a cut is marked with "…".
func cleanLine(s string, max int) string {
	if len(s) <= max && printableASCII(s) {
		// The one white space printable ASCII holds is ' ': trimmed
		// here, without a call, as strings.TrimSpace would.
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		for len(s) > 0 && s[len(s)-1] == ' ' {
			s = s[:len(s)-1]
		}
		return s
	}
	var b strings.Builder
	n := 0
	space := false
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if n >= max {
			b.WriteString("…")
			return b.String()
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// printableASCII reports whether s holds only printable ASCII characters,
// ' ' to '~'. It tests eight bytes at a time (see unprintable8), then the
// last few one by one.
func printableASCII(s string) bool {
	i := 0
	for ; len(s)-i >= 8; i += 8 {
		if unprintable8(load8(s[i : i+8])) {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// unprintable8 reports whether any of the eight bytes of x is below ' '
// (0x20) or above '~' (0x7e), testing all eight at once:
//   - x - 0x20 in each byte: the lowest byte below 0x20 borrows nothing
//     from the bytes under it (all 0x20 or more), so it wraps to 0xe0 or
//     more and gets its top bit, which it did not have in x. With no byte
//     below 0x20 nothing borrows, and a byte whose top bit is set after
//     the subtraction already had it in x: &^ x clears it.
//   - x + 1 in each byte: a byte of 0x7f gets its top bit; a byte of
//     0x80 or more has it already (| x); a byte of 0x7e or less stays
//     below 0x80. Only a byte of 0xff carries into the next, and it is
//     flagged anyway.
//
// Which end of s a byte came from does not matter: only whether any is
// flagged.
func unprintable8(x uint64) bool {
	below := (x - 0x20*lowBits) &^ x
	above := (x + lowBits) | x
	return (below|above)&highBits != 0
}

// ParseVendor reads a vendor name case-insensitively, ignoring spaces,
// dots, dashes and underscores: a registered vendor's name or one of its
// profile's Names ("MemOS", "memtensor", "memories.ai", "Memory OS",
// "coze", "扣子"), or "generic"/"http". Empty and "auto" give Auto.
func ParseVendor(s string) (Vendor, bool) {
	n := normName(s)
	if n == "" || n == "auto" {
		return Auto, true
	}
	v, ok := profiles.Load().names[n]
	return v, ok
}
