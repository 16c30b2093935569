package memerr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKindString(t *testing.T) {
	assert.Equal(t, "rate limited", KindRateLimited.String())
	assert.Equal(t, "unknown", KindUnknown.String())
	assert.Equal(t, "Kind(200)", Kind(200).String())
	for k := KindInvalidRequest; k < numKinds; k++ {
		require.NotNil(t, k.Err(), k.String())
		assert.True(t, errors.Is(&Error{Kind: k}, k.Err()), k.String())
		assert.Equal(t, "memerr: "+k.String(), k.Err().Error())
	}
	assert.Nil(t, KindUnknown.Err())
}

func TestErrorIsTemplates(t *testing.T) {
	e := &Error{Vendor: Coze, Code: "4011", Kind: KindInsufficientBalance}
	wrapped := fmt.Errorf("calling coze: %w", e)

	assert.ErrorIs(t, wrapped, ErrInsufficientBalance)
	assert.NotErrorIs(t, wrapped, ErrRateLimited)
	assert.ErrorIs(t, wrapped, CozeInsufficientBalance)
	assert.ErrorIs(t, wrapped, Code{Vendor: Coze, Value: "4011"})
	assert.ErrorIs(t, wrapped, Code{Value: "4011"}, "a zero vendor matches any vendor")
	assert.NotErrorIs(t, wrapped, Code{Vendor: MemOS, Value: "4011"}, "another vendor's same-looking code")
	assert.NotErrorIs(t, wrapped, Code{}, "an empty template matches nothing")
	assert.ErrorIs(t, wrapped, &Error{Vendor: Coze, Code: "4011"})
	assert.ErrorIs(t, wrapped, &Error{Kind: KindInsufficientBalance})
	assert.NotErrorIs(t, wrapped, &Error{Vendor: Coze, Code: "4009"})
	assert.NotErrorIs(t, wrapped, &Error{})

	var got *Error
	require.ErrorAs(t, wrapped, &got)
	assert.Same(t, e, got)
}
