// Package memerrfleet shares memerr's holds and quotas between the replicas of a
// service through Redis: when one replica is told to wait (a rate limit or
// a quota failure with a wait hint), the others stop calling that scope
// too, instead of each collecting its own refusal.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	fleet := memerrfleet.New(rdb, memerrfleet.WithPrefix("myservice:memerr:"))
//	defer fleet.Close()
//	client := memerr.NewClient(memerr.WithFleet(fleet))
//
// No request waits for Redis for its holds: each replica keeps them in memory, the
// transport reads that copy before each attempt, and writes, pub/sub and
// a periodic refresh run on the fleet's own goroutines. When Redis is down,
// slow or returns garbage, requests proceed on local state (the degraded
// mode, visible through WithLogger, WithHooks and Stats), and the fleet
// catches up when Redis answers again.
//
// A replica's open circuit is shared the same way, and when it ends one
// replica of the fleet, elected by a lease in Redis, sends the trial
// request (Fleet implements memerr.FleetProber). The replicas' breaker
// failures are counted together (Fleet implements memerr.FleetTripper): the
// first ConsecutiveFailures in a row across the fleet open the circuit for
// every replica, instead of each replica spending its own.
//
// A Fleet is also a memerr.Limiter: a quota set with memerr.WithQuota is
// kept for the whole fleet by a GCRA in Redis (one bounded round trip per
// request to that scope; the replica's local share when Redis fails), its
// rate halved by the vendor's throttles and raised back by successes.
//
// The client may be a *redis.Client, a Sentinel's failover client (a plain
// client to the fleet) or a *redis.ClusterClient: the keys one script
// touches together share a hash slot, and the refresh scans every master
// (README.md, "Keys and Redis Cluster").
package memerrfleet
