package memerr

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// Profile is everything memerr knows about one vendor: the shapes of its
// error bodies, its success codes, its code table, where its request id
// lives and how to tell its responses apart from other vendors'. The five
// built-in vendors are profiles (one file each, vendor_*.go); a vendor of
// your own is a Profile passed to Register, and goes through exactly the
// same decoder, transport, memerrtest server and command line.
//
// Member paths name a member of the body's top-level object ("code") or,
// with dots, a member of a nested object ("error.code",
// "data.last_error.msg"); a member whose own name holds a dot cannot be
// named. All registered profiles together read at most 64 distinct member
// paths (a path several profiles read counts once; the built-ins read
// about half): Register refuses a profile that would pass that bound.
type Profile struct {
	// Vendor is the name errors carry; required, lowercase and printable
	// (no spaces, slashes or control characters), not "auto" or
	// "generic", and not registered twice.
	Vendor Vendor

	// Names are other spellings ParseVendor accepts for this vendor,
	// matched case-insensitively without spaces, dots, dashes and
	// underscores ("memories.ai" matches "memoriesai").
	Names []string

	// Envelopes are the shapes of the vendor's error bodies, the most
	// usual first; at least one is required. See Envelope for how a shape
	// reports a failure.
	Envelopes []Envelope

	// SuccessCodes are the codes that mean success in an envelope's Code
	// member ("0", "200"). With none, any code present is a failure.
	SuccessCodes []string

	// Authority, when set, is a top-level member whose value alone decides
	// whether the call succeeded whenever it is present: a success code (or
	// true, for a boolean) is a success whatever other members say, but
	// for the Resource shapes (see Envelope.Resource). It lets the
	// Transport confirm a 2xx body as a success from its first or last
	// member, without reading the payload between. Leave it empty when a
	// success code can come with a failed call elsewhere in the body. It
	// cannot be an envelope's Failed flag, nor a When that selects a
	// failure shape by a value the Authority takes for a success.
	Authority string

	// ErrorsIn2xx says the vendor may report a failure inside a 2xx
	// response. The Transport reads ahead small 2xx JSON bodies of such
	// vendors (and of undetected ones) to retry in-body failures; the
	// 2xx bodies of other vendors are handed on unread.
	ErrorsIn2xx bool

	// Codes is the vendor's code table. A CodeInfo whose Code.Vendor is
	// empty takes Vendor; Retryable is derived from Kind.
	Codes []CodeInfo

	// Classify, when set, decides the Kind of a code the table leaves
	// open: an undocumented code (known is KindUnknown), or a documented
	// one whose meaning depends on the message (then known is the table's
	// Kind). Returning KindUnknown, or a value that is not one of the
	// Kinds, leaves the decision to the table, then to the HTTP status,
	// then to the words of a string code. Classify runs inside Parse,
	// Decode and the Transport's RoundTrip, concurrently: it must be safe
	// for concurrent use and must not panic (a panic reaches their caller).
	Classify func(code, message string, status int, known Kind) Kind

	// RequestIDHeaders are the response headers holding the vendor's
	// request id, tried in order before the generic ones (X-Request-Id,
	// Request-Id ...). A header named for a credential (Authorization,
	// Set-Cookie, X-Api-Key ...) is refused.
	RequestIDHeaders []string

	// ErrorEvents are the server-sent event names that always report a
	// failure ("error", "conversation.chat.failed"), each non-empty and on
	// one line; see ParseStreamEvent.
	ErrorEvents []string

	// Scope, when set, names the part of the vendor's API a request goes
	// to when that part fails on its own ("/search"): the request's breaker
	// and retry budget are then those of its host and that part. "" keeps
	// the host's. It applies where the Transport names the vendor for the
	// host (WithVendor, WithHostVendor) and WithBreakerScope is not set.
	Scope func(*http.Request) string

	// KeyPrefixes start the vendor's API keys and tokens ("pat_",
	// "krlk_"): a word starting with one is never printed (see Redact),
	// whichever vendor's error holds it. Each must start with an ASCII
	// letter or digit, be two bytes or more, and hold a digit or a sign
	// ("z_", "m0-") or letters of both cases ("eyJ"), so that it cannot
	// start a plain word or code ("mem", "RATE").
	KeyPrefixes []string

	// IdempotencyKeys says the vendor honours an Idempotency-Key (or
	// X-Idempotency-Key) request header, so a POST carrying one is safe
	// to retry on any retryable failure.
	IdempotencyKeys bool

	// Detect tells the vendor's responses apart when the caller names no
	// vendor (Auto).
	Detect Detection
}

// Envelope is one shape of a vendor's error body. For a response with a
// 2xx status, an envelope reports:
//   - nothing, when its When member is absent or does not hold one of Is;
//   - a failure or a success by its Success flag, when present (false is a
//     failure), else a failure when its Failed flag is true;
//   - else, when its Code member is present (and not null): a failure
//     unless the code is one of the profile's SuccessCodes;
//   - else a failure when When matched, or when a Message member is
//     present (a body that only carries a message, such as
//     {"error_message":"..."}), unless the shape is StatusOnly.
//
// A status of 400 or more is always a failure; the first envelope (in
// order) that finds any of its members in the body supplies the code and
// message.
type Envelope struct {
	When string   // optional: a member that selects this shape when it is present (not null)...
	Is   []string // ...and, if Is is set, holds one of these values (strings without quotes; true, false, numbers as written)

	Code       string   // the member holding the vendor's code (number or string)
	Message    []string // members holding the message; the first present wins
	Details    string   // a member whose raw JSON becomes Error.Details
	Success    string   // a boolean member: false reports a failure, true a success
	Failed     string   // a boolean member: true reports a failure
	RequestID  []string // members holding the request id; the first present wins
	RetryAfter string   // a member holding a wait in seconds (a JSON number)

	// Null, when set, is a member the vendor sends as null in this shape
	// ("data" in {"code":429,"msg":"...","data":null}). The decoder does
	// not read it; memerrtest sends it, after the message and details, so
	// a fake error has the members the vendor's has.
	Null string

	// StatusOnly marks a shape that never reports a failure inside a 2xx
	// response: it only names the code and message of a 4xx or 5xx (as
	// FastAPI's {"detail":"..."} does).
	StatusOnly bool

	// Resource marks a shape that reports the state of what the call
	// returned (a chat that failed), not a failure of the call itself.
	// Parse, Decode, Client and ParseStreamEvent report it as an *Error,
	// even when the Authority member says success; the Transport does not
	// retry it, count it against the breaker or read a body for it, since
	// sending the same request again would return the same state.
	Resource bool
}

// Detection holds what marks a vendor's responses when no vendor is named.
// Each signal adds to the vendor's score; the highest score wins, and ties
// go to the profile registered first (the built-ins come first). The
// score also counts the members of the vendor's best envelope found in
// the body, and more when its code is in the vendor's table or ranges: a
// profile whose envelope reads only members many APIs send ("message",
// "detail", "error") claims such bodies under Auto whichever server sent
// them, unless another vendor scores higher.
//
// Register refuses a signal that is not the vendor's own: a header every
// gateway sends (X-Request-Id, Request-Id, X-Trace-Id, X-Amzn-Requestid)
// or one another registered vendor names, and a member that another
// vendor's shapes read as a code, message, flag, When or Authority, or
// an object holding one ("code", "error").
type Detection struct {
	Headers    []string   // response headers only this vendor sends (X-Tt-Logid)
	Members    []string   // body members only this vendor sends ("detail.logid")
	CodeRanges [][2]int64 // inclusive ranges of the vendor's numeric codes
}

// paths lists every member path the envelope reads.
func (e *Envelope) paths() []string {
	out := []string{e.When, e.Code, e.Details, e.Success, e.Failed, e.RetryAfter}
	out = append(out, e.Message...)
	out = append(out, e.RequestID...)
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// ErrProfile is wrapped by the error Register returns for a profile it
// refuses.
var ErrProfile = errors.New("memerr: invalid profile")

// Register adds a vendor profile, so that Parse, Decode, ParseEvent, the
// Transport and memerrtest know the vendor: by name (WithVendor), and by
// detection under Auto. It returns an error wrapping ErrProfile, and
// registers nothing, when the name is taken or the profile is malformed.
// It keeps its own copy of p: changing p's slices afterwards changes
// nothing registered. It is safe to call while other goroutines decode and
// send requests; profiles cannot be removed, so register them at start-up.
func Register(p Profile) error {
	profilesMu.Lock()
	defer profilesMu.Unlock()
	cur := profiles.Load()
	rp, err := p.compile(cur)
	if err != nil {
		return err
	}
	next := &profileSet{byVendor: make(map[Vendor]*profile, len(cur.byVendor)+1)}
	for _, q := range cur.list {
		c := *q // the set being replaced may still be read: ids go into copies
		next.add(&c)
	}
	next.add(rp)
	if err := next.buildTree(); err != nil {
		return fmt.Errorf("%w %q: %v", ErrProfile, string(p.Vendor), err)
	}
	profiles.Store(next)
	return nil
}

// MustRegister is Register that panics on error, for package-level
// registration of a profile known to be valid.
func MustRegister(p Profile) {
	if err := Register(p); err != nil {
		panic(err)
	}
}

// LookupProfile returns the registered profile of v (a copy whose slices
// must not be changed), and false for an unregistered vendor.
func LookupProfile(v Vendor) (Profile, bool) {
	p := profiles.Load().byVendor[v]
	if p == nil {
		return Profile{}, false
	}
	return p.Profile, true
}

// Vendors lists the registered vendors: the five built-ins first, in a
// stable order, then those registered since, in registration order.
// Generic is not listed.
func Vendors() []Vendor {
	var out []Vendor
	for _, p := range profiles.Load().list {
		if p.Vendor != Generic {
			out = append(out, p.Vendor)
		}
	}
	return out
}

// profile is a registered Profile with what the decoder derives from it.
type profile struct {
	Profile
	codes  map[string]int // code value -> index in Codes
	names  []string       // normalised names, the vendor's own included
	events map[string]bool

	// Ids of the member paths it reads, in the tree of its profileSet.
	envs        []envelope
	resources   bool // some envelope is a Resource shape
	authority   int
	mask        uint64 // every path it reads, as bits of fields.present
	signals     uint64 // its Detection members, as bits
	fits        uint64 // the members of all its envelopes, as bits (see bound)
	decides     uint64 // the members that can make one of its envelopes apply, as bits
	headerScore int    // what a detection header adds to its score: 4, or 0 when it has none

	// The headers its errors' request id is looked for in: its own, then
	// commonIDHeaders; Generic's are every profile's, then those.
	idHeaders []string
}

// commonIDHeaders carry a request id whoever the vendor: a gateway's or a
// proxy's as much as the vendor's.
var commonIDHeaders = []string{"X-Request-Id", "Request-Id", "X-Trace-Id", "X-Amzn-Requestid"}

// envelope is an Envelope with the ids of its member paths (-1: none).
type envelope struct {
	*Envelope
	when, code, details, success, failed, retryAfter int
	message, requestID, all                          []int
	mask                                             uint64 // the paths of all, as bits
	decides                                          uint64 // the members that can make it apply (see deciding), as bits
}

type profileSet struct {
	list     []*profile
	byVendor map[Vendor]*profile
	names    map[string]Vendor
	tree     *pathNode // every member path any profile reads
	npaths   int
	data     int // the id of "data"

	keyPrefixes      []string      // every profile's KeyPrefixes
	secretStarts     [256][]string // secret words and key prefixes by first letter (mayHoldSecret)
	requestIDHeaders []string      // every profile's RequestIDHeaders, then the common ones

	knownBy   map[string][]knownCode // a code value -> the profiles whose Codes or SuccessCodes hold it
	detecting []*profile             // every profile but Generic, in order: those detection scores
}

var (
	profilesMu sync.Mutex
	profiles   atomic.Pointer[profileSet]
)

func (s *profileSet) add(p *profile) {
	s.list = append(s.list, p)
	s.byVendor[p.Vendor] = p
	if s.names == nil {
		s.names = map[string]Vendor{}
	}
	for _, n := range p.names {
		s.names[n] = p.Vendor
	}
	if s.knownBy == nil {
		s.knownBy = map[string][]knownCode{}
	}
	for i, c := range p.Codes {
		s.knownBy[c.Code.Value] = append(s.knownBy[c.Code.Value], knownCode{p, i})
	}
	for _, c := range p.SuccessCodes {
		s.knownBy[c] = append(s.knownBy[c], knownCode{p, -1})
	}
}

// knownCode is what a profile knows of a code value: the code of its
// table at index i of its Codes, or, when i is -1, one of its success
// codes (compile refuses a code that is both).
type knownCode struct {
	p *profile
	i int
}

// lookupProfile returns the profile of v, or nil.
func lookupProfile(v Vendor) *profile { return profiles.Load().byVendor[v] }

// normName folds a vendor name for ParseVendor: lower case, without
// spaces, dashes, underscores and dots.
func normName(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '_', '.':
			return -1
		}
		return unicode.ToLower(r)
	}, strings.TrimSpace(s))
}

// compile checks p against the registered set and derives its lookups.
func (p Profile) compile(cur *profileSet) (*profile, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrProfile, string(p.Vendor), fmt.Sprintf(format, args...))
	}
	v := p.Vendor
	switch {
	case v == Auto || normName(string(v)) == "auto":
		return nil, bad("a vendor name is required, and %q is reserved", "auto")
	case string(v) != strings.ToLower(string(v)) || strings.ContainsFunc(string(v), func(r rune) bool { return r == ' ' || r == '/' || !unicode.IsPrint(r) }):
		// Error() and the CLI print the name as it is.
		return nil, bad("the name must be lowercase and printable, without spaces or slashes")
	}
	if cur != nil {
		if _, dup := cur.byVendor[v]; dup {
			return nil, bad("a profile with this name is registered already")
		}
	}
	if len(p.Envelopes) == 0 && v != Generic {
		return nil, bad("no envelope")
	}
	rp := &profile{Profile: p, codes: map[string]int{}, events: map[string]bool{}}
	// The registry keeps its own copy of every slice: the caller may
	// reuse or change its own afterwards.
	rp.Names = slices.Clone(p.Names)
	rp.Envelopes = slices.Clone(p.Envelopes)
	for i := range rp.Envelopes {
		e := &rp.Envelopes[i]
		e.Is, e.Message, e.RequestID = slices.Clone(e.Is), slices.Clone(e.Message), slices.Clone(e.RequestID)
	}
	rp.Codes = slices.Clone(p.Codes)
	rp.Detect.Members = slices.Clone(p.Detect.Members)
	rp.Detect.CodeRanges = slices.Clone(p.Detect.CodeRanges)
	rp.KeyPrefixes = slices.Clone(p.KeyPrefixes)
	rp.ErrorEvents = slices.Clone(p.ErrorEvents)
	for i, e := range rp.Envelopes {
		if e.Code == "" && len(e.Message) == 0 && e.Success == "" && e.Failed == "" && e.When == "" {
			return nil, bad("envelope %d reads no code, message, flag or When member", i)
		}
		if e.When == "" && len(e.Is) > 0 {
			return nil, bad("envelope %d: Is without When", i)
		}
		for _, path := range append(e.paths(), e.Null) {
			if path != "" && !validPath(path) {
				return nil, bad("envelope %d: malformed member path %q", i, path)
			}
		}
	}
	if p.Authority != "" && !validPath(p.Authority) || strings.Contains(p.Authority, ".") {
		return nil, bad("the Authority must be a top-level member, not %q", p.Authority)
	}
	for i, e := range p.Envelopes {
		// A value the Authority takes for a success (true, a success
		// code) must not be one an envelope reads as a failure: a Failed
		// flag's true, or a When that selects a failure shape by it.
		if p.Authority != "" && (e.Failed == p.Authority || e.When == p.Authority && !e.Resource &&
			(len(e.Is) == 0 || slices.ContainsFunc(e.Is, func(is string) bool { return is == "true" || slices.Contains(p.SuccessCodes, is) }))) {
			return nil, bad("the Authority %q reports a failure in envelope %d (as its Failed flag or When): a success by it would hide the failure", p.Authority, i)
		}
	}
	for _, m := range p.Detect.Members {
		if !validPath(m) {
			return nil, bad("malformed detection member %q", m)
		}
	}
	for _, h := range slices.Concat(p.Detect.Headers, p.RequestIDHeaders) {
		if !validHeaderName(h) {
			// A server cannot send it, and net/http drops it: it would
			// never match.
			return nil, bad("malformed header name %q", h)
		}
		if credentialName(h) {
			// Its value would become an error's RequestID, printed and
			// logged: a credential is never one.
			return nil, bad("header %q carries a credential, not a request id or a vendor's sign", h)
		}
	}
	if err := p.ownSignals(cur); err != "" {
		return nil, bad("%s", err)
	}
	for _, r := range p.Detect.CodeRanges {
		if r[0] > r[1] {
			return nil, bad("code range %d-%d is empty", r[0], r[1])
		}
	}
	for _, k := range p.KeyPrefixes {
		if k == "" || byteClass[k[0]] != 'a' {
			// Redact's quick test looks for key prefixes at the start of
			// a word: one that starts otherwise would never be found.
			return nil, bad("key prefix %q must start with an ASCII letter or digit", k)
		}
		if !keyLike(k) {
			// Redact drops every long word starting with a prefix, in
			// every vendor's errors: "mem" would take "memory_not_found".
			return nil, bad("key prefix %q could start a word: it needs two bytes or more with a digit or a sign (\"z_\", \"m0-\") or both cases of letters (\"eyJ\")", k)
		}
	}
	rp.SuccessCodes = slices.Clone(p.SuccessCodes)
	for i := range rp.Codes {
		c := &rp.Codes[i]
		if c.Code.Vendor == Auto {
			c.Code.Vendor = v
		}
		switch {
		case c.Code.Vendor != v:
			return nil, bad("code %q belongs to vendor %q", c.Code.Value, c.Code.Vendor)
		case c.Code.Value == "":
			return nil, bad("code %d has no value", i)
		case c.Kind == KindUnknown || c.Kind >= numKinds:
			return nil, bad("code %q has no Kind", c.Code.Value)
		case c.Status != 0 && (c.Status < 200 || c.Status > 599):
			// memerrtest sends it: net/http refuses anything else.
			return nil, bad("code %q: status %d is not an HTTP status from 200 to 599", c.Code.Value, c.Status)
		case slices.Contains(rp.SuccessCodes, c.Code.Value):
			return nil, bad("code %q is also a success code", c.Code.Value)
		case v != Generic && (c.Envelope < 0 || c.Envelope >= len(rp.Envelopes) || rp.Envelopes[c.Envelope].Code == ""):
			// Generic's codes are HTTP statuses, in no member.
			return nil, bad("code %q: envelope %d does not exist or has no Code member", c.Code.Value, c.Envelope)
		}
		if _, dup := rp.codes[c.Code.Value]; dup {
			return nil, bad("code %q is listed twice", c.Code.Value)
		}
		c.Retryable = c.Kind.Retryable()
		rp.codes[c.Code.Value] = i
	}
	for _, n := range append([]string{string(v)}, p.Names...) {
		n = normName(n)
		if n == "" || n == "auto" {
			continue
		}
		if cur != nil {
			if other, taken := cur.names[n]; taken {
				return nil, bad("the name %q is taken by %q", n, other)
			}
		}
		rp.names = append(rp.names, n)
	}
	rp.Detect.Headers = slices.Clone(p.Detect.Headers)
	for i, h := range rp.Detect.Headers {
		rp.Detect.Headers[i] = http.CanonicalHeaderKey(h)
	}
	if len(rp.Detect.Headers) > 0 {
		rp.headerScore = 4
	}
	rp.RequestIDHeaders = slices.Clone(p.RequestIDHeaders)
	for i, h := range rp.RequestIDHeaders {
		rp.RequestIDHeaders[i] = http.CanonicalHeaderKey(h)
	}
	for _, ev := range p.ErrorEvents {
		if ev == "" || strings.ContainsAny(ev, "\r\n") {
			// A stream's "event:" line names one event, never ""
			// (a line without it) nor a line break: it would never match.
			return nil, bad("error event %q must be a non-empty name on one line", ev)
		}
		rp.events[ev] = true
	}
	return rp, nil
}

// ownSignals says what is wrong with p's detection signals, "" if
// nothing: each must be the vendor's own. A header every gateway sends
// (commonIDHeaders) or one another registered vendor names, and a member
// another vendor's shapes read (or an object holding one), would score
// on the other vendor's bodies and outscore it there: its failure would
// become a success or an error of p without its code.
func (p Profile) ownSignals(cur *profileSet) string {
	if cur == nil {
		return ""
	}
	for _, h := range p.Detect.Headers {
		h = http.CanonicalHeaderKey(h)
		if slices.Contains(commonIDHeaders, h) {
			return fmt.Sprintf("detection header %q is sent by gateways and other vendors", h)
		}
		for _, q := range cur.list {
			if slices.Contains(q.Detect.Headers, h) || slices.Contains(q.RequestIDHeaders, h) {
				return fmt.Sprintf("detection header %q is named by %q", h, q.Vendor)
			}
		}
	}
	for _, m := range p.Detect.Members {
		for _, q := range cur.list {
			read := slices.Concat([]string{q.Authority}, q.Detect.Members)
			for _, e := range q.Envelopes {
				read = append(read, e.When, e.Code, e.Success, e.Failed)
				read = append(read, e.Message...)
			}
			if slices.ContainsFunc(read, func(r string) bool { return r == m || strings.HasPrefix(r, m+".") }) {
				return fmt.Sprintf("detection member %q is read by %q", m, q.Vendor)
			}
		}
	}
	return ""
}

// validPath reports whether path is one or more member names joined by
// dots.
func validPath(path string) bool {
	if path == "" {
		return false
	}
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			return false
		}
	}
	return true
}

// keyLike reports whether a key prefix cannot start a word of text or a
// code: it is two bytes or more and holds a byte that is not a letter, or
// letters of both cases.
func keyLike(prefix string) bool {
	if len(prefix) < 2 {
		return false
	}
	var lower, upper bool
	for i := 0; i < len(prefix); i++ {
		switch c := prefix[i]; {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			return true
		}
	}
	return lower && upper
}

// validHeaderName reports whether name is an HTTP header field name: one
// or more token characters (RFC 9110, section 5.1).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// pathNode is one member of the tree of paths the decoder reads: the scan
// records a member's value when id >= 0 and walks into it when it is an
// object with wanted children.
type pathNode struct {
	name     string
	id       int
	children [][]*pathNode // by the length of their names; nil: none
}

// child returns the child of n named key, or nil. A node has a few dozen
// children at most, and few of one length: a loop over those, the most
// read first (see sortChildren), costs less than a map's hashing.
func (n *pathNode) child(key []byte) *pathNode {
	if len(key) >= len(n.children) {
		return nil
	}
	for _, c := range n.children[len(key)] {
		if c.name == string(key) { // no allocation
			return c
		}
	}
	return nil
}

// maxPaths bounds the member paths all profiles together read: the
// decoder keeps their values in a fixed array.
const maxPaths = 64

// buildTree gathers every member path the profiles read into one tree and
// gives each profile the ids of its paths.
func (s *profileSet) buildTree() error {
	s.tree = &pathNode{id: -1}
	s.npaths = 0
	ids := map[string]int{}
	var paths []string // by id
	id := func(path string) int {
		if path == "" {
			return -1
		}
		if i, ok := ids[path]; ok {
			return i
		}
		paths = append(paths, path)
		n := s.tree
		for _, part := range strings.Split(path, ".") {
			c := n.child([]byte(part))
			if c == nil {
				c = &pathNode{name: part, id: -1}
				for len(n.children) <= len(part) {
					n.children = append(n.children, nil)
				}
				n.children[len(part)] = append(n.children[len(part)], c)
			}
			n = c
		}
		n.id = s.npaths
		ids[path] = s.npaths
		s.npaths++
		return n.id
	}
	each := func(paths []string) []int {
		out := make([]int, len(paths))
		for i, p := range paths {
			out[i] = id(p)
		}
		return out
	}
	s.data = id("data") // DoJSON's payload
	for _, p := range s.list {
		p.authority = id(p.Authority)
		p.signals = maskOf(each(p.Detect.Members))
		p.mask = p.signals
		if p.authority >= 0 {
			p.mask |= 1 << p.authority
		}
		p.envs = make([]envelope, len(p.Envelopes))
		p.fits, p.decides = 0, 0
		for i := range p.Envelopes {
			e := &p.Envelopes[i]
			p.envs[i] = envelope{Envelope: e,
				when: id(e.When), code: id(e.Code), details: id(e.Details), success: id(e.Success),
				failed: id(e.Failed), retryAfter: id(e.RetryAfter),
				message: each(e.Message), requestID: each(e.RequestID), all: each(e.paths())}
			p.envs[i].mask = maskOf(p.envs[i].all)
			p.envs[i].decides = p.envs[i].deciding()
			p.fits |= p.envs[i].mask
			p.decides |= p.envs[i].decides
			p.resources = p.resources || e.Resource
		}
		p.mask |= p.fits
	}
	s.detecting = nil
	for _, p := range s.list {
		if p.Vendor != Generic {
			s.detecting = append(s.detecting, p)
		}
	}
	s.keyPrefixes, s.requestIDHeaders = nil, nil
	for _, p := range s.list {
		s.keyPrefixes = appendNew(s.keyPrefixes, p.KeyPrefixes...)
		s.requestIDHeaders = appendNew(s.requestIDHeaders, p.RequestIDHeaders...) // canonical (see compile)
	}
	s.requestIDHeaders = appendNew(s.requestIDHeaders, commonIDHeaders...)
	for _, p := range s.list {
		// Another vendor's own header says nothing of this vendor's
		// error; a Generic error (a gateway's page) may come from any.
		p.idHeaders = appendNew(slices.Clone(p.RequestIDHeaders), commonIDHeaders...)
		if p.Vendor == Generic {
			p.idHeaders = s.requestIDHeaders
		}
	}
	s.secretStarts = secretStarts(s.keyPrefixes)
	if s.npaths > maxPaths {
		return fmt.Errorf("the profiles read %d member paths together; at most %d are supported", s.npaths, maxPaths)
	}
	s.tree.sortChildren(readers(s.tree, s.list, paths))
	return nil
}

// readers counts, for each member of the tree, the profiles that read it
// or a member inside it.
func readers(tree *pathNode, list []*profile, paths []string) map[*pathNode]int {
	count := map[*pathNode]int{}
	for _, p := range list {
		seen := map[*pathNode]bool{}
		for m := p.mask; m != 0; m &= m - 1 {
			n := tree
			for _, part := range strings.Split(paths[bits.TrailingZeros64(m)], ".") {
				n = n.child([]byte(part))
				if !seen[n] {
					seen[n] = true
					count[n]++
				}
			}
		}
	}
	return count
}

// sortChildren orders the children of each length, at every level, by how
// many profiles read them, most first (ties in the order the profiles
// name them): child compares a key with them in that order, so the
// members most bodies hold ("code" before "data") are found soonest.
func (n *pathNode) sortChildren(readers map[*pathNode]int) {
	for _, same := range n.children {
		slices.SortStableFunc(same, func(a, b *pathNode) int { return cmp.Compare(readers[b], readers[a]) })
		for _, c := range same {
			c.sortChildren(readers)
		}
	}
}

// deciding returns the members that can make e apply (see decidedBy), as
// bits: its When alone when it has one, else its Success, Failed and Code,
// and its Message members when it has none of those three. An envelope
// none of whose deciding members is in the body does not apply.
func (e *envelope) deciding() uint64 {
	switch {
	case e.when >= 0:
		return maskOf([]int{e.when})
	case e.code < 0 && e.success < 0 && e.failed < 0:
		return maskOf(e.message)
	}
	return maskOf([]int{e.success, e.failed, e.code})
}

// maskOf sets the bits of ids; ids of maxPaths or more are left out (the
// set refuses them).
func maskOf(ids []int) uint64 {
	var m uint64
	for _, i := range ids {
		if i >= 0 && i < maxPaths {
			m |= 1 << i
		}
	}
	return m
}

// appendNew appends each item not yet in list.
func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

// honoursIdempotencyKeys reports whether vendor v honours an
// Idempotency-Key header: its profile says so, or v is not registered
// (Auto, an undetected vendor).
func honoursIdempotencyKeys(v Vendor) bool {
	p := lookupProfile(v)
	return p == nil || p.IdempotencyKeys
}

// headerSignal reports whether h holds one of names (canonical keys).
func headerSignal(h http.Header, names []string) bool {
	for _, n := range names {
		if len(h[n]) > 0 {
			return true
		}
	}
	return false
}

func init() {
	set := &profileSet{byVendor: map[Vendor]*profile{}}
	for _, p := range []Profile{memosProfile, tensorheartProfile, memoryOSProfile, memoriesAIProfile, cozeProfile, genericProfile} {
		rp, err := p.compile(set)
		if err != nil {
			panic(err)
		}
		set.add(rp)
	}
	if err := set.buildTree(); err != nil {
		panic(err)
	}
	profiles.Store(set)
}
