// Command fleetsim measures memerr's fleet mode: N replicas, each a
// separate OS process with its own Transport, against one fake vendor on
// loopback, each scenario run once with every replica on its own
// ("independent") and once with every replica sharing holds through one
// redis-server ("fleet"), side by side. The figures and their goals are
// those of issue 13; FLEET.md at the repository root shows a run.
//
// Scenarios (-scenarios, comma separated, all by default):
//
//   - outage: the vendor answers 503 for -outage (10 s); the requests
//     reaching it during the outage (one replica alone, N independent, N
//     as a fleet) and the half-open probes per open period.
//   - retryafter: the vendor answers one request with 429 and
//     Retry-After: 5 and keeps the scope limited until then; the other
//     replicas' requests that reach it before the hold ends, and how long
//     the hold takes to reach their local copies.
//   - quota: the vendor enforces -quota (600) requests per minute for the
//     whole fleet under -offered (1,200) per minute; the share of 429s.
//     Fleet replicas configure the quota (memerr.WithQuota); outside the
//     short run, a third run configures the offered rate instead and
//     leaves the vendor's 429s (AIMD) to find the limit.
//   - redis: redis-server is killed (SIGKILL) mid-run and started again;
//     the requests that failed, the latency added while it is down, and
//     how long until a hold learned meanwhile reaches every replica.
//   - cost: the success path with fleet mode on (real Redis, no quota)
//     against off, in one process, in alternating blocks.
//
// The vendor's log is the ground truth: every request it receives is
// logged with the replica that sent it and the moment its attempt left
// the replica's transport.
//
// Usage (from the integration module):
//
//	go run ./cmd/fleetsim                          # N = 16, about 4 minutes
//	go run ./cmd/fleetsim -chart ../docs/fleet.png # and the chart of FLEET.md
//	go run ./cmd/fleetsim -short                   # CI: N = 4, under a minute
//
// With -short, it exits with status 1 when a figure misses its goal by
// more than the wide margin written beside the goal (see goals.go). It
// needs redis-server (the Debian package) in PATH or /usr/bin.
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	n         int
	short     bool
	scenarios string
	rate      float64
	timeout   time.Duration
	lead      time.Duration
	outage    time.Duration
	tail      time.Duration
	gap       time.Duration
	hold      time.Duration
	quota     float64
	offered   float64
	quotaFor  time.Duration
	redisDown time.Duration
	costFor   time.Duration
	out       string
	chart     string
}

func main() {
	var o options
	replica := flag.String("replica", "", "internal: run as a replica with this JSON spec")
	flag.IntVar(&o.n, "n", 16, "replicas (separate processes)")
	flag.BoolVar(&o.short, "short", false, "the CI run: N = 4 and short scenarios; exit 1 when a goal is missed by its wide margin")
	flag.StringVar(&o.scenarios, "scenarios", "outage,retryafter,quota,redis,cost", "scenarios to run, comma separated")
	flag.Float64Var(&o.rate, "rate", 20, "requests per second each replica offers (outage, retryafter, redis)")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Second, "each request's deadline")
	flag.DurationVar(&o.lead, "lead", 2*time.Second, "load before each scenario's event")
	flag.DurationVar(&o.outage, "outage", 10*time.Second, "length of the outage")
	flag.DurationVar(&o.tail, "tail", 6*time.Second, "load after the outage (the breakers' open periods grow: 1, 2, 4, 8 s)")
	flag.DurationVar(&o.gap, "gap", 300*time.Millisecond, "quiet time that separates two bursts of requests during the outage")
	flag.DurationVar(&o.hold, "hold", 5*time.Second, "the scripted 429's Retry-After")
	flag.Float64Var(&o.quota, "quota", 600, "the vendor's shared quota, requests per minute")
	flag.Float64Var(&o.offered, "offered", 1200, "the load the whole fleet offers in the quota scenario, requests per minute")
	flag.DurationVar(&o.quotaFor, "quota-for", 30*time.Second, "length of the quota scenario")
	flag.DurationVar(&o.redisDown, "redis-down", 3*time.Second, "how long redis-server stays killed")
	flag.DurationVar(&o.costFor, "cost-for", 10*time.Second, "length of the success-cost measurement")
	flag.StringVar(&o.out, "out", "", "directory for fleetsim.json and fleetsim.md (default: none)")
	flag.StringVar(&o.chart, "chart", "", "PNG file for the chart of vendor requests per second (default: none)")
	flag.Parse()

	if *replica != "" {
		if err := runReplica(*replica); err != nil {
			fmt.Fprintln(os.Stderr, "fleetsim replica:", err)
			os.Exit(2)
		}
		return
	}
	if o.short {
		o.shorten()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	missed, err := coordinate(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		os.Exit(2)
	}
	if o.short && missed > 0 {
		fmt.Fprintf(os.Stderr, "fleetsim: %d figure(s) missed their goal by more than the wide margin\n", missed)
		os.Exit(1)
	}
}

// shorten sets the CI run's sizes, unless a flag set them.
func (o *options) shorten() {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	def := func(name string, apply func()) {
		if !set[name] {
			apply()
		}
	}
	def("n", func() { o.n = 4 })
	def("lead", func() { o.lead = time.Second })
	def("outage", func() { o.outage = 3 * time.Second })
	def("tail", func() { o.tail = time.Second })
	def("hold", func() { o.hold = 2 * time.Second })
	def("quota-for", func() { o.quotaFor = 5 * time.Second })
	def("redis-down", func() { o.redisDown = 1500 * time.Millisecond })
	def("cost-for", func() { o.costFor = 3 * time.Second })
}

func (o *options) has(s string) bool { return slices.Contains(strings.Split(o.scenarios, ","), s) }

// coordinate runs the scenarios, prints the figures and writes the
// summary and chart; it returns the figures that missed their goal by
// more than the wide margin.
func coordinate(ctx context.Context, o options) (int, error) {
	v, err := startVendor()
	if err != nil {
		return 0, err
	}
	defer v.close()
	rs, err := startRedis()
	if err != nil {
		return 0, err
	}
	defer rs.stop()
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	c := &coordinator{o: o, v: v, rs: rs, exe: exe}
	fmt.Printf("fleetsim: N = %d, vendor %s, redis-server %s (%s)\n", o.n, v.urlA, rs.addr(), rs.bin)

	var figs []figure
	var panels []panel
	for _, sc := range []struct {
		name string
		run  func(context.Context) ([]figure, *panel, error)
	}{
		{"outage", c.outage},
		{"retryafter", c.retryAfter},
		{"quota", c.quota},
		{"redis", c.redis},
		{"cost", c.cost},
	} {
		if !o.has(sc.name) {
			continue
		}
		started := time.Now()
		fs, p, err := sc.run(ctx)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", sc.name, err)
		}
		fmt.Printf("fleetsim: %s done in %.1fs\n", sc.name, time.Since(started).Seconds())
		figs = append(figs, fs...)
		if p != nil {
			panels = append(panels, *p)
		}
	}

	md := table(figs, o)
	fmt.Println()
	fmt.Print(md)
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return 0, err
		}
		b, _ := json.MarshalIndent(summary{N: o.n, Short: o.short, Figures: figs}, "", "  ")
		if err := os.WriteFile(filepath.Join(o.out, "fleetsim.json"), b, 0o644); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(o.out, "fleetsim.md"), []byte(md), 0o644); err != nil {
			return 0, err
		}
	}
	if o.chart != "" {
		if err := renderChart(o.chart, panels); err != nil {
			return 0, fmt.Errorf("chart: %w", err)
		}
		fmt.Println("fleetsim: chart written to", o.chart)
	}
	missed := 0
	for _, f := range figs {
		if !f.WithinMargin {
			missed++
		}
	}
	return missed, nil
}

// coordinator runs the replicas against the vendor.
type coordinator struct {
	o    options
	v    *vendor
	rs   *redisServer
	exe  string
	runs int
}

// run is what one run of a scenario in one mode produced.
type run struct {
	Mode     string // "one replica", "independent" or "fleet"
	N        int
	Start    time.Time
	End      time.Time
	Arrivals []arrival
	Reqs     []record
	Seen     map[string]map[int]time.Time // scope → replica → first moment its local copy held the scope
	Fleet    []record                     // per replica: time in the fleet's methods
	Late     int                          // replicas ready after the load started
	Events   []record                     // the fleets' "degraded" and "recovered"
}

// plan is one run: its replicas, its script, what happens during it.
type plan struct {
	mode     string
	n        int
	fleet    bool
	rate     float64       // per replica
	timeout  time.Duration // each request's deadline; 0: -timeout
	quota    int           // fleet mode: the quota each replica configures, per minute; 0: none
	duration time.Duration
	script   func(start time.Time) script
	watch    []string
	sendB    func(start time.Time) time.Time            // replica 0 sends one request to scope b then
	during   func(ctx context.Context, start time.Time) // runs beside the replicas (the Redis scenario kills redis-server)
}

// execute runs p: N replica processes, started together, their records
// and the vendor's log collected.
func (c *coordinator) execute(ctx context.Context, p plan) (*run, error) {
	c.runs++
	if err := c.rs.flush(); err != nil {
		return nil, fmt.Errorf("flush redis: %w", err)
	}
	// Time to start the processes and let each fleet subscribe.
	start := time.Now().Add(500*time.Millisecond + time.Duration(p.n)*60*time.Millisecond)
	sc := script{}
	if p.script != nil {
		sc = p.script(start)
	}
	c.v.reset(sc)
	r := &run{Mode: p.mode, N: p.n, Start: start, End: start.Add(p.duration), Seen: map[string]map[int]time.Time{}}

	var mu sync.Mutex
	var wg sync.WaitGroup
	var procs []*exec.Cmd
	var errs []error
	for id := 0; id < p.n; id++ {
		s := spec{ID: id, Fleet: p.fleet, VendorA: c.v.urlA, VendorB: c.v.urlB, Redis: c.rs.addr(),
			Prefix: "fleetsim:" + strconv.Itoa(c.runs) + ":", Start: start, Duration: p.duration,
			Rate: p.rate, Timeout: cmp.Or(p.timeout, c.o.timeout), Watch: p.watch, Quota: p.quota}
		if p.sendB != nil && id == 0 {
			s.SendB = p.sendB(start)
		}
		b, _ := json.Marshal(s)
		cmd := exec.CommandContext(ctx, c.exe, "-replica", string(b))
		cmd.Stderr = prefixed(os.Stderr, fmt.Sprintf("replica %d: ", id))
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start replica %d: %w", id, err)
		}
		procs = append(procs, cmd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs, err := readRecords(out)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			for _, rec := range recs {
				switch rec.K {
				case "req":
					r.Reqs = append(r.Reqs, rec)
				case "seen":
					if r.Seen[rec.S] == nil {
						r.Seen[rec.S] = map[int]time.Time{}
					}
					r.Seen[rec.S][rec.R] = time.Unix(0, rec.T)
				case "fleet":
					r.Fleet = append(r.Fleet, rec)
				case "degraded", "recovered":
					r.Events = append(r.Events, rec)
				case "ready":
					if rec.T > start.UnixNano() {
						r.Late++
					}
				}
			}
		}()
	}
	if p.during != nil {
		p.during(ctx, start)
	}
	wg.Wait()
	for i, cmd := range procs {
		if err := cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("replica %d: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Let the last responses reach the log.
	time.Sleep(50 * time.Millisecond)
	r.Arrivals = c.v.arrivals()
	if r.Late > 0 {
		fmt.Printf("fleetsim: warning: %d replica(s) of the %s run were ready after the load started\n", r.Late, p.mode)
	}
	return r, nil
}

// readRecords reads a replica's JSON lines until it closes its stdout.
func readRecords(rd io.Reader) ([]record, error) {
	var recs []record
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return recs, fmt.Errorf("replica output %q: %w", sc.Text(), err)
		}
		recs = append(recs, rec)
	}
	return recs, sc.Err()
}

// prefixed writes each line to w with a prefix.
func prefixed(w io.Writer, prefix string) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(w, prefix+sc.Text())
		}
	}()
	return pw
}

// summary is fleetsim.json.
type summary struct {
	N       int      `json:"n"`
	Short   bool     `json:"short"`
	Figures []figure `json:"figures"`
}
