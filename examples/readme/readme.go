// Package readme holds the example printed in README.md; a test keeps the
// two identical, and go vet compiles it.
package readme

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
)

// README:begin first-example
func remember(ctx context.Context, token string) error {
	c := memerr.NewClient(memerr.WithVendor(memerr.Coze), memerr.WithHeader("Authorization", "Bearer "+token))
	var out struct{ ID string }
	err := c.DoJSON(ctx, "POST", "https://api.coze.cn/v1/memories", map[string]string{"text": "likes tea"}, &out)
	var e *memerr.Error
	switch {
	case errors.Is(err, memerr.ErrRateLimited): // retried already; the server still says slow down
		log.Printf("rate limited; server asks for %s", retryAfter(err))
	case errors.Is(err, memerr.CozeInsufficientBalance): // one code of one vendor
		log.Print("top up the Coze account")
	case errors.As(err, &e): // every other failure, one shape for five vendors
		log.Printf("%s %s %s: %s (request id %s)", e.Vendor, e.Code, e.Kind, e.Message, e.RequestID)
	}
	return err
}

// README:end

// README:begin stream
func chat(c *memerr.Client, req *http.Request) error {
	resp, err := c.Do(req) // a stream refused before it starts is an ordinary *Error
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	events := memerr.NewEventReader(memerr.Coze, resp)
	for {
		ev, err := events.Next() // a failure inside the stream: its *Error, with X-Tt-Logid
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		log.Printf("%s: %s", ev.Name, ev.Data)
	}
}

// README:end

func fakeServer() {
	// README:begin memerrtest
	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.Enqueue(
		memerrtest.Error(memerr.CozeSystemBusy),                                                     // HTTP 200, {"code":4009,...}, X-Tt-Logid
		memerrtest.Error(memerr.TensorheartRateLimitExceeded).WithRetryAfterMS(20*time.Millisecond), // 429 with a hint
		memerrtest.Success(memerr.Coze, map[string]string{"id": "m1"}),
	)
	// README:end
}

func registerRecall() {
	// README:begin customvendor
	memerr.MustRegister(memerr.Profile{
		Vendor:    "recall",
		Envelopes: []memerr.Envelope{{Success: "ok", Code: "err.kind", Message: []string{"err.text"}, RequestID: []string{"trace"}}},
		Authority: "ok",
		Detect:    memerr.Detection{Members: []string{"err.kind"}},
		Codes: []memerr.CodeInfo{
			{Code: memerr.Code{Value: "SLOW_DOWN"}, Kind: memerr.KindRateLimited, Status: 429, Meaning: "too many requests"},
			{Code: memerr.Code{Value: "NO_SUCH_MEMORY"}, Kind: memerr.KindNotFound, Status: 404, Meaning: "no such memory"},
		},
	})
	// README:end
}

func retryAfter(err error) string {
	var e *memerr.Error
	if errors.As(err, &e) {
		return e.RetryAfter.String()
	}
	return "nothing"
}

// The functions above exist to be compiled, not called: the README shows them.
var _, _, _, _ = remember, chat, fakeServer, registerRecall
