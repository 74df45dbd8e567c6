package usage

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Supported: /proc tells the CPU time and memory of every process.
const Supported = true

// clockTicks is Linux's USER_HZ, the unit of /proc CPU times; it is 100 on
// every architecture Go supports.
const clockTicks = 100

// readSample reads /proc: the machine's busy time and the CPU time and
// resident memory of this process and every descendant (renderers and
// their sandboxes).
func readSample() sample {
	busy, ok := machineBusy()
	if !ok {
		return sample{}
	}
	self := os.Getpid()
	type proc struct {
		ppid      int
		cpu       float64
		rssPages  int64
		childTime float64
	}
	procs := map[int]proc{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return sample{}
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// The command name is in parentheses and may hold anything; the
		// fields that follow start after the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 22 {
			continue
		}
		// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15,
		// cutime 16, cstime 17, rss 24.
		num := func(k int) float64 { v, _ := strconv.ParseFloat(f[k-3], 64); return v }
		procs[pid] = proc{
			ppid:      int(num(4)),
			cpu:       (num(14) + num(15)) / clockTicks,
			childTime: (num(16) + num(17)) / clockTicks,
			rssPages:  int64(num(24)),
		}
	}
	// Walk up from every process to see whether it descends from us.
	ours := map[int]bool{self: true}
	var isOurs func(pid, depth int) bool
	isOurs = func(pid, depth int) bool {
		if v, ok := ours[pid]; ok {
			return v
		}
		p, ok := procs[pid]
		if !ok || depth > 64 || p.ppid == 0 {
			return false
		}
		v := isOurs(p.ppid, depth+1)
		ours[pid] = v
		return v
	}
	s := sample{busy: busy, samples: true}
	for pid, p := range procs {
		if !isOurs(pid, 0) {
			continue
		}
		s.ours += p.cpu
		s.rss += p.rssPages * int64(os.Getpagesize())
		if pid == self {
			s.ours += p.childTime // children that exited and were waited for
		}
	}
	return s
}

// machineBusy is the machine's total non-idle CPU time in seconds.
func machineBusy() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, false
	}
	var total, idle float64
	for i, s := range f[1:] {
		v, _ := strconv.ParseFloat(s, 64)
		if i >= 8 { // guest times are already counted in user and nice
			break
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return (total - idle) / clockTicks, true
}
