package memerrfleet

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blackhole is a TCP proxy to a Redis whose connections open so far can be
// made to swallow every byte, both ways, without closing: a connection
// whose peer vanished (a failover, a partition, a conntrack entry
// dropped), which the kernel reports only after many minutes. New
// connections go through.
type blackhole struct {
	l      net.Listener
	target string
	gen    atomic.Int64 // connections of this generation or older are swallowed once frozen
	frozen atomic.Int64
	done   chan struct{}
	mu     sync.Mutex
	conns  []net.Conn
}

func newBlackhole(t *testing.T, target string) *blackhole {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &blackhole{l: l, target: target, done: make(chan struct{})}
	b.frozen.Store(-1)
	go b.serve()
	t.Cleanup(func() {
		close(b.done)
		l.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			c.Close()
		}
	})
	return b
}

func (b *blackhole) addr() string { return b.l.Addr().String() }

// freeze swallows the traffic of every connection open now.
func (b *blackhole) freeze() { b.frozen.Store(b.gen.Add(1) - 1) }

func (b *blackhole) serve() {
	for {
		c, err := b.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", b.target)
		if err != nil {
			c.Close()
			continue
		}
		b.mu.Lock()
		b.conns = append(b.conns, c, s)
		b.mu.Unlock()
		gen := b.gen.Load()
		go b.pipe(gen, s, c)
		go b.pipe(gen, c, s)
	}
}

func (b *blackhole) pipe(gen int64, dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if gen <= b.frozen.Load() {
			<-b.done // swallowed: the connection stays open, silent
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A subscription whose connection has gone silent (no error, no answer)
// is noticed and made again: a ping that gets no pong within a refresh
// period (or the timeout) ends it. Before, the fleet pinged every refresh
// period without looking for the answer, kept receiving on the dead
// connection until the kernel gave up on it (many minutes), and learned
// the other replicas' holds only from the refresh, never by message.
func TestSilentSubscriptionMadeAgain(t *testing.T) {
	m := miniredis.RunT(t)
	bh := newBlackhole(t, m.Addr())
	f := newFleet(t, bh.addr())
	require.Eventually(t, func() bool { return m.PubSubNumSub("memerr:holds")["memerr:holds"] == 1 }, within, poll)
	bh.freeze()

	// A hold that only a message carries (no key: the refresh cannot find
	// it) reaches the replica once it has subscribed again.
	const scope = "https://api.example:443"
	h := hold(time.Minute)
	msg := encode(h) + "|" + scope
	require.Eventually(t, func() bool {
		m.Publish("memerr:holds", msg)
		got, ok := f.Held(scope)
		return ok && got.Until.Equal(h.Until)
	}, slow, 10*poll, "the replica subscribes again and receives the hold")
	assert.GreaterOrEqual(t, m.PubSubNumSub("memerr:holds")["memerr:holds"], 2, "a new subscription beside the silent one")
}
