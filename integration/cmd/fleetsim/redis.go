package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server process the simulation started on a
// loopback port, which it may kill and start again on the same port.
type redisServer struct {
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

// findRedis is the redis-server binary: from PATH, else /usr/bin.
func findRedis() (string, error) {
	if bin, err := exec.LookPath("redis-server"); err == nil {
		return bin, nil
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server", nil
	}
	return "", errors.New("redis-server is missing: install the Debian package redis-server (apt-get install -y redis-server)")
}

// startRedis starts redis-server on a free loopback port and waits until
// it answers.
func startRedis() (*redisServer, error) {
	bin, err := findRedis()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "fleetsim-redis-")
	if err != nil {
		return nil, err
	}
	r := &redisServer{bin: bin, port: port, dir: dir}
	if err := r.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return r, nil
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// start runs the server (without persistence) and waits until it answers
// PING, for at most 10 s.
func (r *redisServer) start() error {
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--protected-mode", "yes", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			r.kill()
			return fmt.Errorf("redis-server on %s does not answer: %w", r.addr(), err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// kill ends the server at once (SIGKILL) and waits for it.
func (r *redisServer) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// flush empties the database between runs.
func (r *redisServer) flush() error {
	rdb := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return rdb.FlushAll(ctx).Err()
}

// stop kills the server and removes its directory.
func (r *redisServer) stop() {
	r.kill()
	os.RemoveAll(r.dir)
}
