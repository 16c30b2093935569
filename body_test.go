package memerr

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAheadResponse is a 200 JSON response whose body is body, delivered a
// few bytes per Read, read ahead as the Transport does for Coze.
func readAheadResponse(t *testing.T, body []byte, sized bool) *http.Response {
	t.Helper()
	resp := &http.Response{
		StatusCode:    200,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(iotest.HalfReader(bytes.NewReader(body))),
		ContentLength: -1,
	}
	if sized {
		resp.ContentLength = int64(len(body))
	}
	var b inspectedBody
	require.Nil(t, b.readAhead(resp, Coze, "", DefaultMaxErrorBody, false))
	require.Same(t, &b, resp.Body)
	return resp
}

// TestInspectedBodyHandsBackEveryByte reads bodies read ahead in whole and
// in part (beyond PeekLimit) through each way a caller reads: Read, io.Copy
// (which takes WriteTo), and a few Reads followed by io.Copy.
func TestInspectedBodyHandsBackEveryByte(t *testing.T) {
	small := cozeBody(300)
	large := cozeBody(PeekLimit + 5000)
	for _, tc := range []struct {
		name  string
		body  []byte
		sized bool
	}{
		{"small/sized", small, true},
		{"small/chunked", small, false},
		{"large/chunked", large, false},
	} {
		for _, how := range []string{"Read", "WriteTo", "Read+WriteTo"} {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				resp := readAheadResponse(t, tc.body, tc.sized)
				var got bytes.Buffer
				switch how {
				case "Read":
					_, err := got.ReadFrom(iotest.OneByteReader(resp.Body))
					require.NoError(t, err)
				case "WriteTo":
					n, err := io.Copy(&got, resp.Body)
					require.NoError(t, err)
					assert.Equal(t, int64(len(tc.body)), n)
				case "Read+WriteTo":
					head := make([]byte, 7)
					_, err := io.ReadFull(resp.Body, head)
					require.NoError(t, err)
					got.Write(head)
					n, err := resp.Body.(io.WriterTo).WriteTo(&got)
					require.NoError(t, err)
					assert.Equal(t, int64(len(tc.body)-7), n)
				}
				require.NoError(t, resp.Body.Close())
				assert.True(t, bytes.Equal(tc.body, got.Bytes()), "%d bytes back of %d", got.Len(), len(tc.body))
				n, err := resp.Body.Read(make([]byte, 8))
				assert.Zero(t, n)
				assert.ErrorIs(t, err, http.ErrBodyReadAfterClose, "nothing is read after Close")
			})
		}
	}
}

// TestInspectedBodyWriteToError stops at the writer's error and resumes
// where it stopped.
func TestInspectedBodyWriteToError(t *testing.T) {
	body := cozeBody(300)
	resp := readAheadResponse(t, body, true)
	w := &limitedWriter{room: 100}
	n, err := io.Copy(w, resp.Body)
	assert.Equal(t, int64(100), n)
	assert.ErrorIs(t, err, errWriterFull)
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, string(body[100:]), string(rest))
}

var errWriterFull = errors.New("writer full")

type limitedWriter struct{ room int }

func (w *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > w.room {
		n := w.room
		w.room = 0
		return n, errWriterFull
	}
	w.room -= len(p)
	return len(p), nil
}

func TestReadAheadBodySizes(t *testing.T) {
	for _, n := range []int{64, 4095, 4096, 4097, 8192, PeekLimit, PeekLimit + 1} {
		for _, sized := range []bool{true, false} {
			t.Run(strconv.Itoa(n)+"/"+strconv.FormatBool(sized), func(t *testing.T) {
				body := cozeBody(n)
				resp := readAheadResponse(t, body, sized)
				got, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(body, got))
			})
		}
	}
}

// TestInspectedBodyRecycledBufferNotSeen closes a body read ahead, so its
// buffer goes back to the pool, reads another body into (most likely) the
// same buffer, and reads the first body again: it must give nothing, never
// the second body's bytes.
func TestInspectedBodyRecycledBufferNotSeen(t *testing.T) {
	first := readAheadResponse(t, []byte(`{"code":0,"data":"first"}`), true)
	head := make([]byte, 5)
	_, err := io.ReadFull(first.Body, head)
	require.NoError(t, err)
	require.NoError(t, first.Body.Close())
	second := readAheadResponse(t, []byte(`{"code":0,"data":"second-secret"}`), true)

	n, err := first.Body.Read(make([]byte, 64))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, http.ErrBodyReadAfterClose)
	var w bytes.Buffer
	m, err := first.Body.(io.WriterTo).WriteTo(&w)
	assert.Zero(t, m)
	assert.ErrorIs(t, err, http.ErrBodyReadAfterClose)
	assert.Empty(t, w.String())

	got, err := io.ReadAll(second.Body)
	require.NoError(t, err)
	assert.Equal(t, `{"code":0,"data":"second-secret"}`, string(got))
}

// TestInspectedBodyReadToEOFWithoutClose reads a body to its end without
// closing it: the buffer is handed back at EOF, and later reads find EOF.
func TestInspectedBodyReadToEOFWithoutClose(t *testing.T) {
	resp := readAheadResponse(t, cozeBody(100), true)
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Len(t, got, 100)
	ib := resp.Body.(*inspectedBody)
	ib.mu.Lock()
	assert.Nil(t, ib.a, "the buffer went back at EOF")
	ib.mu.Unlock()
	n, err := resp.Body.Read(make([]byte, 8))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, io.EOF)
}

// TestInspectedBodyConcurrentClose closes bodies while other goroutines
// read them, as a caller aborting a read does; run with -race.
func TestInspectedBodyConcurrentClose(t *testing.T) {
	body := cozeBody(2000)
	for i := 0; i < 200; i++ {
		resp := readAheadResponse(t, body, true)
		done := make(chan []byte)
		var end error
		go func() {
			var got []byte
			p := make([]byte, 7)
			for {
				n, err := resp.Body.Read(p)
				got = append(got, p[:n]...)
				if err != nil {
					end = err
					break
				}
			}
			done <- got
		}()
		if i%2 == 0 {
			runtime.Gosched()
		}
		require.NoError(t, resp.Body.Close())
		got := <-done
		assert.True(t, bytes.HasPrefix(body, got), "a read cut short by Close gives a prefix of the body")
		if end == io.EOF {
			assert.Len(t, got, len(body), "io.EOF only after the whole body")
		} else {
			assert.ErrorIs(t, end, http.ErrBodyReadAfterClose)
		}
	}
}

// TestReadAheadErrorBodyNotPooled reads an error body larger than the
// pooled buffers: it is decoded whole and replayed byte for byte.
func TestReadAheadErrorBodyNotPooled(t *testing.T) {
	big := append([]byte(`{"code":5000,"msg":"`), bytes.Repeat([]byte("m"), 200<<10)...)
	big = append(big, `"}`...)
	resp := &http.Response{
		StatusCode:    500,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(big)),
		ContentLength: -1,
	}
	var b inspectedBody
	e := b.readAhead(resp, Coze, "", DefaultMaxErrorBody, false)
	require.NotNil(t, e)
	assert.Equal(t, "5000", e.Code)
	assert.Len(t, e.Message, 200<<10)
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(big, got))
	require.NoError(t, resp.Body.Close())
}

// TestInspectedBodyCloseDuringSlowWrite closes a body while io.Copy is
// blocked writing its bytes to a slow writer: Close returns at once, and
// the write finishes with the bytes it was given.
func TestInspectedBodyCloseDuringSlowWrite(t *testing.T) {
	body := cozeBody(500)
	resp := readAheadResponse(t, body, true)
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	copied := make(chan int64)
	go func() {
		n, _ := io.Copy(w, resp.Body)
		copied <- n
	}()
	<-w.entered
	closed := make(chan error)
	go func() { closed <- resp.Body.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("Close waited for the writer")
	}
	close(w.release)
	assert.Equal(t, int64(len(body)), <-copied)
	assert.True(t, bytes.Equal(body, w.got), "the writer got the body as it was")
	n, err := resp.Body.Read(make([]byte, 8))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, http.ErrBodyReadAfterClose)
}

type blockingWriter struct {
	entered, release chan struct{}
	got              []byte
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	close(w.entered)
	<-w.release
	w.got = append(w.got, p...)
	return len(p), nil
}

func TestMediaTypeAgreesWithMime(t *testing.T) {
	for _, ct := range []string{
		"application/json", "Application/JSON; charset=UTF-8", " application/json ;charset=utf-8",
		"application/json; =broken", "application/problem+json", "text/event-stream",
		"application/x-ndjson", "application/json-seq", "application/jsonl", "text/plain; charset=utf-8",
		"garbage", "", "application/json;;", "APPLICATION/JSON",
	} {
		want, _, err := mime.ParseMediaType(ct)
		if err != nil && err != mime.ErrInvalidMediaParameter {
			want = ""
		}
		assert.Equal(t, want, mediaType(ct), "%q", ct)
	}
}

// TestInspectedBodyReadAfterClose reads a body read ahead after it has been
// closed, as a caller that aborts a download from another goroutine (or a
// context.AfterFunc) does between two Reads: the read must fail, as
// net/http's own body does, never end in io.EOF as if the body were whole.
func TestInspectedBodyReadAfterClose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  []byte
		sized bool
	}{
		{"whole", cozeBody(500), true},
		{"beyond PeekLimit", cozeBody(PeekLimit + 5000), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := readAheadResponse(t, tc.body, tc.sized)
			head := make([]byte, 10)
			_, err := io.ReadFull(resp.Body, head)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())

			n, err := resp.Body.Read(make([]byte, 64))
			assert.Zero(t, n)
			assert.ErrorIs(t, err, http.ErrBodyReadAfterClose)
			m, err := io.Copy(io.Discard, resp.Body)
			assert.Zero(t, m)
			assert.ErrorIs(t, err, http.ErrBodyReadAfterClose, "io.Copy of a closed body reports it, not a short success")
		})
	}
}

// TestInspectedBodyCloseDuringWriteOfPart closes a body beyond PeekLimit
// while io.Copy writes the part read ahead: the copy stops there and says
// so, rather than returning a part of the body with a nil error.
func TestInspectedBodyCloseDuringWriteOfPart(t *testing.T) {
	body := cozeBody(PeekLimit + 5000)
	resp := readAheadResponse(t, body, false)
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	type result struct {
		n   int64
		err error
	}
	copied := make(chan result)
	go func() {
		n, err := io.Copy(w, resp.Body)
		copied <- result{n, err}
	}()
	<-w.entered
	require.NoError(t, resp.Body.Close())
	close(w.release)
	r := <-copied
	assert.Less(t, r.n, int64(len(body)))
	assert.ErrorIs(t, r.err, http.ErrBodyReadAfterClose)
}

// shortWriter takes at most room bytes per Write and, breaking io.Writer's
// rule, reports no error when it takes fewer.
type shortWriter struct {
	room int
	got  []byte
}

func (w *shortWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.room)
	w.got = append(w.got, p[:n]...)
	return n, nil
}

// TestInspectedBodyWriteToShortWrite copies a body read ahead into a
// writer that takes part of a Write without an error: io.Copy's own loop
// reports io.ErrShortWrite there, and so must WriteTo, which io.Copy
// calls instead; the bytes not taken stay readable.
func TestInspectedBodyWriteToShortWrite(t *testing.T) {
	body := cozeBody(300)
	resp := readAheadResponse(t, body, true)
	w := &shortWriter{room: 100}
	n, err := io.Copy(w, resp.Body)
	assert.Equal(t, int64(100), n)
	assert.ErrorIs(t, err, io.ErrShortWrite)
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, string(body), string(w.got)+string(rest))
}
