//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTick is the unit of /proc/PID/stat times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// meterInterval is how often a cpuMeter samples /proc.
const meterInterval = 100 * time.Millisecond

// procKey tells a process from a later one that reuses its PID.
type procKey struct {
	pid   int
	start string // starttime, field 22
}

// cpuMeter adds up the CPU time (user + system) that this program's
// descendant processes use while it runs: the renderers, and the nodes
// with everything they start. It samples /proc, because a sandboxed
// renderer runs in its own PID namespace and session, out of reach of
// rusage and process groups; the last < 100 ms of each process is missed.
type cpuMeter struct {
	mu   sync.Mutex
	base map[procKey]time.Duration // at start
	last map[procKey]time.Duration // latest sample
	stop chan struct{}
	done chan struct{}
}

func startMeter() *cpuMeter {
	m := &cpuMeter{base: descendants(), last: map[procKey]time.Duration{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(meterInterval)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *cpuMeter) sample() {
	d := descendants()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range d {
		m.last[k] = v
	}
}

// end stops sampling and returns the CPU time used since startMeter.
func (m *cpuMeter) end() time.Duration {
	close(m.stop)
	<-m.done
	m.sample()
	var t time.Duration
	for k, v := range m.last {
		t += v - m.base[k]
	}
	return t
}

// descendants maps every live descendant of this process to its own CPU
// time so far (utime + stime; children are counted as themselves).
func descendants() map[procKey]time.Duration {
	type proc struct {
		ppid int
		key  procKey
		cpu  time.Duration
	}
	ents, _ := os.ReadDir("/proc")
	procs := map[int]proc{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')') // the command name may hold spaces
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
		if len(f) < 20 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid: ppid, key: procKey{pid, f[19]}, cpu: time.Duration(ut+st) * clockTick}
	}
	self := os.Getpid()
	out := map[procKey]time.Duration{}
	for _, p := range procs {
		for a, n := p.ppid, 0; a > 1 && n < 64; a, n = procs[a].ppid, n+1 {
			if a == self {
				out[p.key] = p.cpu
				break
			}
		}
	}
	return out
}
