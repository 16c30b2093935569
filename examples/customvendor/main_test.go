package main

import (
	"testing"

	"github.com/memerr/memerr/internal/exampletest"
)

func TestRun(t *testing.T) {
	exampletest.Run(t, run,
		"registered: recall - a second registration fails with ErrProfile",
		"  err: memerr: recall NO_SUCH_MEMORY not found: the memory does not exist (request id tr-42)",
		"  errors.Is(err, memerr.ErrNotFound) = true",
		"  errors.Is(err, RecallNoSuchMemory) = true",
		`  got "prefers green tea" after 2 requests`,
		"  errors.Is(err, memerr.ErrCircuitOpen) = true - requests sent: 0",
	)
}
