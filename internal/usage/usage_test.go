package usage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The machine counts as idle only after others have used less than
// busyShare of it for the whole idle time.
func TestIdleDetection(t *testing.T) {
	u := &Meter{}
	t0 := time.Unix(1_700_000_000, 0)
	cores := float64(runtime.NumCPU())
	sample := func(ours, busy float64) sample { return sample{ours: ours, busy: busy, samples: true} }
	// Others busy: half the machine.
	u.update(sample(0, 0), sample(0, cores), 2, t0)
	if u.IdleFor(0, t0) {
		t.Fatal("idle while others use half the machine")
	}
	// Our own renders keep the machine busy, others do not: idle.
	u.update(sample(0, cores), sample(2*cores, 3*cores), 2, t0.Add(2*time.Second))
	if u.IdleFor(time.Minute, t0.Add(30*time.Second)) || !u.IdleFor(time.Minute, t0.Add(62*time.Second)) {
		t.Fatal("idle time not counted from when others stopped")
	}
}

// Rendering processes the node starts count as the node's CPU use.
func TestUsageCountsChildProcesses(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU counters are read from /proc")
	}
	before := readSample()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	busy := exec.CommandContext(ctx, "sh", "-c", "i=0; while [ $i -lt 100000000 ]; do i=$((i+1)); done")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	defer busy.Process.Kill()
	// Wait until the child has used half a second of CPU, however busy
	// the machine is.
	for childCPU(t, busy.Process.Pid) < 0.5 {
		if ctx.Err() != nil {
			t.Fatal("the busy child did not use half a second of CPU in 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := readSample()
	if !after.samples || after.rss <= 0 {
		t.Fatalf("no counters: %+v", after)
	}
	if d := after.ours - before.ours; d < 0.4 {
		t.Fatalf("a child that used 0.5 CPU-s added %.2f CPU-s to the node's use", d)
	}
}

// childCPU is the CPU seconds process pid has used, from /proc.
func childCPU(t *testing.T, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command's closing parenthesis: state is field 3,
	// utime and stime fields 14 and 15, in clock ticks (100 per second).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}
