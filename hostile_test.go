package memerr

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A garbage header line of megabytes makes net/http fail with an error
// quoting all of it, escaped (a 1 MiB line gives a 4 MiB text). The errors
// memerr hands on — RoundTrip's, Client.Do's *Error and its cause, the
// hooks' — carry a few KiB of it, not a log line of megabytes.
func TestHugeGarbageHeaderGivesShortError(t *testing.T) {
	line := "X-Request-Id: " + strings.Repeat("a\x01\xff", 1<<20/3) + "\r\n"
	u := echoServer(t, func(string) string {
		return "HTTP/1.1 200 OK\r\n" + line + "Content-Length: 0\r\n\r\n"
	})
	const most = 8 << 10
	var hooked []error
	opts := []Option{WithMaxRetries(1), WithBackoff(time.Millisecond, time.Millisecond), WithoutBreaker(),
		WithHooks(Hooks{OnAttempt: func(ev AttemptEvent) { hooked = append(hooked, ev.Err) }, OnRetry: func(ev RetryEvent) { hooked = append(hooked, ev.Err) }})}
	short := func(err error) {
		t.Helper()
		for e := err; e != nil; e = errors.Unwrap(e) {
			assert.LessOrEqual(t, len(e.Error()), most, "%.100q...", e.Error())
		}
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u+"/v1/memories", nil)
	require.NoError(t, err)

	_, err = NewTransport(nil, opts...).RoundTrip(req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "malformed MIME header line")
	short(err)

	_, err = NewClient(opts...).Do(req)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, KindUnavailable, e.Kind)
	assert.LessOrEqual(t, len(e.Message), most)
	short(err)

	require.Len(t, hooked, 6) // two attempts and a retry, twice
	for _, err := range hooked {
		require.Error(t, err)
		short(err)
	}
}
