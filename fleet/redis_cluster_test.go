package memerrfleet

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run a Redis Cluster of three masters on loopback, started
// by the test (redis-server and redis-cli, the Debian packages
// redis-server and redis-tools). Without the binaries they are skipped,
// except in CI (CI=true), where they fail.

// findBin is the path of a Redis binary, or the test fails in CI and
// skips elsewhere.
func findBin(t *testing.T, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err == nil {
		return bin
	}
	if _, serr := os.Stat("/usr/bin/" + name); serr == nil {
		return "/usr/bin/" + name
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (CI installs the Debian package redis-server)", name)
	}
	t.Skipf("%s is missing: install the Debian package redis-server", name)
	return ""
}

// freePorts returns n loopback ports free at the time of the call.
func freePorts(t *testing.T, n int) []int {
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// startCluster runs a Redis Cluster of three masters (no replicas) and
// returns their addresses once every node reports the cluster ok.
func startCluster(t *testing.T) []string {
	t.Helper()
	server, cli := findBin(t, "redis-server"), findBin(t, "redis-cli")
	// Each node has a client port and a cluster bus port; the bus port is
	// given explicitly (the default, port + 10000, may not exist).
	ports := freePorts(t, 6)
	dir := t.TempDir()
	var addrs []string
	for i := 0; i < 3; i++ {
		port := strconv.Itoa(ports[i])
		cmd := exec.Command(server, "--port", port, "--cluster-port", strconv.Itoa(ports[3+i]), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+port+".conf", "--save", "", "--appendonly", "no",
			"--protected-mode", "yes", "--dir", dir)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGCONT); cmd.Process.Kill(); cmd.Wait() })
		addrs = append(addrs, "127.0.0.1:"+port)
	}
	ctx := context.Background()
	for _, a := range addrs {
		rdb := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		require.Eventually(t, func() bool { return rdb.Ping(ctx).Err() == nil }, 10*time.Second, 5*time.Millisecond, "%s answers", a)
		rdb.Close()
	}
	out, err := exec.Command(cli, append([]string{"--cluster", "create"}, append(addrs, "--cluster-replicas", "0", "--cluster-yes")...)...).
		CombinedOutput()
	require.NoError(t, err, "redis-cli --cluster create: %s", out)
	for _, a := range addrs {
		rdb := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		require.Eventually(t, func() bool {
			info, err := rdb.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3")
		}, 10*time.Second, 5*time.Millisecond, "%s reports the cluster ok", a)
		rdb.Close()
	}
	return addrs
}

// clusterTimeout bounds the Redis operations of the cluster tests: they
// check that no operation fails on a cluster, and must not fail on a slow
// answer of a loaded machine.
const clusterTimeout = 2 * time.Second

func newClusterClient(t *testing.T, addrs []string) *redis.ClusterClient {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true, DialTimeout: clusterTimeout,
		ReadTimeout: clusterTimeout, WriteTimeout: clusterTimeout})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// clusterFleets are n replicas, each a Fleet on a ClusterClient of its own;
// every error a fleet reports through its hooks fails the test.
func clusterFleets(t *testing.T, addrs []string, n int, opts ...Option) []*Fleet {
	var fs []*Fleet
	for i := 0; i < n; i++ {
		hooks := WithHooks(Hooks{OnDegraded: func(err error) { t.Errorf("replica %d degraded: %v", i, err) }})
		f := New(newClusterClient(t, addrs), append([]Option{WithRefresh(testRefresh), WithTimeout(clusterTimeout),
			WithQuotaTimeout(clusterTimeout), hooks}, opts...)...)
		t.Cleanup(func() { f.Close() })
		fs = append(fs, f)
	}
	return fs
}

// masterOf returns a function giving the address of the master that
// serves a key.
func masterOf(t *testing.T, rdb *redis.ClusterClient) func(key string) string {
	return func(key string) string {
		c, err := rdb.MasterForKey(context.Background(), key)
		require.NoError(t, err)
		return c.Options().Addr
	}
}

// On a Redis Cluster of three masters, with redis.NewClusterClient, the
// fleet works as on one server: holds are shared (messages published by
// the scripts reach subscribers on every master, and the refresh finds
// holds written on every master), one replica sends an ended circuit's
// trial, a quota is kept for all, failures are counted together, and no
// replica enters the degraded mode. It runs with the default prefix (the
// keys spread over the masters) and with a prefix holding a hash tag
// (every key in one slot).
func TestRealRedisCluster(t *testing.T) {
	addrs := startCluster(t)
	for _, prefix := range []string{DefaultPrefix, "{myservice}:memerr:"} {
		t.Run(prefix, func(t *testing.T) {
			rdb := newClusterClient(t, addrs)
			fs := clusterFleets(t, addrs, 3, WithPrefix(prefix))
			testClusterHolds(t, rdb, prefix, fs)
			testClusterTrial(t, fs)
			testClusterQuota(t, rdb, prefix, fs)
			testClusterTrip(t, fs)
			for i, f := range fs {
				s := f.Stats()
				assert.False(t, s.Degraded, "replica %d is not degraded", i)
				assert.Zero(t, s.Ignored, "replica %d ignored nothing", i)
			}
			t.Logf("fleet: Redis Cluster of 3 masters, prefix %q: holds shared by message and refresh, one trial of 3, quota kept, trip together, never degraded", prefix)
		})
	}
}

// Holds of scopes on every master reach every replica, by message and by
// the refresh.
func testClusterHolds(t *testing.T, rdb *redis.ClusterClient, prefix string, fs []*Fleet) {
	ctx := context.Background()
	// Nine scopes: three on each master (any nine with the hash tag).
	master := masterOf(t, rdb)
	var scopes, keys []string
	perMaster := map[string]int{}
	for i := 0; len(scopes) < 9; i++ {
		require.Less(t, i, 1000, "scopes on every master")
		s := "https://vendor" + strconv.Itoa(i) + ".example:443"
		k := prefix + "hold:{" + s + "}"
		if m := master(k); perMaster[m] < 3 || strings.HasPrefix(prefix, "{") {
			perMaster[m]++
			scopes, keys = append(scopes, s), append(keys, k)
		}
	}
	if strings.HasPrefix(prefix, "{") {
		require.Len(t, perMaster, 1, "the prefix's hash tag puts every key on one master")
	} else {
		require.Len(t, perMaster, 3, "the scopes' keys are spread over the three masters")
	}

	// A subscriber on each master receives every hold a script publishes,
	// whichever master ran the script: PUBLISH reaches the whole cluster.
	var subs []<-chan *redis.Message
	var mu sync.Mutex // ForEachMaster runs on every master at once
	require.NoError(t, rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		ps := node.Subscribe(ctx, prefix+"holds")
		t.Cleanup(func() { ps.Close() })
		_, err := ps.Receive(ctx)
		mu.Lock()
		subs = append(subs, ps.Channel())
		mu.Unlock()
		return err
	}))
	require.Len(t, subs, 3)

	for _, s := range scopes {
		fs[0].Hold(s, hold(time.Minute))
	}
	for i, ch := range subs {
		got := map[string]bool{}
		timeout := time.After(within)
		for len(got) < len(scopes) {
			select {
			case m := <-ch:
				parts := strings.Split(m.Payload, "|")
				got[parts[len(parts)-1]] = true
			case <-timeout:
				t.Fatalf("subscriber %d received %d of %d holds", i, len(got), len(scopes))
			}
		}
	}
	for i, f := range fs[1:] {
		for _, s := range scopes {
			require.Eventually(t, func() bool { _, ok := f.Held(s); return ok }, within, poll, "replica %d learns %s", i+1, s)
		}
	}

	// Holds written straight into the cluster, with no message: the
	// refresh, scanning every master, finds each of them.
	var direct []memerr.FleetHold
	for i := range scopes {
		h := hold(2*time.Minute + time.Duration(i)*time.Second)
		direct = append(direct, h)
		require.NoError(t, rdb.Set(ctx, keys[i], encode(h), time.Minute).Err())
	}
	for _, f := range fs {
		for i, s := range scopes {
			eventuallyHeld(t, f, s, direct[i])
		}
	}
}

// An ended open circuit: of the replicas asking at once, exactly one is
// elected to send the trial (the lease script touches the lease and the
// hold), and its success closes the circuit for all (the close script
// too).
func testClusterTrial(t *testing.T, fs []*Fleet) {
	const scope = "https://trial.example:443"
	now := time.Now()
	circuit := memerr.FleetHold{Until: now.Add(100 * time.Millisecond).Truncate(time.Millisecond), Kind: memerr.KindUnavailable,
		Code: circuitOpen, Period: 100 * time.Millisecond}
	fs[0].Hold(scope, circuit)
	for _, f := range fs {
		eventuallyHeld(t, f, scope, circuit)
	}
	require.Eventually(t, func() bool { return time.Now().After(circuit.Until) }, within, poll)
	var won atomic.Int32
	var winner *Fleet
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f.Probe(context.Background(), scope) {
				won.Add(1)
				mu.Lock()
				winner = f
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int32(1), won.Load(), "one replica sends the trial")
	winner.Verdict(scope, true)
	for i, f := range fs {
		require.Eventually(t, func() bool { _, ok := f.Held(scope); return !ok }, within, poll, "replica %d learns the circuit closed", i)
	}
}

// Three replicas taking turns of one quota at once get, together, what
// the quota allows: its burst now, nothing more until the next interval.
// A throttle halves the shared rate, and the replicas are counted.
func testClusterQuota(t *testing.T, rdb *redis.ClusterClient, prefix string, fs []*Fleet) {
	const scope = "https://quota.example:443"
	q := memerr.Quota{Requests: 6, Per: time.Minute, Burst: 4} // an interval of 10 s: no turn comes back during the test
	var taken atomic.Int32
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if _, ok := f.Take(scope, q, 0); ok {
					taken.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(4), taken.Load(), "30 requests from three replicas: the burst of 4 goes, the rest is refused")
	for i, f := range fs {
		assert.False(t, f.quota.local.Load(), "replica %d took from Redis, not from its local share", i)
	}

	fs[1].Observe(scope, q, true)
	require.Eventually(t, func() bool {
		r, err := rdb.HGet(context.Background(), prefix+"quota:"+scope, "r").Float64()
		return err == nil && r == 3
	}, within, poll, "a throttle halves the shared rate")
	require.Eventually(t, func() bool {
		for _, f := range fs {
			if f.quota.replicas.Load() != 3 {
				return false
			}
		}
		return true
	}, within, poll, "every replica counts three replicas")
}

// Failures reported by the replicas in turn are counted together: the
// fifth opens the circuit for all, once.
func testClusterTrip(t *testing.T, fs []*Fleet) {
	const scope = "https://trip.example:443"
	s := memerr.BreakerSettings{ConsecutiveFailures: 5, OpenTimeout: time.Minute}
	for i := 0; i < 5; i++ {
		f := fs[i%len(fs)]
		f.Failed(scope, s)
		if i < 4 {
			for _, g := range fs {
				require.Eventually(t, func() bool {
					g.mu.RLock()
					defer g.mu.RUnlock()
					return g.counts[scope].n == int64(i+1)
				}, within, poll, "every replica knows the count %d", i+1)
			}
		}
	}
	for i, f := range fs {
		require.Eventually(t, func() bool { h, ok := f.Held(scope); return ok && isCircuit(h) }, within, poll,
			"replica %d learns the open circuit", i)
	}
	var trips uint64
	for _, f := range fs {
		trips += f.Stats().Trips
	}
	assert.Equal(t, uint64(1), trips, "one replica opened the circuit for all")
	assert.Equal(t, uint64(1), fs[4%len(fs)].Stats().Trips, "the replica of the fifth failure")
}
