package memerr

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAheadResponse is a 200 JSON response whose body is body, delivered a
// few bytes per Read, read ahead as Decode does for Coze: whole, up to
// PeekLimit.
func readAheadResponse(t *testing.T, body []byte, sized bool) *http.Response {
	t.Helper()
	return readAheadAs(t, body, sized, false)
}

// readAheadAs is readAheadResponse, read ahead as the Transport does for
// Coze when call is set: a body whose first member is "code":0 is read up
// to its first peekPrefix bytes.
func readAheadAs(t *testing.T, body []byte, sized, call bool) *http.Response {
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
	require.Nil(t, b.readAhead(resp, Coze, "", DefaultMaxErrorBody, call))
	require.Same(t, &b, resp.Body)
	return resp
}

// stoppedAtPrefix reports whether the body was read ahead up to its
// prefix only.
func stoppedAtPrefix(resp *http.Response) bool {
	ib := resp.Body.(*inspectedBody)
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return ib.rest != nil && ib.a != nil && ib.a.n == peekPrefix
}

// TestInspectedBodyHandsBackEveryByte reads bodies read ahead in whole and
// in part (beyond PeekLimit) through each way a caller reads: Read, io.Copy
// (which takes WriteTo), and a few Reads followed by io.Copy.
func TestInspectedBodyHandsBackEveryByte(t *testing.T) {
	small := cozeBody(300)
	medium := cozeBody(4096)
	large := cozeBody(PeekLimit + 5000)
	for _, tc := range []struct {
		name  string
		body  []byte
		sized bool
		call  bool // read ahead by the Transport: up to the prefix
	}{
		{"small/sized", small, true, false},
		{"small/chunked", small, false, false},
		{"large/chunked", large, false, false},
		{"prefix/sized", medium, true, true},
		{"prefix/chunked", medium, false, true},
		{"prefix/large", large, false, true},
	} {
		for _, how := range []string{"Read", "WriteTo", "Read+WriteTo"} {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				resp := readAheadAs(t, tc.body, tc.sized, tc.call)
				require.Equal(t, tc.call, stoppedAtPrefix(resp), "read up to the prefix only")
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
	for _, n := range []int{64, peekPrefix - 1, peekPrefix, peekPrefix + 1, 4095, 4096, 4097, 8192, PeekLimit, PeekLimit + 1} {
		for _, sized := range []bool{true, false} {
			for _, call := range []bool{false, true} {
				t.Run(strconv.Itoa(n)+"/sized="+strconv.FormatBool(sized)+"/call="+strconv.FormatBool(call), func(t *testing.T) {
					body := cozeBody(n)
					resp := readAheadAs(t, body, sized, call)
					// A body that ends within the prefix is read whole;
					// a declared length of exactly peekPrefix leaves its
					// end unseen.
					wantPrefix := call && (n > peekPrefix || n == peekPrefix && !sized)
					assert.Equal(t, wantPrefix, stoppedAtPrefix(resp), "read up to the prefix only")
					got, err := io.ReadAll(resp.Body)
					require.NoError(t, err)
					assert.True(t, bytes.Equal(body, got))
				})
			}
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
		resp := readAheadAs(t, body, true, i%4 < 2) // the rest in the buffer, or unread past the prefix
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
		call  bool
	}{
		{"whole", cozeBody(500), true, false},
		{"beyond PeekLimit", cozeBody(PeekLimit + 5000), false, false},
		{"beyond the prefix", cozeBody(4096), true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := readAheadAs(t, tc.body, tc.sized, tc.call)
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
	for _, tc := range []struct {
		name string
		body []byte
		call bool
	}{
		{"beyond PeekLimit", cozeBody(PeekLimit + 5000), false},
		{"beyond the prefix", cozeBody(4096), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := readAheadAs(t, tc.body, false, tc.call)
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
			assert.Less(t, r.n, int64(len(tc.body)))
			assert.ErrorIs(t, r.err, http.ErrBodyReadAfterClose)
		})
	}
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

// TestPrefixVerdictIsTheWholeBodys reads ahead bodies larger than the
// prefix as the Transport does, then decodes them as Decode does after it,
// with the prefix ending at each byte around the first member (leading
// white space moves it): the verdict is always the one the whole body
// gives (the Transport's verdict on the call, then the Resource shapes),
// and the body is handed back whole.
func TestPrefixVerdictIsTheWholeBodys(t *testing.T) {
	pad := strings.Repeat("x", 2000)
	bodies := []string{
		`{"code":0,"msg":"","data":{"blob":"PAD"}}`,
		// A retrieved chat that failed (coze-py's chat_failed_resp.txt
		// values), grown past the prefix by its meta_data.
		`{"code":0,"msg":"","data":{"id":"7390342853760696354","meta_data":{"note":"PAD"},"last_error":{"code":5000,"msg":"event interval error"},"status":"failed"}}`,
		`{"code":4009,"msg":"busy","data":{"blob":"PAD"}}`,
		`{"code":4009,"data":{"code":0},"msg":"busy","blob":"PAD"}`, // a prefix may end as a success body does
		`{"message":"ok","data":{"blob":"PAD"},"code":50004}`,
		`{"message":"ok","data":{"blob":"PAD"},"code":200}`,
		`{"code":200,"message":"ok","data":{"blob":"PAD"}}`,
		`{"code":2000,"message":"ok","data":{"blob":"PAD"}}`,
		`{"code":0.5,"message":"ok","data":{"blob":"PAD"}}`,
		`{"code":"0","message":"ok","data":{"blob":"PAD"}}`,
		`{"code":0 ,"data":{"blob":"PAD"},"success":false}`,
		`{"code":0,"data":{"blob":"PAD"},"code":50004}`,
		`{"code":0,"msg":"","data":{"blob":"PAD"}`, // cut short: not JSON
		"\xef\xbb\xbf" + `{"code":0,"msg":"","data":{"blob":"PAD"}}`,
	}
	h := http.Header{"Content-Type": {"application/json"}}
	for _, vs := range [][2]Vendor{{Coze, ""}, {MemOS, ""}, {Auto, Coze}, {Auto, MemOS}} {
		v, learned := vs[0], vs[1]
		for _, raw := range bodies {
			raw = strings.Replace(raw, "PAD", pad, 1)
			for k := 0; k <= 40; k++ {
				body := []byte(strings.Repeat(" ", peekPrefix-k) + raw)
				// The whole body's verdict: the call's, then, if the
				// vendor known by then may have any, the Resource shapes'.
				want, sure := decodeBody(v, learned, 200, h, body, true)
				if l := cmp.Or(learned, sure); want == nil && mayReportResources(v, l) {
					want, _ = decodeBody(v, l, 200, h, body, false)
				}
				resp := &http.Response{StatusCode: 200, Header: h, ContentLength: int64(len(body)),
					Body: io.NopCloser(iotest.HalfReader(bytes.NewReader(body)))}
				var b inspectedBody
				b.readAhead(resp, v, learned, DefaultMaxErrorBody, true)
				got := Decoder{Vendor: v, learned: learned}.Decode(resp) // as Client.Do does
				name := string(v) + "/" + string(learned) + "/" + raw[:20] + "/" + strconv.Itoa(k)
				if want == nil {
					require.NoError(t, got, name)
					rest, err := io.ReadAll(resp.Body)
					require.NoError(t, err, name)
					require.True(t, bytes.Equal(body, rest), "%s: the body handed back whole", name)
					continue
				}
				var e *Error
				require.ErrorAs(t, got, &e, name)
				assert.Equal(t, [3]string{string(want.Vendor), want.Code, want.Kind.String()},
					[3]string{string(e.Vendor), e.Code, e.Kind.String()}, name)
			}
		}
	}
}

// TestCloseWhileDecodeReadsOn closes a body from another goroutine while
// Decode reads on past the prefix the Transport stopped at: Close does
// not wait for that read, which ends, and the body reads as closed.
func TestCloseWhileDecodeReadsOn(t *testing.T) {
	body := cozeBody(4096)
	pr, pw := io.Pipe()
	go pw.Write(body[:peekPrefix+10]) // then nothing more comes
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: pr, ContentLength: int64(len(body))}
	var b inspectedBody
	require.Nil(t, b.readAhead(resp, Coze, "", DefaultMaxErrorBody, true))
	require.True(t, stoppedAtPrefix(resp))

	decoded := make(chan error)
	go func() { decoded <- Decode(resp) }()
	for busy := false; !busy; runtime.Gosched() { // until Decode reads on
		select {
		case err := <-decoded:
			t.Fatalf("Decode returned %v without reading on", err)
		default:
		}
		b.mu.Lock()
		busy = b.busy
		b.mu.Unlock()
	}
	closed := make(chan error)
	go func() { closed <- resp.Body.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for Decode's read")
	}
	assert.NoError(t, <-decoded, "a body closed while it was read: no verdict from a part of it")
	n, err := resp.Body.Read(make([]byte, 8))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, http.ErrBodyReadAfterClose)
}

// TestTransportPrefixConfirmedChatDecodedWhole sends a Coze chat that
// failed, larger than the prefix, through a Transport: the Transport
// stops at the prefix, whose "code":0 confirms the call, and Decode and
// Client.Do read on and report the chat, with the Transport's attempts;
// a chat that did not fail is handed back whole.
func TestTransportPrefixConfirmedChatDecodedWhole(t *testing.T) {
	note := strings.Repeat("n", 3000)
	failed := `{"code":0,"msg":"","data":{"id":"c1","meta_data":{"note":"` + note + `"},"last_error":{"code":5000,"msg":"event interval error"},"status":"failed"}}`
	ok := `{"code":0,"msg":"","data":{"id":"c1","meta_data":{"note":"` + note + `"},"status":"completed"}}`

	srv := newScripted(t, step{status: 503}, sizedStep(failed))
	tr := NewTransport(nil, fast(WithVendor(Coze))...)
	resp, err := get(t, tr, srv.URL)
	require.NoError(t, err)
	require.True(t, stoppedAtPrefix(resp), "the Transport read the prefix only")
	var e *Error
	require.ErrorAs(t, Decode(resp), &e)
	assert.Equal(t, CozeInternalError, Code{e.Vendor, e.Code})
	assert.Equal(t, "event interval error", e.Message)
	assert.Equal(t, 2, e.Attempts, "a 503, then the chat")

	for _, v := range []Vendor{Coze, Auto} {
		srv := newScripted(t, sizedStep(failed))
		c := NewClient(fast(WithVendor(v))...)
		for i := 0; i < 2; i++ { // under Auto, the second is read as Coze's, from its prefix
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			_, err := c.Do(req)
			require.ErrorAs(t, err, &e, "vendor %q, request %d", v, i)
			assert.Equal(t, "5000", e.Code)
			assert.Equal(t, 1, e.Attempts)
		}
		assert.Equal(t, Coze, c.Transport().vendorForRequest(mustRequest(t, srv.URL)))
	}

	srv = newScripted(t, sizedStep(ok))
	resp, err = get(t, tr, srv.URL)
	require.NoError(t, err)
	require.True(t, stoppedAtPrefix(resp))
	require.NoError(t, Decode(resp))
	assert.Equal(t, ok, readAll(t, resp), "read on by Decode, and handed back from its first byte")
}

// sizedStep answers 200 with body, its length declared: net/http's server
// declares none for a body over 2 KiB written in one go, and the Transport
// reads ahead only a body whose length is declared.
func sizedStep(body string) step {
	return step{status: 200, body: body, header: map[string]string{"Content-Length": strconv.Itoa(len(body))}}
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	return req
}

// TestOverPeekLimitBodyNotJudgedHoweverItEnds reads ahead a 2xx body of
// unknown length one byte over PeekLimit whose first PeekLimit bytes are a
// whole error envelope: a success payload, not judged, as for any body over
// PeekLimit, whether the reader gives io.EOF after the last byte or with it
// (as a gzip body that net/http decompresses does), and handed back whole.
func TestOverPeekLimitBodyNotJudgedHoweverItEnds(t *testing.T) {
	const head, tail = `{"code":4009,"msg":"busy","data":"`, `"}`
	envelope := head + strings.Repeat("x", PeekLimit-len(head)-len(tail)) + tail
	for _, last := range []string{"\n", "x"} {
		body := []byte(envelope + last)
		require.Len(t, body, PeekLimit+1)
		readers := map[string]func(io.Reader) io.Reader{
			"eof after": func(r io.Reader) io.Reader { return r },
			"eof with":  iotest.DataErrReader,
		}
		for name, reader := range readers {
			resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
				ContentLength: -1, Body: io.NopCloser(reader(bytes.NewReader(body)))}
			require.NoError(t, Decoder{Vendor: Coze}.Decode(resp), "%q, %s", last, name)
			assert.Equal(t, string(body), readAll(t, resp), "%q, %s", last, name)
		}

		// Over HTTP: the same body, gzipped by the server, decompressed
		// by net/http, through a Client.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write(body)
			zw.Close()
		}))
		resp, err := NewClient(WithVendor(Coze)).Do(mustRequest(t, srv.URL))
		srv.Close()
		require.NoError(t, err, "%q, gzip", last)
		assert.Equal(t, string(body), readAll(t, resp), "%q, gzip", last)
	}
}

// TestGzipBodyOverPeekLimitNotJudged sends a 2xx body that the caller asked
// to get compressed (its own Accept-Encoding), small on the wire, that
// decompresses to one byte over PeekLimit, its first PeekLimit bytes a
// whole error envelope: a success payload, not judged (Parse of the whole
// body finds no JSON), neither retried by the Transport nor reported by
// Client.Do, and handed back as sent.
func TestGzipBodyOverPeekLimitNotJudged(t *testing.T) {
	const head, tail = `{"code":4009,"msg":"busy","data":"`, `"}`
	body := head + strings.Repeat("x", PeekLimit-len(head)-len(tail)) + tail + "x"
	require.NoError(t, Parse(Coze, 200, nil, []byte(body)))
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(body))
	zw.Close()
	srv := newScripted(t, step{status: 200, body: zb.String(),
		header: map[string]string{"Content-Encoding": "gzip", "Content-Length": strconv.Itoa(zb.Len())}})
	req := mustRequest(t, srv.URL)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := NewClient(fast(WithVendor(Coze))...).Do(req)
	require.NoError(t, err)
	assert.Equal(t, zb.String(), readAll(t, resp))
	assert.Equal(t, 1, srv.Hits(), "not retried")
}
