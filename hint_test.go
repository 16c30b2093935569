package memerr

import (
	"net/http"
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
