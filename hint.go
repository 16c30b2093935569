package memerr

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// timeNow is the package's one clock: hints that name a moment are measured
// with it, and the Transport reads it for deadlines, attempt durations and
// the breakers' open periods. Tests replace it with a clock they move.
var timeNow = time.Now

// MaxHint caps every server wait hint: a longer or absurd value (a year
// 9999 date, 10^20 seconds) is read as MaxHint, so a caller that decides by
// RetryAfter sees "too long" rather than an overflowed or negative duration.
const MaxHint = 24 * time.Hour

// ParseRetryAfter reads the server's wait hint from response headers, in
// this order: retry-after-ms (milliseconds), Retry-After (delta-seconds or an
// HTTP date), X-RateLimit-Reset (Unix seconds, Unix milliseconds, or a delta
// below 10^9 seconds). Moments are measured against the response's Date
// header when it is valid, so a skewed local clock cancels out; now is used
// otherwise. Garbage and negative values are ignored, values above MaxHint
// are capped, and a moment already past yields 0 with ok true.
func ParseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	return parseHint(h, func() time.Time { return now }, true)
}

// parseHint is ParseRetryAfter, reading X-RateLimit-Reset only when reset
// is true, and the local clock only when a moment needs it.
func parseHint(h http.Header, now func() time.Time, reset bool) (time.Duration, bool) {
	if len(h) == 0 {
		return 0, false
	}
	if v := headerValue(h, "Retry-After-Ms"); v != "" {
		if f, ok := parseNonNeg(v); ok {
			return capSeconds(f / 1000), true
		}
	}
	if v := headerValue(h, "Retry-After"); v != "" {
		if f, ok := parseNonNeg(v); ok {
			return capSeconds(f), true
		}
		if t, ok := parseHTTPDate(v); ok {
			return until(t, refTime(h, now)), true
		}
	}
	if !reset {
		return 0, false
	}
	if v := headerValue(h, "X-Ratelimit-Reset"); v != "" {
		if f, ok := parseNonNeg(v); ok {
			switch {
			case f < 1e9: // a delta in seconds
				return capSeconds(f), true
			case f < 1e12: // Unix seconds
				return untilUnix(f, refTime(h, now)), true
			case f < 1e15: // Unix milliseconds
				return untilUnix(f/1000, refTime(h, now)), true
			}
		}
	}
	return 0, false
}

// headerValue is h.Get for a canonical key, trimmed, without allocating for
// the lower-case spelling some servers use (retry-after-ms) when Header was
// filled by net/http, which canonicalises keys.
func headerValue(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// refTime is the server's idea of now: its Date header, else the local now.
func refTime(h http.Header, now func() time.Time) time.Time {
	if d := headerValue(h, "Date"); d != "" {
		if t, ok := parseHTTPDate(d); ok {
			return t
		}
	}
	return now()
}

// parseHTTPDate is http.ParseTime. The form servers send today, RFC 9110's
// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), is read in place, a
// quarter of the cost of time.Parse's walk through a layout; anything else
// (other spacing or letter case, the obsolete forms, a day its month
// lacks) goes to http.ParseTime, so the result is always its result.
func parseHTTPDate(s string) (time.Time, bool) {
	// Sun, 06 Nov 1994 08:49:37 GMT
	// 0    5  8   12   17 20 23 25
	if len(s) != len(http.TimeFormat) || s[3:5] != ", " || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25:] != " GMT" {
		return parseTime(s)
	}
	weekday := strings.Index("MonTueWedThuFriSatSun", s[:3])
	month := strings.Index("JanFebMarAprMayJunJulAugSepOctNovDec", s[8:11])
	day, year := digits(s[5:7]), digits(s[12:16])
	hour, min, sec := digits(s[17:19]), digits(s[20:22]), digits(s[23:25])
	if weekday < 0 || weekday%3 != 0 || month < 0 || month%3 != 0 ||
		day < 0 || year < 0 || hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59 {
		return parseTime(s)
	}
	t := time.Date(year, time.Month(month/3+1), day, hour, min, sec, 0, time.UTC)
	if t.Day() != day { // 00, or past the month's end: time.Date moved it
		return parseTime(s)
	}
	return t, true
}

// parseTime is http.ParseTime with a flag for its error.
func parseTime(s string) (time.Time, bool) {
	t, err := http.ParseTime(s)
	return t, err == nil
}

// digits reads a string of ASCII digits; -1 if it holds anything else.
func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// parseNonNeg parses a non-negative decimal number: digits with at most one
// '.'. Signs, exponents, hex, "NaN", "Inf", units and dates are rejected;
// a number too large for a float64 reads as +Inf (then capped).
func parseNonNeg(v string) (float64, bool) {
	dot := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if v == "" || v == "." {
		return 0, false
	}
	if !dot && len(v) <= 15 {
		return float64(digits(v)), true // below 2^53: exact, as ParseFloat reads it
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	if math.IsNaN(f) || f < 0 {
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// capSeconds converts seconds to a Duration no larger than MaxHint.
func capSeconds(f float64) time.Duration {
	if f >= MaxHint.Seconds() || math.IsInf(f, 1) {
		return MaxHint
	}
	return time.Duration(f * float64(time.Second))
}

func until(t, ref time.Time) time.Duration {
	return capSeconds(math.Max(0, t.Sub(ref).Seconds()))
}

func untilUnix(sec float64, ref time.Time) time.Duration {
	// Not ref.UnixNano(): it overflows for dates outside 1678-2262.
	d := sec - (float64(ref.Unix()) + float64(ref.Nanosecond())/1e9)
	if d <= 0 {
		return 0
	}
	return capSeconds(d)
}
