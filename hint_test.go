package memerr

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// t0 is 2024-01-01 00:00:00 UTC, Unix 1704067200: the seeds' reset example.
var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	in := func(d time.Duration) time.Time { return t0.Add(d) }
	date := func(d time.Duration) string { return in(d).Format(http.TimeFormat) }
	farFuture := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	farPast := time.Date(2019, 3, 1, 0, 0, 0, 0, time.UTC)

	tests := []struct {
		name   string
		header http.Header
		now    time.Time // the local clock; t0 when zero
		want   time.Duration
		ok     bool
	}{
		// Each form.
		{name: "retry-after-ms", header: hdr("retry-after-ms", "1500"), want: 1500 * time.Millisecond, ok: true},
		{name: "retry-after-ms zero", header: hdr("retry-after-ms", "0"), want: 0, ok: true},
		{name: "Retry-After delta-seconds", header: hdr("Retry-After", "120"), want: 2 * time.Minute, ok: true},
		{name: "Retry-After with spaces", header: hdr("Retry-After", " 120 "), want: 2 * time.Minute, ok: true},
		{name: "Retry-After zero", header: hdr("Retry-After", "0"), want: 0, ok: true},
		{name: "Retry-After decimal", header: hdr("Retry-After", "1.5"), want: 1500 * time.Millisecond, ok: true},
		{name: "Retry-After RFC1123 date", header: hdr("Retry-After", "Mon, 01 Jan 2024 00:01:30 GMT"), want: 90 * time.Second, ok: true},
		{name: "Retry-After RFC850 date", header: hdr("Retry-After", "Monday, 01-Jan-24 00:01:30 GMT"), want: 90 * time.Second, ok: true},
		{name: "Retry-After ANSI C date", header: hdr("Retry-After", "Mon Jan  1 00:01:30 2024"), want: 90 * time.Second, ok: true},
		{name: "Retry-After date already past", header: hdr("Retry-After", date(-time.Hour)), want: 0, ok: true},
		{name: "X-RateLimit-Reset Unix seconds", header: hdr("X-RateLimit-Reset", "1704067260"), want: time.Minute, ok: true},
		{name: "X-RateLimit-Reset Unix milliseconds", header: hdr("X-RateLimit-Reset", "1704067260500"), want: 60500 * time.Millisecond, ok: true},
		{name: "X-RateLimit-Reset delta", header: hdr("X-RateLimit-Reset", "30"), want: 30 * time.Second, ok: true},
		{name: "X-RateLimit-Reset largest delta", header: hdr("X-RateLimit-Reset", "999999999"), want: MaxHint, ok: true},
		{name: "X-RateLimit-Reset already past", header: hdr("X-RateLimit-Reset", "1704067100"), want: 0, ok: true},

		// Precedence: retry-after-ms, Retry-After, X-RateLimit-Reset.
		{name: "ms before Retry-After before reset", header: hdr("retry-after-ms", "250", "Retry-After", "5", "X-RateLimit-Reset", "1704067260"), want: 250 * time.Millisecond, ok: true},
		{name: "Retry-After before reset", header: hdr("Retry-After", "5", "X-RateLimit-Reset", "1704067260"), want: 5 * time.Second, ok: true},
		{name: "garbage ms falls through to Retry-After", header: hdr("retry-after-ms", "soon", "Retry-After", "5"), want: 5 * time.Second, ok: true},
		{name: "garbage Retry-After falls through to reset", header: hdr("Retry-After", "soon", "X-RateLimit-Reset", "30"), want: 30 * time.Second, ok: true},
		{name: "negative ms falls through", header: hdr("retry-after-ms", "-100", "X-RateLimit-Reset", "1704067200000"), want: 0, ok: true},

		// Clock skew: moments are measured against the server's Date.
		{name: "local clock years ahead, Retry-After date", now: farFuture,
			header: hdr("Date", date(0), "Retry-After", date(45*time.Second)), want: 45 * time.Second, ok: true},
		{name: "local clock years behind, Retry-After date", now: farPast,
			header: hdr("Date", date(0), "Retry-After", date(45*time.Second)), want: 45 * time.Second, ok: true},
		{name: "local clock ahead, reset Unix seconds", now: farFuture,
			header: hdr("Date", date(0), "X-RateLimit-Reset", "1704067260"), want: time.Minute, ok: true},
		{name: "local clock behind, reset Unix seconds", now: farPast,
			header: hdr("Date", date(0), "X-RateLimit-Reset", "1704067260"), want: time.Minute, ok: true},
		{name: "local clock ahead, reset Unix milliseconds", now: farFuture,
			header: hdr("Date", date(0), "X-RateLimit-Reset", "1704067260000"), want: time.Minute, ok: true},
		{name: "Date in RFC850 form", now: farFuture,
			header: hdr("Date", "Monday, 01-Jan-24 00:00:00 GMT", "X-RateLimit-Reset", "1704067230"), want: 30 * time.Second, ok: true},
		{name: "local clock a minute ahead of Date", now: in(time.Minute),
			header: hdr("Date", date(0), "Retry-After", date(90*time.Second)), want: 90 * time.Second, ok: true},
		{name: "delta needs no Date", now: farFuture,
			header: hdr("Date", date(0), "Retry-After", "7"), want: 7 * time.Second, ok: true},
		{name: "garbage Date falls back to the local clock",
			header: hdr("Date", "yesterday", "Retry-After", date(90*time.Second)), want: 90 * time.Second, ok: true},
		{name: "Date in year 9999: reset long past", now: t0,
			header: hdr("Date", "Fri, 31 Dec 9999 23:59:59 GMT", "X-RateLimit-Reset", "1704067260"), want: 0, ok: true},
		{name: "Date in year 1600: reset far ahead is capped", now: t0,
			header: hdr("Date", "Sat, 01 Jan 1600 00:00:00 GMT", "X-RateLimit-Reset", "1704067260"), want: MaxHint, ok: true},

		// Garbage, negative and absurd values.
		{name: "no headers", header: nil, want: 0, ok: false},
		{name: "unrelated headers", header: hdr("Content-Type", "application/json"), want: 0, ok: false},
		{name: "Retry-After word", header: hdr("Retry-After", "soon"), want: 0, ok: false},
		{name: "Retry-After negative", header: hdr("Retry-After", "-5"), want: 0, ok: false},
		{name: "Retry-After plus sign", header: hdr("Retry-After", "+5"), want: 0, ok: false},
		{name: "Retry-After NaN", header: hdr("Retry-After", "NaN"), want: 0, ok: false},
		{name: "Retry-After Inf", header: hdr("Retry-After", "Inf"), want: 0, ok: false},
		{name: "Retry-After +Inf", header: hdr("Retry-After", "+Inf"), want: 0, ok: false},
		{name: "Retry-After Infinity", header: hdr("Retry-After", "Infinity"), want: 0, ok: false},
		{name: "Retry-After hex", header: hdr("Retry-After", "0x10"), want: 0, ok: false},
		{name: "Retry-After exponent", header: hdr("Retry-After", "1e3"), want: 0, ok: false},
		{name: "Retry-After with unit", header: hdr("Retry-After", "5s"), want: 0, ok: false},
		{name: "Retry-After two numbers", header: hdr("Retry-After", "5 6"), want: 0, ok: false},
		{name: "Retry-After 99999999999", header: hdr("Retry-After", "99999999999"), want: MaxHint, ok: true},
		{name: "Retry-After 10^20", header: hdr("Retry-After", "100000000000000000000"), want: MaxHint, ok: true},
		{name: "Retry-After 10^400", header: hdr("Retry-After", "1"+strings.Repeat("0", 400)), want: MaxHint, ok: true},
		{name: "Retry-After year 9999", header: hdr("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), want: MaxHint, ok: true},
		{name: "Retry-After year 9999 against Date", now: farPast, header: hdr("Date", date(0), "Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), want: MaxHint, ok: true},
		{name: "retry-after-ms 10^20", header: hdr("retry-after-ms", "100000000000000000000"), want: MaxHint, ok: true},
		{name: "retry-after-ms just under the cap", header: hdr("retry-after-ms", "86399999"), want: MaxHint - time.Millisecond, ok: true},
		{name: "X-RateLimit-Reset 99999999999 (year 5138)", header: hdr("X-RateLimit-Reset", "99999999999"), want: MaxHint, ok: true},
		{name: "X-RateLimit-Reset 10^20 is ignored", header: hdr("X-RateLimit-Reset", "100000000000000000000"), want: 0, ok: false},
		{name: "X-RateLimit-Reset negative", header: hdr("X-RateLimit-Reset", "-1704067260"), want: 0, ok: false},
		{name: "X-RateLimit-Reset date is not a reset", header: hdr("X-RateLimit-Reset", date(time.Minute)), want: 0, ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			got, ok := ParseRetryAfter(tc.header, now)
			assert.Equal(t, tc.ok, ok, "ok")
			assert.Equal(t, tc.want, got)
			assert.GreaterOrEqual(t, got, time.Duration(0))
			assert.LessOrEqual(t, got, MaxHint)
		})
	}
}

// TestParseUsesInjectedClock: Parse measures moments with timeNow, unless the
// response has a Date header.
func TestParseUsesInjectedClock(t *testing.T) {
	body := `{"error":{"code":"RATE_LIMITED","message":"Rate limit exceeded"},"meta":{"request_id":"req_abc123"}}`

	t.Run("no Date: the local clock", func(t *testing.T) {
		pinClock(t, t0)
		e := mustParse(t, Auto, 429, hdr("X-RateLimit-Reset", "1704067230"), body)
		assert.Equal(t, 30*time.Second, e.RetryAfter)
	})
	t.Run("Date wins over a skewed local clock", func(t *testing.T) {
		pinClock(t, t0.Add(-48*time.Hour))
		e := mustParse(t, Auto, 429, hdr("Date", t0.Format(http.TimeFormat), "X-RateLimit-Reset", "1704067230"), body)
		assert.Equal(t, 30*time.Second, e.RetryAfter)
	})
	t.Run("local clock after the reset", func(t *testing.T) {
		pinClock(t, t0.Add(time.Hour))
		e := mustParse(t, Auto, 429, hdr("X-RateLimit-Reset", "1704067230"), body)
		assert.Equal(t, time.Duration(0), e.RetryAfter)
	})
}

func TestBodyRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		body   string
		want   time.Duration
	}{
		{"seconds", nil, `{"detail":"Too many requests","retry_after":30}`, 30 * time.Second},
		{"fraction", nil, `{"detail":"Too many requests","retry_after":2.5}`, 2500 * time.Millisecond},
		{"zero", nil, `{"detail":"Too many requests","retry_after":0}`, 0},
		{"negative is ignored", nil, `{"detail":"Too many requests","retry_after":-5}`, 0},
		{"huge is capped", nil, `{"detail":"Too many requests","retry_after":1e20}`, MaxHint},
		{"overflowing is capped", nil, `{"detail":"Too many requests","retry_after":1e999}`, MaxHint},
		{"string is ignored", nil, `{"detail":"Too many requests","retry_after":"30"}`, 0},
		{"null is ignored", nil, `{"detail":"Too many requests","retry_after":null}`, 0},
		{"header wins", hdr("Retry-After", "3"), `{"detail":"Too many requests","retry_after":30}`, 3 * time.Second},
		{"garbage header falls back to the body", hdr("Retry-After", "later"), `{"detail":"Too many requests","retry_after":30}`, 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pinClock(t, t0)
			e := mustParse(t, Auto, 429, tc.header, tc.body)
			assert.Equal(t, tc.want, e.RetryAfter)
			assert.Equal(t, KindRateLimited, e.Kind)
		})
	}
	t.Run("ParseEvent reads it too", func(t *testing.T) {
		// A MemOS self-hosted rate-limit body sent as a stream's error event.
		err := ParseStreamEvent(Auto, nil, "error", []byte(`data: {"detail":"Too many requests","retry_after":2}`))
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 2*time.Second, e.RetryAfter)
	})
}

// TestParseHTTPDateMatchesNetHTTP: the in-place reading of IMF-fixdate
// dates agrees with http.ParseTime on every input, valid or not: dates
// spread over years 0000-9999, month ends and leap days, and every one-byte
// change of a few dates (a wrong name, case, digit, separator or zone).
func TestParseHTTPDateMatchesNetHTTP(t *testing.T) {
	same := func(s string) {
		t.Helper()
		want, err := http.ParseTime(s)
		got, ok := parseHTTPDate(s)
		if ok != (err == nil) || !got.Equal(want) || got.Location().String() != want.Location().String() {
			t.Fatalf("%q: parseHTTPDate %v %v, http.ParseTime %v %v", s, got, ok, want, err)
		}
	}
	var inputs []string
	for sec := int64(-62135596800); sec < 253402300800; sec += 7_919_993 { // years 1-9999
		inputs = append(inputs, time.Unix(sec, 0).UTC().Format(http.TimeFormat))
	}
	for _, y := range []int{0, 1900, 2000, 2023, 2024, 2100} {
		for m := time.January; m <= time.December; m++ {
			for _, d := range []int{0, 1, 28, 29, 30, 31, 32} {
				// Written by hand: time.Date would carry day 0 or 32 into
				// the next field.
				inputs = append(inputs, fmt.Sprintf("Mon, %02d %s %04d 23:59:59 GMT", d, m.String()[:3], y))
			}
		}
	}
	for _, s := range inputs {
		same(s)
	}
	changes := "0123456789 ,:+-.GMTUCmonjanxZ\x00\xff"
	for _, base := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Thu, 29 Feb 2024 23:59:59 GMT", "Mon, 01 Jan 2024 00:00:00 GMT"} {
		same(base)
		same(strings.ToLower(base))
		same(strings.ToUpper(base))
		same(base[:len(base)-1])
		same(base + " ")
		same(" " + base)
		for i := range base {
			for _, c := range []byte(changes) {
				same(base[:i] + string(c) + base[i+1:])
			}
		}
	}
	same("onT, 01 Jan 2024 00:00:00 GMT") // names straddling two in a list
	same("Mon, 01 anF 2024 00:00:00 GMT")
	same("Mon, 01 Jan 2024 00:00:00 UTC")
	same("Sunday, 06-Nov-94 08:49:37 GMT") // RFC 850
	same("Sun Nov  6 08:49:37 1994")       // asctime
	same("")
}

// TestParseNonNegMatchesParseFloat: integers, read without ParseFloat up to
// 15 digits, get the value ParseFloat gives them, at every length.
func TestParseNonNegMatchesParseFloat(t *testing.T) {
	for _, s := range []string{"0", "00", "0030", "7", "60", "1704067260", "1704067260000",
		"999999999999999", "1000000000000000", "9007199254740993", "99999999999999999999", "1.5", "30."} {
		want, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, s)
		got, ok := parseNonNeg(s)
		assert.True(t, ok, s)
		assert.Equal(t, want, got, s)
	}
	for n := uint64(1); n < 1e19; n = n*10 + n%7 + 1 {
		s := strconv.FormatUint(n, 10)
		want, _ := strconv.ParseFloat(s, 64)
		got, ok := parseNonNeg(s)
		assert.True(t, ok, s)
		assert.Equal(t, want, got, s)
	}
}
