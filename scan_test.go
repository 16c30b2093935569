package memerr

import (
	"errors"
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
